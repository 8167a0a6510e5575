import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { assertMailConfigured } from '../notifications/mailer.js';
import { registerOutboxMetrics } from './metrics.js';
import { createOutbox, type Outbox } from './outbox.js';
import { createOutboxRuntime, type OutboxRuntime } from './runtime.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** `outbox.enqueue(session, message)`: what every feature calls inside its transaction. */
    outbox: Outbox;
    outboxRuntime: OutboxRuntime;
  }
}

export interface OutboxPluginOptions {
  /** Run the worker and the sweeper in this process (the worker process always does). */
  run?: boolean;
}

/**
 * The outbox (DESIGN.md 9): `app.outbox` for writers, and the worker plus the hold sweeper, which
 * run in this process when OUTBOX_WORKER_INLINE is on (default in development) or when this is
 * the worker process (`npm run worker`, src/worker.ts).
 */
async function outboxPlugin(app: FastifyInstance, opts: OutboxPluginOptions): Promise<void> {
  const { config } = app;
  app.decorate(
    'outbox',
    createOutbox({ model: app.models.OutboxMessage, clock: app.clock, retryMs: config.OUTBOX_RETRY_HOURS * 3_600_000 }),
  );
  const metrics = app.metricsRegistry
    ? registerOutboxMetrics(app.metricsRegistry, app.models.OutboxMessage, () => app.clock.now())
    : undefined;
  const runtime = createOutboxRuntime(app, metrics);
  app.decorate('outboxRuntime', runtime);

  const run = opts.run ?? config.OUTBOX_WORKER_INLINE ?? config.NODE_ENV === 'development';
  if (!run) return;
  assertMailConfigured(config);
  app.addHook('onReady', async () => runtime.start());
  // Before the database plugin's onClose closes the connection (hooks run in reverse order).
  app.addHook('onClose', async () => runtime.stop());
}

export default fp(outboxPlugin, { name: 'outbox', dependencies: ['config', 'database'] });
