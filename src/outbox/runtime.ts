import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { refreshListedAvailability } from '../events/listing-refresh.js';
import { createMailer, type Mailer } from '../notifications/mailer.js';
import { deliverEmail } from '../notifications/emails.js';
import { deliverWebhook } from '../webhooks/delivery.js';
import { fanOut } from './fan-out.js';
import { acquireJobLease, releaseJobLease } from './job-lease.js';
import type { OutboxMetrics } from './metrics.js';
import { sweepHolds } from './sweeper.js';
import { OutboxWorker, type WorkerSettings } from './worker.js';

const SWEEPER_JOB = 'hold-sweeper';

/** Everything that delivers: the worker(s), the mailer they share, and the hold sweeper's loop. */
export interface OutboxRuntime {
  /** The worker this process runs (started by start()). */
  worker: OutboxWorker;
  /** Another worker on the same database (tests run two against one database). */
  createWorker(overrides?: Partial<WorkerSettings>): OutboxWorker;
  /** One sweep, if this instance gets the sweeper's lease; null when another instance holds it. */
  sweepOnce(): Promise<{ reminded: number; expired: number } | null>;
  start(): void;
  stop(): Promise<void>;
}

export function createOutboxRuntime(app: FastifyInstance, metrics: OutboxMetrics | undefined): OutboxRuntime {
  const { config, models, clock } = app;
  const log = app.log.child({ component: 'outbox' });
  const retryMs = config.OUTBOX_RETRY_HOURS * 3_600_000;
  let mailer: Mailer | undefined;
  const mail = () => (mailer ??= createMailer(config, log));

  const createWorker = (overrides: Partial<WorkerSettings> = {}) =>
    new OutboxWorker({
      model: models.OutboxMessage,
      clock,
      log,
      leaseMs: config.OUTBOX_LEASE_SECONDS * 1000,
      pollMs: config.OUTBOX_POLL_MS,
      concurrency: config.OUTBOX_CONCURRENCY,
      onFailure: metrics ? (kind, final) => metrics.failure(kind, final) : undefined,
      handlers: {
        message: (row) => fanOut({ models, clock, retryMs }, row),
        email: (row) => deliverEmail({ models, mailer: mail(), log, messageIdDomain: 'tickets.invalid' }, row),
        webhook: (row) => deliverWebhook({ models, timeoutMs: config.WEBHOOK_TIMEOUT_MS, allowPrivate: config.WEBHOOKS_ALLOW_PRIVATE }, row),
      },
      ...overrides,
    });
  const worker = createWorker();
  const sweepMs = config.HOLD_SWEEP_SECONDS * 1000;
  // Long enough to cover a slow sweep; a crashed holder's lease frees itself after this.
  const sweepLeaseMs = Math.max(2 * sweepMs, 30_000);
  const sweeperDeps = {
    db: app.db,
    models,
    outbox: app.outbox,
    clock,
    log,
    reminderLeadMs: config.HOLD_REMINDER_SECONDS * 1000,
    waitlistOfferMs: config.WAITLIST_OFFER_SECONDS * 1000,
    txTimeoutMs: config.BOOKING_TX_TIMEOUT_MS,
  };

  const sweepOnce = async () => {
    if (!(await acquireJobLease(models.JobLease, SWEEPER_JOB, worker.id, clock.now(), sweepLeaseMs))) return null;
    const swept = await sweepHolds(sweeperDeps);
    // Under the same lease: the listing projections whose holds ran out (events/listing-refresh.ts);
    // most were already written again by the sweep's own transactions, this takes the rest.
    await refreshListedAvailability(sweeperDeps);
    return swept;
  };

  let sweeping: Promise<void> | undefined;
  const stopSweeping = new AbortController();

  return {
    worker,
    createWorker,
    sweepOnce,
    start() {
      worker.start();
      sweeping ??= (async () => {
        while (!stopSweeping.signal.aborted) {
          try {
            await sweepOnce();
          } catch (err) {
            log.warn({ err }, 'hold sweep failed; next run tries again');
          }
          await sleep(sweepMs, undefined, { signal: stopSweeping.signal }).catch(() => undefined);
        }
      })();
    },
    async stop() {
      stopSweeping.abort();
      await Promise.all([worker.stop(), sweeping]);
      if (sweeping) await releaseJobLease(models.JobLease, SWEEPER_JOB, worker.id, clock.now()).catch(() => undefined);
      mailer?.close();
    },
  };
}
