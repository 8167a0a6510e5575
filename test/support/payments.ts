import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { bearer } from '../fixtures/accounts.js';
import type { FakeProvider } from '../../src/payments/fake-provider.js';
import { signStripeFormat } from '../../src/payments/stripe-events.js';
import { LocalStripeApi } from './stripe-api.js';

/**
 * One way to drive each payment provider from the tests, so every end-to-end flow runs against the
 * built-in fake and against the real Stripe SDK talking to the local Stripe API. The test decides
 * when webhooks arrive (both keep them until flush()), so orders and repeats are the test's.
 */
export interface PaymentsDriver {
  readonly name: 'fake' | 'stripe';
  env(): Record<string, string>;
  attach(app: FastifyInstance): void;
  /** Webhook bodies the provider has produced and not yet delivered (taken out of its queue). */
  take(): string[];
  /** Headers that sign `body` as the provider does (`timestamp` in seconds for an old one). */
  signed(body: string, timestamp?: number): Record<string, string>;
  authenticate(providerPaymentId: string): void;
  settle(providerPaymentId: string): void;
  setDown(down: boolean): void;
  netCharged(providerPaymentId: string): number;
  intentsCreated(): number;
  /** Refunds the provider really made (replays of a key excluded). */
  refundsCreated(): number;
  providerCalls(): number;
  stop(): Promise<void>;
}

export function fakeDriver(): PaymentsDriver {
  let fake: FakeProvider;
  return {
    name: 'fake',
    env: () => ({ PAYMENT_PROVIDER: 'fake', FAKE_PAYMENT_SETTLE_MS: '0', FAKE_PAYMENT_DUPLICATE_RATE: '0' }),
    attach(app) {
      const f = app.payments?.fake;
      if (!f) throw new Error('the fake provider is not running');
      fake = f;
      fake.delivery = 'manual';
    },
    take: () => fake.outbox.splice(0),
    signed: (body, timestamp) => ({ 'content-type': 'application/json', 'fake-signature': signStripeFormat(body, fake.webhookSecret, timestamp) }),
    authenticate: (id) => fake.authenticate(id),
    settle: (id) => fake.settle(id),
    setDown: (down) => {
      fake.down = down;
    },
    netCharged: (id) => fake.netCharged(id),
    intentsCreated: () => fake.intents.size,
    refundsCreated: () => fake.refundsMade,
    providerCalls: () => fake.calls,
    stop: async () => undefined,
  };
}

export async function stripeDriver(): Promise<PaymentsDriver> {
  const api = new LocalStripeApi();
  await api.start();
  return {
    name: 'stripe',
    env: () => ({
      PAYMENT_PROVIDER: 'stripe',
      STRIPE_SECRET_KEY: api.secretKey,
      STRIPE_WEBHOOK_SECRET: api.webhookSecret,
      STRIPE_API_BASE_URL: api.baseUrl,
    }),
    attach: () => undefined,
    take: () => api.events.splice(0),
    signed: (body, timestamp) => ({ 'content-type': 'application/json', 'stripe-signature': api.sign(body, timestamp) }),
    authenticate: (id) => api.authenticate(id),
    settle: (id) => api.settle(id),
    setDown: (down) => {
      api.mode = down ? 'down' : 'up';
    },
    netCharged: (id) => api.netCharged(id),
    intentsCreated: () => api.created.intents,
    refundsCreated: () => api.created.refunds,
    providerCalls: () => api.calls,
    stop: () => api.stop(),
  };
}

export function deliver(app: FastifyInstance, driver: PaymentsDriver, body: string, headers = driver.signed(body)): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: `/api/v1/payments/webhooks/${driver.name}`, headers, payload: body });
}

/** Delivers every waiting webhook in order; answers their outcomes. */
export async function flush(app: FastifyInstance, driver: PaymentsDriver): Promise<string[]> {
  const outcomes: string[] = [];
  for (const body of driver.take()) {
    const res = await deliver(app, driver, body);
    if (res.statusCode !== 200) throw new Error(`webhook answered ${res.statusCode}: ${res.body}`);
    outcomes.push(res.json<{ data: { outcome: string } }>().data.outcome);
  }
  return outcomes;
}

export interface PaymentBody {
  id: string;
  bookingId: string;
  provider: string;
  providerPaymentId: string | null;
  amount: number;
  currency: string;
  status: string;
  clientSecret: string | null;
  failureReason: string | null;
  refundedAmount: number;
}

export function pay(
  app: FastifyInstance,
  token: string,
  bookingId: string,
  paymentMethod?: string,
  key: string = randomUUID(),
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: `/api/v1/bookings/${bookingId}/payments`,
    headers: { ...bearer(token), 'idempotency-key': key },
    payload: paymentMethod ? { paymentMethod } : {},
  });
}

export const paymentOf = (res: LightMyRequestResponse) => res.json<{ data: PaymentBody }>().data;

export async function bookingNow(app: FastifyInstance, token: string, bookingId: string) {
  const res = await app.inject({ method: 'GET', url: `/api/v1/bookings/${bookingId}`, headers: bearer(token) });
  if (res.statusCode !== 200) throw new Error(`booking: ${res.statusCode} ${res.body}`);
  return res.json<{
    data: {
      status: string;
      totalPrice: number;
      tickets: { number: string }[];
      failureReason: string | null;
      payment: { id: string; status: string; amount: number; clientSecret: string | null } | null;
    };
  }>().data;
}

/** Runs the refund jobs now, then delivers what the refunds announced. */
export async function settleRefunds(app: FastifyInstance, driver: PaymentsDriver): Promise<void> {
  // Refunds are queued inside transactions and woken after commit; drain until nothing is due.
  for (let round = 0; round < 5; round++) {
    await app.payments?.refunds.drain();
    if ((await app.payments?.refunds.pending()) === 0) break;
  }
  await flush(app, driver);
}
