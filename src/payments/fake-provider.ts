import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CreatePaymentInput, PaymentProvider, PaymentStatus, ProviderPayment, ProviderRefund, RefundInput } from './provider.js';
import { signStripeFormat, verifyStripeFormat } from './stripe-events.js';

/**
 * The built-in provider for development and tests (PAYMENT_PROVIDER=fake; production refuses it).
 * It behaves like Stripe test mode: test payment methods settle the way Stripe's test cards do, and
 * every change is announced by a webhook in Stripe's format, signed with the fake's own secret and
 * sent to our webhook route at least once, sometimes twice and in no promised order.
 */

/** Test payment methods, named like Stripe's (plus one that settles late, as slow methods do). */
export const FAKE_METHODS = {
  pm_card_visa: 'succeeded',
  pm_card_mastercard: 'succeeded',
  pm_card_chargeDeclined: 'failed',
  pm_card_threeDSecure2Required: 'requires_action',
  pm_card_processing: 'processing',
} as const satisfies Record<string, PaymentStatus>;

export interface FakeIntent {
  id: string;
  amount: number;
  currency: string;
  status: PaymentStatus;
  metadata: { paymentId: string; bookingId: string };
  amountRefunded: number;
  failureReason: string | null;
}

/** Sends one signed webhook to our endpoint; answers the HTTP status. */
export type WebhookSender = (body: string, headers: Record<string, string>) => Promise<number>;

export interface FakeProviderOptions {
  /** After how long a `pm_card_processing` payment succeeds by itself; null: only settle() does. */
  lateSettleMs: number | null;
  /** The chance (0-1) that a webhook is delivered a second time. */
  duplicateRate: number;
  random?: () => number;
}

const DELIVERY_ATTEMPTS = 6;
const DECLINED = 'Your card was declined.';

export class FakeProvider implements PaymentProvider {
  readonly name = 'fake' as const;
  /** Signs and verifies this fake's webhooks (per process: nothing outside knows it). */
  readonly webhookSecret = `whsec_fake_${randomBytes(16).toString('hex')}`;
  /** `auto` delivers webhooks by itself; `manual` keeps them in `outbox` until flush() (tests). */
  delivery: 'auto' | 'manual' = 'auto';
  readonly outbox: string[] = [];
  /** Simulated outage: every call fails (after `latencyMs`), as a provider that is down would. */
  down = false;
  latencyMs = 0;
  calls = 0;
  /** Refunds really made (a repeated key answers the first refund and is not counted). */
  refundsMade = 0;
  readonly intents = new Map<string, FakeIntent>();
  private readonly keys = new Map<string, { request: string; answer: unknown }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private sender: WebhookSender | null = null;
  private sequence = 0;
  private readonly random: () => number;

  constructor(private readonly options: FakeProviderOptions) {
    this.random = options.random ?? Math.random;
  }

  /** Where webhooks go (plugin.ts points it at our own route once the app exists). */
  connect(sender: WebhookSender): void {
    this.sender = sender;
  }

  private nextId(prefix: string): string {
    return `${prefix}_fake_${(++this.sequence).toString(36)}${randomBytes(4).toString('hex')}`;
  }

  private async call(): Promise<void> {
    this.calls++;
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    if (this.down) throw new Error('fake payment provider unavailable');
  }

  /** Stripe's idempotency: the same key with the same request answers the first answer again. */
  private once<T>(key: string, request: unknown, make: () => T): T {
    const text = JSON.stringify(request);
    const earlier = this.keys.get(key);
    if (earlier) {
      if (earlier.request !== text) throw new Error('Keys for idempotent requests can only be used with the same parameters');
      return earlier.answer as T;
    }
    const answer = make();
    this.keys.set(key, { request: text, answer });
    return answer;
  }

