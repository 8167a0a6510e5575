import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, cancel, createEvent } from './fixtures/bookings.js';
import { outboxRows, registerWebhook } from './fixtures/webhooks.js';
import { buildTestApp, type TestApp } from './helper.js';
import { deliver, fakeDriver, flush, pay, paymentOf, type PaymentsDriver, settleRefunds } from './support/payments.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

/**
 * What payments announce (DESIGN.md 9), each written once in the transaction of the change:
 * payment.succeeded / payment.failed when a report moves a payment, booking.confirmed when a payment
 * confirms a booking, booking.refunded when the refund is done (the money is back).
 */
const HOLD_MS = 10 * 60_000;
let t: TestApp;
let driver: PaymentsDriver;
let receiver: WebhookReceiver;
let organizer: TestAccount;
let buyer: TestAccount;
let other: TestAccount;

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  driver = fakeDriver();
  t = await buildTestApp({ env: { ...driver.env(), WEBHOOKS_ALLOW_PRIVATE: 'true', ACCESS_TOKEN_TTL_SECONDS: String(30 * 86_400) } });
  driver.attach(t.app);
  [organizer, buyer, other] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app), createAccount(t.app)]);
}, 60_000);
afterAll(async () => {
  await t.close();
  await driver.stop();
  await receiver.close();
});

const rows = (type: string, filter: Record<string, unknown>) => outboxRows(t.app, { kind: 'message', type, ...filter });
const forPayment = (type: string, id: string) => rows(type, { 'data.payment.id': id });
const forBooking = (type: string, id: string) => rows(type, { 'data.booking.id': id });

async function hold(eventId: string, quantity = 1, who = buyer) {
  const res = await book(t.app, who.accessToken, { eventId, quantity });
  expect(res.statusCode, res.body).toBe(201);
  return bookingOf(res);
}

describe('payment messages', () => {
  it('one webhook delivered five times at once: one payment.succeeded and one booking.confirmed, delivered to the organizer', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const hook = await registerWebhook(t.app, organizer.accessToken, { url: receiver.url, events: ['payment.succeeded', 'booking.confirmed'], eventId });
    receiver.secret = hook.secret;
    const b = await hold(eventId, 2);
    const p = paymentOf(await pay(t.app, buyer.accessToken, b.id, 'pm_card_processing'));
    await flush(t.app, driver);
    driver.settle(p.providerPaymentId as string);
    const [body] = driver.take();
    const answers = await Promise.all(Array.from({ length: 5 }, () => deliver(t.app, driver, body)));
    for (const a of answers) expect(a.statusCode, a.body).toBe(200);
    expect(answers.filter((a) => a.json<{ data: { outcome: string } }>().data.outcome === 'applied')).toHaveLength(1);

    const succeeded = await forPayment('payment.succeeded', p.id);
    expect(succeeded).toHaveLength(1);
    expect(succeeded[0].data).toMatchObject({ payment: { id: p.id, bookingId: b.id, status: 'succeeded', amount: p.amount } });
    expect(JSON.stringify(succeeded[0].data)).not.toContain('secret');
    const confirmed = await forBooking('booking.confirmed', b.id);
    expect(confirmed).toHaveLength(1);
    expect(confirmed[0].data).toMatchObject({ booking: { id: b.id, status: 'confirmed' } });
    expect((confirmed[0].data as { booking: { tickets: unknown[] } }).booking.tickets).toHaveLength(2);

    await t.app.outboxRuntime.worker.drain();
    const got = receiver.received.filter((r) => JSON.stringify(r.body.data).includes(b.id));
    expect(got.map((r) => r.body.type).sort()).toEqual(['booking.confirmed', 'payment.succeeded']);
    expect(got.every((r) => r.verified)).toBe(true);
  });

  it('a declined card writes one payment.failed and nothing for the booking', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = await hold(eventId);
    const p = paymentOf(await pay(t.app, buyer.accessToken, b.id, 'pm_card_chargeDeclined'));
    await flush(t.app, driver);
    const failed = await forPayment('payment.failed', p.id);
    expect(failed).toHaveLength(1);
    expect(failed[0].data).toMatchObject({ payment: { id: p.id, status: 'failed' } });
    expect(await forPayment('payment.succeeded', p.id)).toHaveLength(0);
    expect(await forBooking('booking.confirmed', b.id)).toHaveLength(0);
  });
});

describe('booking.refunded: written once, when the refund is done', () => {
  it('cancel of a paid booking: booking.cancelled at once, booking.refunded when the money is back', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = await hold(eventId);
    paymentOf(await pay(t.app, buyer.accessToken, b.id, 'pm_card_visa'));
    await flush(t.app, driver);
    expect(await forBooking('booking.confirmed', b.id)).toHaveLength(1);
    const runtime = t.app.payments;
    if (!runtime) throw new Error('no payments');
    await runtime.refunds.stop();
    try {
      expect((await cancel(t.app, buyer.accessToken, b.id)).statusCode).toBe(200);
      expect(await forBooking('booking.cancelled', b.id)).toHaveLength(1);
      // Decided, not done: nothing says "refunded" yet.
      expect(await forBooking('booking.refunded', b.id)).toHaveLength(0);
      await settleRefunds(t.app, driver);
      await t.app.payments?.refunds.drain();
    } finally {
      runtime.refunds.start();
    }
    const refunded = await forBooking('booking.refunded', b.id);
    expect(refunded).toHaveLength(1);
    expect(refunded[0].data).toMatchObject({ booking: { id: b.id, status: 'refunded' } });
  });

  it('a late success with no tickets left: no booking.confirmed; one booking.refunded after the refund', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 1 });
    const late = await hold(eventId);
    const p = paymentOf(await pay(t.app, buyer.accessToken, late.id, 'pm_card_processing'));
    await flush(t.app, driver);
    t.clock.advance(HOLD_MS + 1000);
    const theirs = await hold(eventId, 1, other);
    expect(paymentOf(await pay(t.app, other.accessToken, theirs.id, 'pm_card_visa')).status).toBe('succeeded');
    driver.settle(p.providerPaymentId as string);
    await flush(t.app, driver);
    expect(await forPayment('payment.succeeded', p.id)).toHaveLength(1);
    expect(await forBooking('booking.confirmed', late.id)).toHaveLength(0);
    await settleRefunds(t.app, driver);
    await settleRefunds(t.app, driver);
    const refunded = await forBooking('booking.refunded', late.id);
    expect(refunded).toHaveLength(1);
    expect(refunded[0].data).toMatchObject({ booking: { id: late.id, status: 'refunded', tickets: [] } });
  });

  it('cancelling the event: one booking.refunded per paid booking, none for the unpaid hold', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const mine = await hold(eventId);
    const theirs = await hold(eventId, 2, other);
    const unpaid = await hold(eventId);
    await pay(t.app, buyer.accessToken, mine.id, 'pm_card_visa');
    await pay(t.app, other.accessToken, theirs.id, 'pm_card_visa');
    await flush(t.app, driver);
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/events/${eventId}/cancel`, headers: bearer(organizer.accessToken) });
    expect(res.statusCode, res.body).toBe(200);
    await settleRefunds(t.app, driver);
    await settleRefunds(t.app, driver);
    for (const b of [mine, theirs]) expect(await forBooking('booking.refunded', b.id), b.id).toHaveLength(1);
    expect(await forBooking('booking.refunded', unpaid.id)).toHaveLength(0);
  });
});
