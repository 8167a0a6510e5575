import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, recount } from '../src/bookings/ledger-audit.js';
import { createAccount, createAccounts, type TestAccount } from './fixtures/accounts.js';
import { availability, book, createEvent } from './fixtures/bookings.js';
import { addCoupon, redemptionsOf } from './fixtures/coupons.js';
import { buildTwoInstances, type InstancePair, type TestApp } from './helper.js';

/**
 * DESIGN.md 7 and Hi.Events #1223 (one single-use code redeemed many times in a rush): hundreds of
 * concurrent orders with one coupon, through two app instances on one database (each with its own
 * sales desk, so only the event write orders them). The coupon is never redeemed past its limits,
 * every refusal is COUPON_EXHAUSTED and leaves nothing behind, and the ledger equals a recount.
 */
const BUYERS = 500;

let t: TestApp;
let second: TestApp;
let pair: InstancePair;
let organizer: TestAccount;
let buyers: TestAccount[];

beforeAll(async () => {
  pair = await buildTwoInstances();
  ({ t, second } = pair);
  organizer = await createAccount(t.app, { role: 'organizer' });
  buyers = await createAccounts(t.app, BUYERS);
}, 180_000);
afterAll(() => pair.close());

interface Answer {
  status: number;
  code?: string;
  discount?: number;
  couponCode?: string | null;
}

async function rush(eventId: string, orders: { token: string }[], code: string): Promise<Answer[]> {
  const responses = await Promise.all(
    orders.map((o, i) => book(i % 2 === 0 ? t.app : second.app, o.token, { eventId, quantity: 1, couponCode: code })),
  );
  return responses.map((res) => {
    const body = res.json<{ code?: string; data?: { discount: number; couponCode: string | null } }>();
    return { status: res.statusCode, code: body.code, discount: body.data?.discount, couponCode: body.data?.couponCode };
  });
}

async function expectLedgerAgrees(eventId: string, couponId: string, redemptions: number) {
  const event = await t.app.models.Event.findById(eventId).lean();
  if (!event) throw new Error('no event');
  const now = t.clock.now();
  expect(compare(event, await recount(t.app.models, event, now), now)).toEqual([]);
  expect(await t.app.models.Booking.countDocuments({ eventId, couponId })).toBe(redemptions);
  expect(await redemptionsOf(t.app, organizer.accessToken, eventId, couponId)).toBe(redemptions);
  expect((await availability(t.app, eventId)).heldTickets).toBe(redemptions);
}

describe('coupon rush', () => {
  for (const limit of [1, 50]) {
    it(`${BUYERS} concurrent orders from ${BUYERS} buyers against maxRedemptions ${limit} give exactly ${limit}`, async () => {
      const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 5000, price: 2000 });
      const coupon = await addCoupon(t.app, organizer.accessToken, eventId, { code: `RUSH${limit}`, percentOff: 25, maxRedemptions: limit });
      const answers = await rush(
        eventId,
        buyers.map((b) => ({ token: b.accessToken })),
        `rush${limit}`,
      );
      const won = answers.filter((a) => a.status === 201);
      const refused = answers.filter((a) => a.status === 409 && a.code === 'COUPON_EXHAUSTED');
      expect(won).toHaveLength(limit);
      expect(refused).toHaveLength(BUYERS - limit);
      for (const w of won) expect(w).toMatchObject({ discount: 500, couponCode: `RUSH${limit}` });
      await expectLedgerAgrees(eventId, coupon.id, limit);
    }, 180_000);
  }

  it('one buyer, 20 concurrent orders (each its own key) against maxPerUser 2 gets exactly 2', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 500, price: 2000 });
    const coupon = await addCoupon(t.app, organizer.accessToken, eventId, { code: 'PAIR', amountOff: 300, maxPerUser: 2 });
    const [one] = buyers;
    const answers = await rush(
      eventId,
      Array.from({ length: 20 }, () => ({ token: one.accessToken })),
      'Pair',
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(2);
    expect(answers.filter((a) => a.status === 409 && a.code === 'COUPON_EXHAUSTED')).toHaveLength(18);
    await expectLedgerAgrees(eventId, coupon.id, 2);
    // Another buyer is not limited by the first one's redemptions.
    expect((await book(t.app, buyers[1].accessToken, { eventId, quantity: 1, couponCode: 'PAIR' })).statusCode).toBe(201);
  }, 60_000);
});
