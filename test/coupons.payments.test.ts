import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';
import { bookingNow, deliver, fakeDriver, flush, pay, paymentOf, type PaymentsDriver } from './support/payments.js';

/**
 * A coupon's redemption follows its booking through a payment: confirmed by a webhook it stays
 * counted after the hold's expiry, and a success that arrives after the hold expired must still fit
 * the coupon's limit (the expired hold gave its redemption back).
 */
const HOLD_MS = 10 * 60_000;
let t: TestApp;
let driver: PaymentsDriver;
let organizer: TestAccount;
let buyer: TestAccount;
let other: TestAccount;

beforeAll(async () => {
  driver = fakeDriver();
  t = await buildTestApp({ env: { ...driver.env(), ACCESS_TOKEN_TTL_SECONDS: String(30 * 86_400) } });
  driver.attach(t.app);
  [organizer, buyer, other] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app), createAccount(t.app)]);
}, 60_000);
afterAll(async () => {
  await t.close();
  await driver.stop();
});

async function couponEvent(): Promise<string> {
  const eventId = await createEvent(t.app, organizer.accessToken);
  const res = await t.app.inject({
    method: 'POST',
    url: `/api/v1/events/${eventId}/coupons`,
    headers: bearer(organizer.accessToken),
    payload: { code: 'ONCE', percentOff: 10, maxRedemptions: 1 },
  });
  expect(res.statusCode, res.body).toBe(201);
  return eventId;
}

async function redemptions(eventId: string): Promise<number> {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}/coupons`, headers: bearer(organizer.accessToken) });
  return res.json<{ data: { redemptions: number }[] }>().data[0]?.redemptions ?? -1;
}

/** Pays for a booking with a payment that settles later; answers the webhook body of its success. */
async function paySlowly(token: string, bookingId: string): Promise<string> {
  const p = paymentOf(await pay(t.app, token, bookingId, 'pm_card_processing'));
  await flush(t.app, driver);
  driver.settle(p.providerPaymentId as string);
  const [body] = driver.take();
  return body as string;
}

describe('coupons with payments', () => {
  it('a booking confirmed by its payment keeps its redemption after the hold would have expired', async () => {
    const eventId = await couponEvent();
    const held = await book(t.app, buyer.accessToken, { eventId, quantity: 1, couponCode: 'ONCE' });
    expect(held.statusCode, held.body).toBe(201);
    const b = bookingOf(held);
    expect((await deliver(t.app, driver, await paySlowly(buyer.accessToken, b.id))).statusCode).toBe(200);
    expect((await bookingNow(t.app, buyer.accessToken, b.id)).status).toBe('confirmed');

    t.clock.advance(HOLD_MS + 60_000);
    expect(await redemptions(eventId)).toBe(1);
    const late = await book(t.app, other.accessToken, { eventId, quantity: 1, couponCode: 'ONCE' });
    expect(late.statusCode, late.body).toBe(409);
    expect(late.json<{ code: string }>().code).toBe('COUPON_EXHAUSTED');
  });

  it('a success after the hold expired, when another buyer took the coupon meanwhile, is refunded', async () => {
    const eventId = await couponEvent();
    const first = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 1, couponCode: 'ONCE' }));
    const body = await paySlowly(buyer.accessToken, first.id);
    t.clock.advance(HOLD_MS + 1_000);
    const second = await book(t.app, other.accessToken, { eventId, quantity: 1, couponCode: 'ONCE' });
    expect(second.statusCode, second.body).toBe(201);

    expect((await deliver(t.app, driver, body)).statusCode).toBe(200);
    const after = await bookingNow(t.app, buyer.accessToken, first.id);
    expect(after.status).toBe('refunded');
    expect(after.failureReason).toBeTruthy();
    expect(await redemptions(eventId)).toBe(1);
  });
});
