import 'dotenv/config';
import Fastify, { type FastifyInstance } from 'fastify';
import { ConfigError, type Config, loadConfig } from './config.js';
import { systemClock } from './lib/clock.js';
import { loggerOptions } from './lib/logger.js';
import outbox from './outbox/plugin.js';
import core from './plugins/core.js';
import database from './plugins/database.js';

/**
 * `npm run worker`: the outbox worker and the hold sweeper as a process of their own (production
 * runs the API with OUTBOX_WORKER_INLINE off and one or more of these). No HTTP: it only needs the
 * database. Any number may run; leases keep them from delivering one message twice at once.
 */
export async function buildWorker(config: Config): Promise<FastifyInstance> {
  const app = Fastify({ logger: loggerOptions(config) });
  await app.register(core, { config, clock: systemClock });
  await app.register(database, {});
  await app.register(outbox, { run: true });
  await app.ready();
  return app;
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.MONGODB_URI) throw new ConfigError(['MONGODB_URI: the worker needs the database of the API (npm start runs a worker in-process instead)']);
  const app = await buildWorker(config);
  app.log.info('outbox worker running');
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'worker stopping: finishing the deliveries in hand');
    const force = setTimeout(() => process.exit(1), config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (/worker\.(ts|js)$/.test(process.argv[1] ?? '')) {
  main().catch((err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  });
}