  async createPayment(input: CreatePaymentInput, idempotencyKey: string): Promise<ProviderPayment> {
    await this.call();
    const intent = this.once(idempotencyKey, input, () => {
      const method = input.paymentMethod;
      const known = method ? (FAKE_METHODS as Record<string, PaymentStatus>)[method] : undefined;
      const created: FakeIntent = {
        id: this.nextId('pi'),
        amount: input.amount,
        currency: input.currency,
        status: method === undefined ? 'requires_payment_method' : (known ?? 'failed'),
        metadata: { paymentId: input.paymentId, bookingId: input.bookingId },
        amountRefunded: 0,
        failureReason: null,
      };
      if (created.status === 'failed') created.failureReason = known ? DECLINED : `No such test payment method: ${method}`;
      this.intents.set(created.id, created);
      if (created.status !== 'requires_payment_method') this.announce(created);
      if (created.status === 'processing' && this.options.lateSettleMs !== null) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.settle(created.id);
        }, this.options.lateSettleMs);
        timer.unref();
        this.timers.add(timer);
      }
      return created;
    });
    return {
      providerPaymentId: intent.id,
      status: intent.status === 'refunded' ? 'succeeded' : intent.status,
      clientSecret: `${intent.id}_secret_fake`,
      failureReason: intent.failureReason,
    };
  }

  async refund(input: RefundInput, idempotencyKey: string): Promise<ProviderRefund> {
    await this.call();
    return this.once(idempotencyKey, input, () => {
      const intent = this.intents.get(input.providerPaymentId);
      if (!intent || (intent.status !== 'succeeded' && intent.status !== 'refunded')) {
        throw new Error(`No refundable payment ${input.providerPaymentId}`);
      }
      if (intent.amountRefunded + input.amount > intent.amount) throw new Error('Refund exceeds the amount charged');
      intent.amountRefunded += input.amount;
      this.refundsMade++;
      if (intent.amountRefunded === intent.amount) intent.status = 'refunded';
      this.emit('charge.refunded', {
        id: this.nextId('ch'),
        object: 'charge',
        payment_intent: intent.id,
        amount_refunded: intent.amountRefunded,
        metadata: intent.metadata,
      });
      return { refundId: this.nextId('re'), status: 'succeeded' as const };
    });
  }

  verifyWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>) {
    return verifyStripeFormat(rawBody, headers['fake-signature'], this.webhookSecret);
  }

  /** The buyer passes 3-D Secure (or fails it) for a payment waiting on it. */
  authenticate(providerPaymentId: string, passes = true): void {
    const intent = this.intents.get(providerPaymentId);
    if (!intent || intent.status !== 'requires_action') throw new Error(`${providerPaymentId} is not waiting for authentication`);
    intent.status = passes ? 'succeeded' : 'failed';
    intent.failureReason = passes ? null : 'The buyer failed authentication.';
    this.announce(intent);
  }

  /** A processing payment succeeds (late, as slow payment methods do). */
  settle(providerPaymentId: string): void {
    const intent = this.intents.get(providerPaymentId);
    if (!intent || intent.status !== 'processing') return;
    intent.status = 'succeeded';
    this.announce(intent);
  }

  /** What the buyer has been charged and not given back, per payment (tests' ledger). */
  netCharged(providerPaymentId: string): number {
    const intent = this.intents.get(providerPaymentId);
    if (!intent || (intent.status !== 'succeeded' && intent.status !== 'refunded')) return 0;
    return intent.amount - intent.amountRefunded;
  }

  private announce(intent: FakeIntent): void {
    const type = {
      succeeded: 'payment_intent.succeeded',
      failed: 'payment_intent.payment_failed',
      requires_action: 'payment_intent.requires_action',
      processing: 'payment_intent.processing',
    }[intent.status as 'succeeded' | 'failed' | 'requires_action' | 'processing'];
    if (!type) return;
    this.emit(type, {
      id: intent.id,
      object: 'payment_intent',
      amount: intent.amount,
      currency: intent.currency.toLowerCase(),
      status: intent.status === 'failed' ? 'requires_payment_method' : intent.status,
      metadata: intent.metadata,
      last_payment_error: intent.failureReason ? { message: intent.failureReason } : null,
    });
  }

  private emit(type: string, object: Record<string, unknown>): void {
    const body = JSON.stringify({
      id: this.nextId('evt'),
      object: 'event',
      type,
      created: Math.floor(Date.now() / 1000),
      data: { object },
    });
    if (this.delivery === 'manual') {
      this.outbox.push(body);
      return;
    }
    this.track(this.deliver(body, this.random() * 20));
    // At least once: sometimes twice, the second copy racing the first.
    if (this.random() < this.options.duplicateRate) this.track(this.deliver(body, this.random() * 40));
  }

  private track(delivery: Promise<void>): void {
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
  }

  /** Signs and posts one body, retrying with backoff until our endpoint answers 2xx. */
  async deliver(body: string, delayMs = 0): Promise<void> {
    if (delayMs > 0) await sleep(delayMs);
    for (let attempt = 1; attempt <= DELIVERY_ATTEMPTS && this.sender; attempt++) {
      const headers = { 'content-type': 'application/json', 'fake-signature': signStripeFormat(body, this.webhookSecret) };
      const status = await this.sender(body, headers).catch(() => 0);
      if (status >= 200 && status < 300) return;
      await sleep(50 * 2 ** attempt);
    }
  }

  /** Manual mode: delivers what is waiting, in the given order (tests shuffle and duplicate). */
  async flush(order: (bodies: string[]) => string[] = (b) => b): Promise<void> {
    const bodies = order(this.outbox.splice(0));
    for (const body of bodies) await this.deliver(body);
  }

  /** Waits for every delivery under way (auto mode). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.sender = null;
  }
}
