import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { availability, book, bookingOf, cancel, confirm, createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';
import { RefundWorker } from '../src/payments/refunds.js';
import {
  bookingNow,
  deliver,
  fakeDriver,
  flush,
  pay,
  paymentOf,
  type PaymentsDriver,
  settleRefunds,
  stripeDriver,
} from './support/payments.js';

/**
 * End to end with each provider (issue 16): the built-in fake, and Stripe through the real SDK
 * against the local Stripe API. Hold, pay, webhook, confirmed with tickets; decline and retry;
 * 3-D Secure; one webhook five times at once; a late success with and without tickets left;
 * cancel and refund; the provider down, the breaker open and recovering.
 */
const HOLD_MS = 10 * 60_000;
const BREAKER_RESET_MS = 400;

describe.each([
  ['fake', async () => fakeDriver()],
  ['stripe', stripeDriver],
] as const)('payments through %s', (_name, makeDriver) => {
  let t: TestApp;
  let driver: PaymentsDriver;
  let organizer: TestAccount;
  let buyer: TestAccount;
  let other: TestAccount;

  beforeAll(async () => {
    driver = await makeDriver();
    t = await buildTestApp({
      env: {
        ...driver.env(),
        ACCESS_TOKEN_TTL_SECONDS: String(30 * 86_400),
        PAYMENT_PROVIDER_TIMEOUT_MS: '2000',
        PAYMENT_BREAKER_RESET_MS: String(BREAKER_RESET_MS),
        PAYMENT_BREAKER_MIN_CALLS: '3',
      },
    });
    driver.attach(t.app);
    [organizer, buyer, other] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app), createAccount(t.app)]);
  });
  afterAll(async () => {
    await t.close();
    await driver.stop();
  });

  async function hold(eventId: string, quantity = 2, who = buyer) {
    const res = await book(t.app, who.accessToken, { eventId, quantity });
    expect(res.statusCode, res.body).toBe(201);
    return bookingOf(res);
  }

  it('hold, pay, webhook: confirmed with its tickets, and the webhook changes nothing more', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 2500, totalTickets: 10 });
    const b = await hold(eventId, 2);
    const res = await pay(t.app, buyer.accessToken, b.id, 'pm_card_visa');
    expect(res.statusCode, res.body).toBe(201);
    const p = paymentOf(res);
    expect(p).toMatchObject({ bookingId: b.id, provider: driver.name, amount: 5000, currency: 'EUR', status: 'succeeded', failureReason: null });
    expect(p.providerPaymentId).toBeTruthy();
    const confirmed = await bookingNow(t.app, buyer.accessToken, b.id);
    expect(confirmed.status).toBe('confirmed');
    expect(confirmed.tickets).toHaveLength(2);
    // The booking carries its latest payment; its amount is the booking's total price.
    expect(confirmed.payment).toMatchObject({ id: p.id, status: 'succeeded', amount: confirmed.totalPrice });
    const listed = await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}/bookings`, headers: bearer(organizer.accessToken) });
    expect(listed.statusCode, listed.body).toBe(200);
    const seen = listed.json<{ data: { id: string; payment: { id: string; clientSecret: string | null } | null }[] }>().data;
    // The organizer sees the payment, never its client secret.
    expect(seen.find((x) => x.id === b.id)?.payment).toMatchObject({ id: p.id, clientSecret: null });

    const outcomes = await flush(t.app, driver);
    expect(outcomes).toContain('applied');
    const after = await bookingNow(t.app, buyer.accessToken, b.id);
    expect(after.tickets).toEqual(confirmed.tickets);
    expect(await availability(t.app, eventId)).toMatchObject({ confirmedTickets: 2, heldTickets: 0, availableTickets: 8 });
    expect(driver.netCharged(p.providerPaymentId as string)).toBe(5000);
  });

  it('a retry with the same Idempotency-Key returns the same payment and never creates a second one', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = await hold(eventId, 1);
    const key = randomUUID();
    const before = driver.intentsCreated();
    const [first, second] = await Promise.all([pay(t.app, buyer.accessToken, b.id, 'pm_card_processing', key), pay(t.app, buyer.accessToken, b.id, 'pm_card_processing', key)]);
    const third = await pay(t.app, buyer.accessToken, b.id, 'pm_card_processing', key);
    const answers = [first, second, third].filter((r) => r.statusCode === 201);
    expect(answers.length).toBeGreaterThanOrEqual(2);
    for (const r of [first, second, third]) expect([201, 409]).toContain(r.statusCode);
    expect(new Set(answers.map((r) => paymentOf(r).id)).size).toBe(1);
    expect(third.headers['idempotent-replayed']).toBe('true');
    expect(driver.intentsCreated() - before).toBe(1);
    // The same key with another body is refused.
    const other = await pay(t.app, buyer.accessToken, b.id, 'pm_card_visa', key);
    expect(other.statusCode).toBe(422);
    driver.take();
  });

  it('decline, then a retry with another method', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = await hold(eventId, 1);
    const declined = await pay(t.app, buyer.accessToken, b.id, 'pm_card_chargeDeclined');
    expect(declined.statusCode, declined.body).toBe(201);
    expect(paymentOf(declined)).toMatchObject({ status: 'failed', failureReason: expect.stringMatching(/declined/i) });
    await flush(t.app, driver);
    expect((await bookingNow(t.app, buyer.accessToken, b.id)).status).toBe('pending');

    const retried = await pay(t.app, buyer.accessToken, b.id, 'pm_card_visa');
    expect(paymentOf(retried).status).toBe('succeeded');
    await flush(t.app, driver);
    expect((await bookingNow(t.app, buyer.accessToken, b.id)).status).toBe('confirmed');
    const list = await t.app.inject({ method: 'GET', url: `/api/v1/bookings/${b.id}/payments`, headers: bearer(buyer.accessToken) });
    expect(list.json<{ data: { status: string }[] }>().data.map((p) => p.status)).toEqual(['succeeded', 'failed']);
  });

  it('3-D Secure: pending (confirm is 402 PAYMENT_REQUIRED), then succeeded', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = await hold(eventId, 1);
    const res = await pay(t.app, buyer.accessToken, b.id, 'pm_card_threeDSecure2Required');
    const p = paymentOf(res);
    expect(p.status).toBe('requires_action');
    expect(p.clientSecret).toBeTruthy();
    await flush(t.app, driver);
    const early = await confirm(t.app, buyer.accessToken, b.id);
    expect(early.statusCode).toBe(402);
    expect(early.json()).toMatchObject({ code: 'PAYMENT_REQUIRED' });
    expect((await bookingNow(t.app, buyer.accessToken, b.id)).status).toBe('pending');

    driver.authenticate(p.providerPaymentId as string);
    expect(await flush(t.app, driver)).toEqual(['applied']);
    const done = await bookingNow(t.app, buyer.accessToken, b.id);
    expect(done.status).toBe('confirmed');
    expect(done.tickets).toHaveLength(1);
  });

  it('one webhook delivered 5 times concurrently gives one confirmation', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 5 });
    const b = await hold(eventId, 3);
    const p = paymentOf(await pay(t.app, buyer.accessToken, b.id, 'pm_card_processing'));
    expect(p.status).toBe('processing');
    await flush(t.app, driver);
    driver.settle(p.providerPaymentId as string);
    const [body] = driver.take();
    const answers = await Promise.all(Array.from({ length: 5 }, () => deliver(t.app, driver, body)));
    for (const a of answers) expect(a.statusCode, a.body).toBe(200);
    const outcomes = answers.map((a) => a.json<{ data: { outcome: string } }>().data.outcome).sort();
    expect(outcomes).toEqual(['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    const done = await bookingNow(t.app, buyer.accessToken, b.id);
    expect(done.status).toBe('confirmed');
    expect(done.tickets).toHaveLength(3);
    expect(await availability(t.app, eventId)).toMatchObject({ confirmedTickets: 3, availableTickets: 2 });
    // Later, out of order: the older `processing` report changes nothing.
    const again = await deliver(t.app, driver, body);
    expect(again.json<{ data: { outcome: string } }>().data.outcome).toBe('duplicate');
    const list = await t.app.inject({ method: 'GET', url: `/api/v1/bookings/${b.id}/payments`, headers: bearer(buyer.accessToken) });
    expect(list.json<{ data: { status: string }[] }>().data[0].status).toBe('succeeded');
  });

  it('a late success after expiry is confirmed while tickets are left', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 4 });
    const b = await hold(eventId, 2);
    const p = paymentOf(await pay(t.app, buyer.accessToken, b.id, 'pm_card_processing'));
    await flush(t.app, driver);
    t.clock.advance(HOLD_MS + 1000);
    expect((await bookingNow(t.app, buyer.accessToken, b.id)).status).toBe('expired');
    driver.settle(p.providerPaymentId as string);
    await flush(t.app, driver);
    const done = await bookingNow(t.app, buyer.accessToken, b.id);
    expect(done.status).toBe('confirmed');
    expect(done.tickets).toHaveLength(2);
    // Sold again through the ledger (its expired hold group was already gone): counted once.
    expect(await availability(t.app, eventId)).toMatchObject({ confirmedTickets: 2, heldTickets: 0, availableTickets: 2 });
  });

  it('a late success after expiry is refunded when sold out, and the booking says why', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 2 });
    const late = await hold(eventId, 2);
    const p = paymentOf(await pay(t.app, buyer.accessToken, late.id, 'pm_card_processing'));
    await flush(t.app, driver);
    t.clock.advance(HOLD_MS + 1000);
    // Someone else buys the tickets the expired hold let go.
    const theirs = await hold(eventId, 2, other);
    expect(paymentOf(await pay(t.app, other.accessToken, theirs.id, 'pm_card_visa')).status).toBe('succeeded');

    driver.settle(p.providerPaymentId as string);
    await flush(t.app, driver);
    const refunded = await bookingNow(t.app, buyer.accessToken, late.id);
    expect(refunded.status).toBe('refunded');
    expect(refunded.failureReason).toMatch(/no longer available/);
    expect(refunded.tickets).toEqual([]);
    await settleRefunds(t.app, driver);
    expect(driver.netCharged(p.providerPaymentId as string)).toBe(0);
    const list = await t.app.inject({ method: 'GET', url: `/api/v1/bookings/${late.id}/payments`, headers: bearer(buyer.accessToken) });
    expect(list.json<{ data: { status: string; refundedAmount: number }[] }>().data[0]).toMatchObject({ status: 'refunded', refundedAmount: 5000 });
    expect(await availability(t.app, eventId)).toMatchObject({ confirmedTickets: 2, availableTickets: 0 });
  });

  it('cancel, then refund (once, however often the job runs)', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = await hold(eventId, 1);
    const p = paymentOf(await pay(t.app, buyer.accessToken, b.id, 'pm_card_visa'));
    await flush(t.app, driver);
    const res = await cancel(t.app, buyer.accessToken, b.id);
    expect(res.statusCode).toBe(200);
    expect(bookingOf(res).status).toBe('cancelled');
    await settleRefunds(t.app, driver);
    expect((await bookingNow(t.app, buyer.accessToken, b.id)).status).toBe('refunded');
    expect(driver.netCharged(p.providerPaymentId as string)).toBe(0);
    // The job is done: running the worker again refunds nothing more.
    const calls = driver.providerCalls();
    await t.app.payments?.refunds.drain();
    expect(driver.providerCalls()).toBe(calls);
  });

  it('a refund whose worker died after the provider refunded is finished by the next worker, and never refunded twice', async () => {
    const runtime = t.app.payments;
    if (!runtime) throw new Error('no payments');
    // Only this test's workers run the job: the app's own is paused and not woken.
    await runtime.refunds.stop();
    const wake = runtime.deps.refundQueued;
    runtime.deps.refundQueued = () => undefined;
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = await hold(eventId, 1);
    const p = paymentOf(await pay(t.app, buyer.accessToken, b.id, 'pm_card_visa'));
    await flush(t.app, driver);
    expect((await cancel(t.app, buyer.accessToken, b.id)).statusCode).toBe(200);
    const refundsBefore = driver.refundsCreated();
    // A worker claimed the job (its lease pushes runAt out), refunded at the provider, and died.
    await t.app.models.PaymentJob.updateOne({ _id: `refund:${p.id}` }, { $set: { runAt: new Date(Date.now() + 60_000) }, $inc: { attempts: 1 } });
    await runtime.provider.refund({ providerPaymentId: p.providerPaymentId as string, amount: p.amount }, `refund_${p.id}`);
    expect(await runtime.refunds.drain()).toBe(0);
    expect((await bookingNow(t.app, buyer.accessToken, b.id)).status).toBe('cancelled');
    // Its lease runs out: two workers race for the job; the provider sees the same key again.
    await t.app.models.PaymentJob.updateOne({ _id: `refund:${p.id}` }, { $set: { runAt: new Date(Date.now() - 1) } });
    const second = new RefundWorker(runtime.deps, { leaseMs: 60_000, pollMs: 60_000 });
    const done = await Promise.all([runtime.refunds.drain(), second.drain()]);
    expect(done.reduce((a, n) => a + n, 0)).toBe(1);
    await flush(t.app, driver);
    expect(driver.netCharged(p.providerPaymentId as string)).toBe(0);
    expect(driver.refundsCreated()).toBe(refundsBefore + 1);
    expect((await bookingNow(t.app, buyer.accessToken, b.id)).status).toBe('refunded');
    runtime.deps.refundQueued = wake;
    runtime.refunds.start();
  });

  it('cancelling the event refunds every paid booking of it (durable jobs)', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const mine = await hold(eventId, 1);
    const theirs = await hold(eventId, 2, other);
    const p1 = paymentOf(await pay(t.app, buyer.accessToken, mine.id, 'pm_card_visa'));
    const p2 = paymentOf(await pay(t.app, other.accessToken, theirs.id, 'pm_card_visa'));
    await flush(t.app, driver);
    const jobsBefore = await t.app.models.PaymentJob.countDocuments({});
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/events/${eventId}/cancel`, headers: bearer(organizer.accessToken) });
    expect(res.statusCode, res.body).toBe(200);
    // Queued in the cancel's transaction, before any refund ran.
    expect(await t.app.models.PaymentJob.countDocuments({})).toBe(jobsBefore + 2);
    await settleRefunds(t.app, driver);
    for (const [p, who, b] of [[p1, buyer, mine], [p2, other, theirs]] as const) {
      expect(driver.netCharged(p.providerPaymentId as string)).toBe(0);
      expect((await bookingNow(t.app, who.accessToken, b.id)).status).toBe('refunded');
    }
    // The event's ledger was cleared in the cancel's transaction.
    expect(await availability(t.app, eventId)).toMatchObject({ confirmedTickets: 0, heldTickets: 0 });
  });

  it('provider down: 503 with Retry-After and the hold kept; the breaker opens, then recovers', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 3 });
    const b = await hold(eventId, 1);
    driver.setDown(true);
    const key = randomUUID();
    // Failures until they are half of the calls in the breaker's window (earlier tests' successes count too).
    let attempts = 0;
    while (t.app.payments?.breaker.state() !== 'open') {
      expect(++attempts, 'the breaker opens').toBeLessThan(60);
      const res = await pay(t.app, buyer.accessToken, b.id, 'pm_card_visa', key);
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json()).toMatchObject({ code: 'PAYMENT_PROVIDER_UNAVAILABLE' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    // The hold is kept.
    expect((await bookingNow(t.app, buyer.accessToken, b.id)).status).toBe('pending');
    expect(await availability(t.app, eventId)).toMatchObject({ heldTickets: 1 });
    const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ payments: { provider: driver.name, breaker: 'open' } });
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(new RegExp(`ticketing_payment_breaker_state\\{provider="${driver.name}"\\} 2`));
    // Open: refused at once, the provider is not even asked.
    const calls = driver.providerCalls();
    expect((await pay(t.app, buyer.accessToken, b.id, 'pm_card_visa', key)).statusCode).toBe(503);
    expect(driver.providerCalls()).toBe(calls);

    driver.setDown(false);
    await new Promise((resolve) => setTimeout(resolve, BREAKER_RESET_MS + 100));
    const res = await pay(t.app, buyer.accessToken, b.id, 'pm_card_visa', key);
    expect(res.statusCode, res.body).toBe(201);
    expect(paymentOf(res).status).toBe('succeeded');
    expect((await t.app.inject({ method: 'GET', url: '/health/ready' })).json()).toMatchObject({ payments: { breaker: 'closed' } });
    expect((await bookingNow(t.app, buyer.accessToken, b.id)).status).toBe('confirmed');
    await flush(t.app, driver);
  });
});
