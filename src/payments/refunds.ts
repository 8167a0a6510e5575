import type { PaymentFields } from './payment.model.js';
import { applyInTransaction, applyReport } from './settle.js';
import type { PaymentsDeps } from './types.js';

/**
 * The refund worker: runs the refund jobs that transactions queued (settle.ts queueRefund), at
 * least once each. A job is claimed by pushing its `runAt` out by the lease, so a process that dies
 * mid-refund leaves it to the next worker once the lease runs out; the provider's idempotency key
 * (`refund_<paymentId>`) makes the repeat a no-op there, so a payment is never refunded twice.
 *
 * Kept in src/payments on purpose: once the transactional outbox (DESIGN.md 9) lands, a refund job
 * becomes an outbox message of the same id and this worker its handler.
 */

export interface RefundWorkerOptions {
  leaseMs: number;
  pollMs: number;
}

const MAX_BACKOFF_MS = 5 * 60_000;

interface JobDoc {
  _id: string;
  paymentId: PaymentFields['_id'];
  attempts: number;
}

export class RefundWorker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private again = false;

  constructor(
    private readonly deps: PaymentsDeps,
    private readonly options: RefundWorkerOptions,
  ) {}

  start(): void {
    if (this.timer || !this.deps.provider) return;
    this.timer = setInterval(() => this.kick(), this.options.pollMs);
    this.timer.unref();
  }

  /** Stops polling and waits for a drain under way (app close). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** Runs due jobs soon; coalesces with a drain already under way. */
  kick(): void {
    void this.drain().catch((err: unknown) => this.deps.log.error({ err }, 'refund worker failed'));
  }

  /** Runs every due job; answers how many it finished. One drain at a time per process. */
  drain(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let finished = 0;
      do {
        this.again = false;
        for (let job = await this.claim(); job; job = await this.claim()) {
          if (await this.run(job)) finished++;
        }
      } while (this.again);
      return finished;
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Jobs still queued (tests and the health detail). */
  pending(): Promise<number> {
    return this.deps.models.PaymentJob.countDocuments({ state: 'queued' });
  }

  private async claim(): Promise<JobDoc | null> {
    const now = new Date();
    return this.deps.models.PaymentJob.findOneAndUpdate(
      { state: 'queued', runAt: { $lte: now } },
      { $set: { runAt: new Date(now.getTime() + this.options.leaseMs) }, $inc: { attempts: 1 } },
      { new: true, sort: { runAt: 1 } },
    ).lean<JobDoc>();
  }

  private async finish(job: JobDoc, state: 'done' | 'failed', lastError: string | null = null): Promise<void> {
    await this.deps.models.PaymentJob.updateOne({ _id: job._id }, { $set: { state, lastError, doneAt: new Date() } });
  }

  private async run(job: JobDoc): Promise<boolean> {
    const { deps } = this;
    const payment = await deps.models.Payment.findById(job.paymentId).lean<PaymentFields>();
    if (!payment || payment.status === 'refunded') {
      await this.finish(job, 'done');
      return true;
    }
    if (!deps.provider || !payment.providerPaymentId || payment.status !== 'succeeded') {
      await this.finish(job, 'failed', `payment is ${payment.status}, not refundable`);
      return true;
    }
    const { provider } = deps;
    const providerPaymentId = payment.providerPaymentId;
    let refund;
    try {
      // Always the full amount under the same key, so every retry is the same request to the provider.
      refund = await deps.breaker.run(() => provider.refund({ providerPaymentId, amount: payment.amount }, `refund_${String(payment._id)}`));
    } catch (err) {
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(job.attempts, 12));
      await deps.models.PaymentJob.updateOne(
        { _id: job._id, state: 'queued' },
        { $set: { runAt: new Date(Date.now() + backoff), lastError: err instanceof Error ? err.message : String(err) } },
      );
      deps.log.warn({ paymentId: String(payment._id), attempts: job.attempts }, 'refund failed; will retry');
      return false;
    }
    if (refund.status === 'failed') {
      deps.log.error({ paymentId: String(payment._id), refundId: refund.refundId }, 'the provider refused a refund; needs a person');
      await this.finish(job, 'failed', 'refused by the provider');
      return true;
    }
    if (refund.status === 'succeeded') {
      await applyInTransaction(deps, (session) =>
        applyReport(deps, payment._id, { status: 'refunded', amountRefunded: payment.amount }, session),
      );
    }
    // A pending refund is finished by the provider's webhook (charge.refunded).
    await this.finish(job, 'done');
    return true;
  }
}
