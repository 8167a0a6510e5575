import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';
import { bookingNow, pay, paymentOf } from './support/payments.js';

/**
 * The built-in fake provider on its own: it delivers its webhooks by itself, at least once and here
 * always twice (duplicate rate 1) in no promised order, settles slow payments after a delay, and a
 * provider slower than PAYMENT_PROVIDER_TIMEOUT_MS is cut off by the breaker's timeout (503).
 */
let t: TestApp;
let organizer: TestAccount;
let buyer: TestAccount;

beforeAll(async () => {
  t = await buildTestApp({
    env: {
      PAYMENT_PROVIDER: 'fake',
      FAKE_PAYMENT_DUPLICATE_RATE: '1',
      FAKE_PAYMENT_SETTLE_MS: '150',
      PAYMENT_PROVIDER_TIMEOUT_MS: '200',
      ACCESS_TOKEN_TTL_SECONDS: String(86_400),
    },
  });
  [organizer, buyer] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app)]);
});
afterAll(() => t.close());

async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('the fake provider', () => {
  it('settles a slow payment by itself and delivers its webhooks twice: one confirmation', async () => {
    const fake = t.app.payments?.fake;
    expect(fake).toBeTruthy();
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 5 });
    const b = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 2 }));
    const p = paymentOf(await pay(t.app, buyer.accessToken, b.id, 'pm_card_processing'));
    expect(p.status).toBe('processing');
    await until(async () => (await bookingNow(t.app, buyer.accessToken, b.id)).status === 'confirmed');
    await fake?.idle();
    const recorded = await t.app.models.PaymentProviderEvent.countDocuments({ paymentId: p.id });
    // processing + succeeded, each recorded once although each arrived twice.
    expect(recorded).toBe(2);
    expect((await bookingNow(t.app, buyer.accessToken, b.id)).tickets).toHaveLength(2);
  });

  it('a provider slower than the timeout answers 503 and keeps the hold', async () => {
    const fake = t.app.payments?.fake;
    if (!fake) throw new Error('no fake');
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 1 }));
    fake.latencyMs = 1000;
    try {
      const res = await pay(t.app, buyer.accessToken, b.id, 'pm_card_visa');
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: 'PAYMENT_PROVIDER_UNAVAILABLE' });
      expect(res.headers['retry-after']).toBeDefined();
    } finally {
      fake.latencyMs = 0;
    }
    expect((await bookingNow(t.app, buyer.accessToken, b.id)).status).toBe('pending');
  });

  it('answers 409 INVALID_STATE for a free booking and 410 HOLD_EXPIRED for an expired hold', async () => {
    const free = await createEvent(t.app, organizer.accessToken, { price: 0 });
    const fb = bookingOf(await book(t.app, buyer.accessToken, { eventId: free, quantity: 1 }));
    expect((await pay(t.app, buyer.accessToken, fb.id, 'pm_card_visa')).json()).toMatchObject({ status: 409, code: 'INVALID_STATE' });
    const paid = await createEvent(t.app, organizer.accessToken);
    const pb = bookingOf(await book(t.app, buyer.accessToken, { eventId: paid, quantity: 1 }));
    t.clock.advance(11 * 60_000);
    expect((await pay(t.app, buyer.accessToken, pb.id, 'pm_card_visa')).json()).toMatchObject({ status: 410, code: 'HOLD_EXPIRED' });
  });

  it('lets only the owner pay, and hides the booking from strangers', async () => {
    const stranger = await createAccount(t.app);
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 1 }));
    expect((await pay(t.app, stranger.accessToken, b.id, 'pm_card_visa')).statusCode).toBe(404);
    expect((await pay(t.app, organizer.accessToken, b.id, 'pm_card_visa')).statusCode).toBe(403);
    expect(await t.app.models.Payment.countDocuments({ bookingId: b.id })).toBe(0);
  });
});

describe('without a payment provider (the default)', () => {
  let none: TestApp;
  beforeAll(async () => {
    none = await buildTestApp();
  });
  afterAll(() => none.close());

  it('confirms by hand as before, refuses online payment with 409, and has no webhook', async () => {
    const org = await createAccount(none.app, { role: 'organizer' });
    const who = await createAccount(none.app);
    const eventId = await createEvent(none.app, org.accessToken);
    const b = bookingOf(await book(none.app, who.accessToken, { eventId, quantity: 1 }));
    expect((await pay(none.app, who.accessToken, b.id, 'pm_card_visa')).json()).toMatchObject({ status: 409, code: 'INVALID_STATE' });
    const hook = await none.app.inject({ method: 'POST', url: '/api/v1/payments/webhooks/stripe', headers: { 'content-type': 'application/json' }, payload: '{}' });
    expect(hook.statusCode).toBe(404);
    const ready = await none.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.json()).toEqual({ status: 'ready', checks: { mongodb: 'up', redis: 'up' } });
  });
});
