import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ClientSession, Types } from 'mongoose';
import { Gauge } from 'prom-client';
import type { BookingPayments } from '../bookings/types.js';
import { invalidateEventCache } from '../events/cache.js';
import { type BreakerState, createBreaker, type ProviderBreaker } from './breaker.js';
import { FakeProvider } from './fake-provider.js';
import type { PaymentProvider } from './provider.js';
import { RefundWorker } from './refunds.js';
import { bookingPayments, eventCancelled } from './service.js';
import { stripeProvider } from './stripe-provider.js';
import type { PaymentsDeps } from './types.js';

/**
 * Payments of one app (issue 16): the provider PAYMENT_PROVIDER names, its circuit breaker, the
 * refund worker, and the two call sites bookings and events use. `app.payments` is null with
 * PAYMENT_PROVIDER=none, so nothing else changes for manual payment.
 */

export interface PaymentsRuntime {
  deps: PaymentsDeps;
  provider: PaymentProvider;
  /** The built-in provider when it runs (tests drive 3-D Secure, late settlements and outages). */
  fake: FakeProvider | null;
  breaker: ProviderBreaker;
  refunds: RefundWorker;
  forBookings: BookingPayments;
  eventCancelled(eventId: Types.ObjectId | string, session: ClientSession): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    payments: PaymentsRuntime | null;
  }
}

export const WEBHOOK_PATH = '/api/v1/payments/webhooks';
const BREAKER_CODES: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };
const REFUND_LEASE_MS = 60_000;
const REFUND_POLL_MS = 2_000;

function providerOf(app: FastifyInstance): PaymentProvider | null {
  const c = app.config;
  switch (c.PAYMENT_PROVIDER) {
    case 'fake':
      return new FakeProvider({ lateSettleMs: c.FAKE_PAYMENT_SETTLE_MS || null, duplicateRate: c.FAKE_PAYMENT_DUPLICATE_RATE });
    case 'stripe':
      // config.ts refuses `stripe` without both secrets, naming the missing one.
      return stripeProvider({
        secretKey: c.STRIPE_SECRET_KEY ?? '',
        webhookSecret: c.STRIPE_WEBHOOK_SECRET ?? '',
        apiBaseUrl: c.STRIPE_API_BASE_URL,
        timeoutMs: c.PAYMENT_PROVIDER_TIMEOUT_MS,
      });
    default:
      return null;
  }
}

async function payments(app: FastifyInstance): Promise<void> {
  const provider = providerOf(app);
  if (!provider) {
    app.decorate('payments', null);
    return;
  }
  const c = app.config;
  const breaker = createBreaker(
    {
      timeoutMs: c.PAYMENT_PROVIDER_TIMEOUT_MS,
      resetMs: c.PAYMENT_BREAKER_RESET_MS,
      errorThresholdPercentage: c.PAYMENT_BREAKER_ERROR_PERCENT,
      volumeThreshold: c.PAYMENT_BREAKER_MIN_CALLS,
    },
    (state) => app.log.warn({ provider: provider.name, state }, 'payment provider circuit breaker changed state'),
  );
  let refunds: RefundWorker | null = null;
  const deps: PaymentsDeps = {
    db: app.db,
    models: app.models,
    clock: app.clock,
    log: app.log,
    ticketKeys: app.ticketKeys,
    provider,
    breaker,
    txTimeoutMs: c.BOOKING_TX_TIMEOUT_MS,
    salesChanged: (eventId) => invalidateEventCache(app.kv, eventId, app.log),
    refundQueued: () => refunds?.kick(),
  };
  refunds = new RefundWorker(deps, { leaseMs: REFUND_LEASE_MS, pollMs: REFUND_POLL_MS });
  const fake = provider instanceof FakeProvider ? provider : null;
  // The fake sends its webhooks to our own route, through the whole HTTP pipeline.
  fake?.connect(async (body, headers) => {
    const res = await app.inject({ method: 'POST', url: `${WEBHOOK_PATH}/fake`, payload: body, headers });
    return res.statusCode;
  });

  const runtime: PaymentsRuntime = {
    deps,
    provider,
    fake,
    breaker,
    refunds,
    forBookings: bookingPayments(deps),
    eventCancelled: (eventId, session) => eventCancelled(deps, eventId, session),
  };
  app.decorate('payments', runtime);

  if (app.metricsRegistry) {
    new Gauge({
      name: 'ticketing_payment_breaker_state',
      help: 'Circuit breaker of the payment provider: 0 closed, 1 half-open, 2 open',
      labelNames: ['provider'] as const,
      registers: [app.metricsRegistry],
      collect() {
        this.set({ provider: provider.name }, BREAKER_CODES[breaker.state()]);
      },
    });
  }

  const worker = refunds;
  app.addHook('onReady', async () => worker.start());
  app.addHook('onClose', async () => {
    provider.close?.();
    await worker.stop();
    breaker.close();
  });
}

export default fp(payments, { name: 'payments', dependencies: ['config', 'database'] });
