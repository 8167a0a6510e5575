import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { cancel } from './fixtures/bookings.js';
import { addCoupon } from './fixtures/coupons.js';
import { bookSeats, createSeatedEvent, createVenue, seatMap, statuses } from './fixtures/seats.js';
import { join } from './fixtures/waitlist.js';
import { bookingNow, fakeDriver, flush, pay, paymentOf, settleRefunds, type PaymentsDriver } from './support/payments.js';
import { expectLedgerExact as expectLedgerExactOf } from './fixtures/ledger.js';
import { buildTestApp, type TestApp } from './helper.js';

/**
 * Seats through the rest of a sale (API.md Venues and seats: "holds, expiry, cancels, payments,
 * coupons and the waitlist work per seat"): a payment that succeeds after its hold expired keeps
 * its very seats or is refunded; a coupon prices seats like tickets; a waitlist offer holds seats.
 */
const HOLD_MS = 10 * 60_000;

let t: TestApp;
let driver: PaymentsDriver;
let organizer: TestAccount;
let buyer: TestAccount;
let other: TestAccount;

beforeAll(async () => {
  driver = fakeDriver();
  t = await buildTestApp({ env: { ...driver.env(), ACCESS_TOKEN_TTL_SECONDS: String(30 * 86_400), WAITLIST_OFFER_SECONDS: '300' } });
  driver.attach(t.app);
  [organizer, buyer, other] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app), createAccount(t.app)]);
});
afterAll(async () => {
  await t.close();
  await driver.stop();
});

type Booked = { id: string; status: string; totalPrice: number; discount: number; items: { seats?: string[] }[]; tickets: { seat: string }[] };
const data = <T>(res: { json: <U>() => U }) => res.json<{ data: T }>().data;

const expectLedgerExact = (eventId: string) => expectLedgerExactOf(t.app, eventId);

describe('payments with seats', () => {
  it('a success after the hold expired keeps the same seats if they are still free', async () => {
    const { eventId } = await createSeatedEvent(t.app, organizer.accessToken, await createVenue(t.app, organizer.accessToken, { S: [4] }));
    const held = data<Booked>(await bookSeats(t.app, buyer.accessToken, { eventId, seats: ['S-A2'] }));
    const p = paymentOf(await pay(t.app, buyer.accessToken, held.id, 'pm_card_processing'));
    await flush(t.app, driver);
    t.clock.advance(HOLD_MS + 1000);
    driver.settle(p.providerPaymentId as string);
    await flush(t.app, driver);
    const now = await bookingNow(t.app, buyer.accessToken, held.id);
    expect(now.status).toBe('confirmed');
    expect((now.tickets as unknown as { seat: string }[]).map((x) => x.seat)).toEqual(['S-A2']);
    expect(statuses(await seatMap(t.app, eventId)).get('S-A2')).toBe('sold');
    await expectLedgerExact(eventId);
  });

  it('is refunded when another buyer took one of its seats meanwhile, though other seats are free', async () => {
    const { eventId } = await createSeatedEvent(t.app, organizer.accessToken, await createVenue(t.app, organizer.accessToken, { S: [4] }));
    const late = data<Booked>(await bookSeats(t.app, buyer.accessToken, { eventId, seats: ['S-A1', 'S-A2'] }));
    const p = paymentOf(await pay(t.app, buyer.accessToken, late.id, 'pm_card_processing'));
    await flush(t.app, driver);
    t.clock.advance(HOLD_MS + 1000);
    const theirs = await bookSeats(t.app, other.accessToken, { eventId, seats: ['S-A2'] });
    expect(theirs.statusCode, theirs.body).toBe(201);
    driver.settle(p.providerPaymentId as string);
    await flush(t.app, driver);
    const refunded = await bookingNow(t.app, buyer.accessToken, late.id);
    expect(refunded.status).toBe('refunded');
    expect(refunded.tickets).toEqual([]);
    await settleRefunds(t.app, driver);
    expect(driver.netCharged(p.providerPaymentId as string)).toBe(0);
    const map = statuses(await seatMap(t.app, eventId));
    expect([map.get('S-A1'), map.get('S-A2')]).toEqual(['available', 'held']);
    await expectLedgerExact(eventId);
  });
});

describe('coupons with seats', () => {
  it('discounts seats like tickets, and the seats of a cancelled discounted booking are free again', async () => {
    const { eventId } = await createSeatedEvent(t.app, organizer.accessToken, await createVenue(t.app, organizer.accessToken, { S: [4] }), { price: 2000 });
    await addCoupon(t.app, organizer.accessToken, eventId, { code: 'HALF', percentOff: 50, maxRedemptions: 1 });
    const res = await bookSeats(t.app, buyer.accessToken, { eventId, seats: ['S-A1', 'S-A2'], couponCode: 'half' });
    expect(res.statusCode, res.body).toBe(201);
    expect(data<Booked>(res)).toMatchObject({ totalPrice: 2000, discount: 2000 });
    const exhausted = await bookSeats(t.app, other.accessToken, { eventId, seats: ['S-A3'], couponCode: 'HALF' });
    expect(exhausted.statusCode).toBe(409);
    expect(statuses(await seatMap(t.app, eventId)).get('S-A3')).toBe('available');
    expect((await cancel(t.app, buyer.accessToken, data<Booked>(res).id)).statusCode).toBe(200);
    expect((await seatMap(t.app, eventId)).available).toBe(4);
    await expectLedgerExact(eventId);
  });
});

describe('the waitlist with seats', () => {
  it('offers freed seats to the first entry: its offer holds the best seats, nobody else can buy them', async () => {
    const { eventId } = await createSeatedEvent(t.app, organizer.accessToken, await createVenue(t.app, organizer.accessToken, { S: [3] }));
    const all = data<Booked>(await bookSeats(t.app, buyer.accessToken, { eventId, quantity: 3 }));
    const joined = await join(t.app, other.accessToken, eventId, { quantity: 2 });
    expect(joined.statusCode, joined.body).toBe(201);
    expect((await cancel(t.app, buyer.accessToken, all.id)).statusCode).toBe(200);
    const offer = await t.app.models.Booking.findOne({ eventId, userId: other.user.id, status: 'pending' }).lean();
    expect(offer?.items?.[0]?.seats).toEqual(['S-A1', 'S-A2']);
    const map = statuses(await seatMap(t.app, eventId));
    expect([map.get('S-A1'), map.get('S-A2'), map.get('S-A3')]).toEqual(['held', 'held', 'available']);
    expect((await bookSeats(t.app, buyer.accessToken, { eventId, seats: ['S-A1'] })).statusCode).toBe(409);
    await expectLedgerExact(eventId);
  });
});
