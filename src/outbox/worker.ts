import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../lib/clock.js';
import { retryDelayMs } from './backoff.js';
import { DeliveryError } from './errors.js';
import type { OutboxFields, OutboxModel } from './message.model.js';
import type { DeliveryKind } from './types.js';

/** Delivers one row; resolves when delivered, throws to have it retried (DeliveryError for details). */
export type DeliveryHandler = (row: OutboxFields) => Promise<DeliveryResult | void>;
export interface DeliveryResult {
  /** The receiver's answer, shown in the webhook's delivery list. */
  statusCode?: number;
}

export interface WorkerSettings {
  model: OutboxModel;
  clock: Clock;
  log: FastifyBaseLogger;
  handlers: Record<DeliveryKind, DeliveryHandler>;
  leaseMs: number;
  pollMs: number;
  concurrency: number;
  /** Tests pin the jitter. */
  random?: () => number;
  /** Counts each attempt that failed, by kind (metrics). */
  onFailure?: (kind: DeliveryKind, finalFailure: boolean) => void;
}

export interface WorkerStats {
  delivered: number;
  retried: number;
  failed: number;
  /** Settles refused because the lease had passed to another worker. */
  lostLeases: number;
}

/**
 * The outbox worker: claims due rows under a lease, delivers them, and records the outcome.
 * Several workers (processes or instances) may run against one database: the claim is one atomic
 * findOneAndUpdate, so a row is only ever in one worker's hands at a time (see message.model.ts).
 */
export class OutboxWorker {
  readonly id = randomUUID();
  readonly stats: WorkerStats = { delivered: 0, retried: 0, failed: 0, lostLeases: 0 };
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly settings: WorkerSettings) {}

  /** Claims the oldest due row, or null. The lease is `nextAttemptAt` moved to the lease's end. */
  async claim(): Promise<{ row: OutboxFields; token: string } | null> {
    const { model, clock, leaseMs } = this.settings;
    const now = clock.now();
    const token = `${this.id}:${randomUUID()}`;
    const row = await model
      .findOneAndUpdate(
        { status: 'pending', nextAttemptAt: { $lte: now } },
        { $set: { nextAttemptAt: new Date(now.getTime() + leaseMs), leaseToken: token, updatedAt: now }, $inc: { attempts: 1 } },
        { sort: { nextAttemptAt: 1, _id: 1 }, new: true, timestamps: false },
      )
      .lean<OutboxFields>();
    return row ? { row, token } : null;
  }

  /** Delivers one claimed row and settles it: delivered, retried later, or failed for good. */
  async deliver(row: OutboxFields, token: string): Promise<void> {
    const { model, clock, handlers, log } = this.settings;
    let result: DeliveryResult | void;
    try {
      result = await handlers[row.kind](row);
    } catch (err) {
      await this.settleFailure(row, token, err);
      return;
    }
    const now = clock.now();
    const done = await model.updateOne(
      { _id: row._id, leaseToken: token },
      {
        $set: { status: 'delivered', deliveredAt: now, leaseToken: null, lastError: null, lastStatusCode: result?.statusCode ?? null, updatedAt: now },
      },
      { timestamps: false },
    );
    if (done.modifiedCount === 1) this.stats.delivered++;
    else this.lostLease(row);
    log.debug({ outboxId: String(row._id), kind: row.kind, type: row.type }, 'outbox row delivered');
  }

  private async settleFailure(row: OutboxFields, token: string, err: unknown): Promise<void> {
    const { model, clock, log, random } = this.settings;
    const now = clock.now();
    const details = err instanceof DeliveryError ? err.options : {};
    const message = err instanceof Error ? err.message : String(err);
    const next = new Date(now.getTime() + retryDelayMs(row.attempts, random));
    const final = details.permanent === true || next.getTime() > row.retryUntil.getTime();
    const settled = await model.updateOne(
      { _id: row._id, leaseToken: token },
      {
        $set: {
          status: final ? 'failed' : 'pending',
          nextAttemptAt: final ? now : next,
          failedAt: final ? now : null,
          leaseToken: null,
          lastError: message.slice(0, 500),
          lastStatusCode: details.statusCode ?? null,
          updatedAt: now,
        },
      },
      { timestamps: false },
    );
    if (settled.modifiedCount !== 1) return this.lostLease(row);
    this.settings.onFailure?.(row.kind, final);
    if (final) this.stats.failed++;
    else this.stats.retried++;
    const level = final ? 'warn' : 'info';
    log[level]({ outboxId: String(row._id), kind: row.kind, type: row.type, attempts: row.attempts, err: message, final }, 'outbox delivery failed');
  }

  private lostLease(row: OutboxFields): void {
    // Another worker holds the row now (our lease ran out mid-delivery); its outcome stands.
    this.stats.lostLeases++;
    this.settings.log.warn({ outboxId: String(row._id), kind: row.kind }, 'outbox lease lost before the delivery was recorded');
  }

  /** Claims and delivers up to `concurrency` rows at once; answers how many it handled. */
  async runOnce(): Promise<number> {
    // One claim first: an idle worker then costs one query per poll, not `concurrency` of them.
    const first = await this.claim();
    if (!first) return 0;
    const more = await Promise.all(Array.from({ length: this.settings.concurrency - 1 }, () => this.claim()));
    const claimed = [first, ...more.filter((c): c is NonNullable<typeof c> => c !== null)];
    await Promise.all(claimed.map(({ row, token }) => this.deliver(row, token)));
    return claimed.length;
  }

  /** Delivers until nothing is due (tests, and the loop below). */
  async drain(maxRounds = 1000): Promise<number> {
    let total = 0;
    for (let round = 0; round < maxRounds; round++) {
      const handled = await this.runOnce();
      total += handled;
      if (handled === 0) break;
    }
    return total;
  }

  /** Polls until stop(): straight on while there is work, every pollMs when idle. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        let handled = 0;
        try {
          handled = await this.runOnce();
        } catch (err) {
          // The database away: keep polling, the rows wait for us (they are committed data).
          this.settings.log.warn({ err }, 'outbox worker round failed');
        }
        if (handled === 0 && this.running) await this.idle();
      }
    })();
  }

  /** Wakes an idle worker now (the in-process worker after a commit it saw). */
  nudge(): void {
    this.wake?.();
  }

  private async idle(): Promise<void> {
    const controller = new AbortController();
    this.wake = () => controller.abort();
    await sleep(this.settings.pollMs, undefined, { signal: controller.signal }).catch(() => undefined);
    this.wake = undefined;
  }

  /** Stops polling and waits for the deliveries in hand to settle. */
  async stop(): Promise<void> {
    this.running = false;
    this.nudge();
    await this.loop;
  }
}
