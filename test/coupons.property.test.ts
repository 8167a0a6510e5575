import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, recount } from '../src/bookings/ledger-audit.js';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, cancel, confirm, createEvent } from './fixtures/bookings.js';
import { addCoupon, listCoupons, patchCoupon } from './fixtures/coupons.js';
import { addType, defaultTypeId } from './fixtures/ticket-types.js';
import { buildTestApp, LONG_LIVED_SESSIONS, type TestApp } from './helper.js';

/**
 * Random coupons, then random sequences of coupon orders, confirms, cancels, coupons switched off
 * and on, and clock moves past expiry, one event per run. After every step a plain model of the
 * rules agrees with each coupon's redemptions as the organizer sees them, every order's answer and
 * price agrees with the model's, and the coupon ledger equals a recount of the bookings.
 * The model prices with Math.round on the exact quotient (half up for non-negative amounts), a
 * different formula from the service's integer one.
 */
const TOTAL = 12;
const VIP_CAPACITY = 6;
const GA_PRICE = 333;
const VIP_PRICE = 1005;

let t: TestApp;
let organizer: TestAccount;
let buyers: TestAccount[];

beforeAll(async () => {
  // The clock moves by hours over all runs; tokens must outlive that.
  t = await buildTestApp({ env: { ...LONG_LIVED_SESSIONS } });
  organizer = await createAccount(t.app, { role: 'organizer' });
  buyers = await Promise.all([0, 1, 2].map(() => createAccount(t.app)));
});
afterAll(() => t.close());

interface CouponTerms {
  percentOff: number | null;
  amountOff: number | null;
  maxRedemptions: number | null;
  maxPerUser: number | null;
  vipOnly: boolean;
}

const couponTerms: fc.Arbitrary<CouponTerms> = fc
  .record({
    percent: fc.boolean(),
    // Odd multiples of 10 make VIP lines (1005 each) end in exactly half a cent: the rounding is tested often.
    percentOff: fc.oneof(fc.constantFrom(10, 30, 50, 70, 90), fc.integer({ min: 1, max: 100 })),
    amountOff: fc.integer({ min: 1, max: 4000 }),
    maxRedemptions: fc.option(fc.integer({ min: 1, max: 3 }), { nil: null }),
    maxPerUser: fc.option(fc.integer({ min: 1, max: 2 }), { nil: null }),
    vipOnly: fc.boolean(),
  })
  .map((c) => ({
    percentOff: c.percent ? c.percentOff : null,
    amountOff: c.percent ? null : c.amountOff,
    maxRedemptions: c.maxRedemptions,
    maxPerUser: c.maxPerUser,
    vipOnly: c.vipOnly,
  }));

type Action =
  | { kind: 'order'; buyer: number; coupon: number; ga: number; vip: number }
  | { kind: 'confirm'; pick: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'toggle'; coupon: number }
  | { kind: 'time'; ms: number };

const actions: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('order' as const),
      buyer: fc.nat(2),
      // 3: no coupon; 4: a code no coupon has.
      coupon: fc.nat(4),
      ga: fc.nat(3),
      vip: fc.nat(3),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('confirm' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('toggle' as const), coupon: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 1, max: 11 * 60_000 }) }) },
);

interface ModelCoupon extends CouponTerms {
  id: string;
  code: string;
  active: boolean;
}
interface ModelBooking {
  id: string;
  buyer: number;
  status: 'pending' | 'confirmed' | 'cancelled';
  expiresAt: number | null;
  ga: number;
  vip: number;
  coupon: number | null;
}

class Model {
  coupons: ModelCoupon[] = [];
  bookings: ModelBooking[] = [];
  constructor(private readonly now: () => number) {}

  counts(b: ModelBooking) {
    return b.status === 'confirmed' || (b.status === 'pending' && b.expiresAt !== null && b.expiresAt > this.now());
  }
  taken(type: 'ga' | 'vip' | 'all') {
    let n = 0;
    for (const b of this.bookings) if (this.counts(b)) n += type === 'all' ? b.ga + b.vip : b[type];
    return n;
  }
  redemptions(coupon: number, buyer?: number) {
    return this.bookings.filter((b) => b.coupon === coupon && this.counts(b) && (buyer === undefined || b.buyer === buyer)).length;
  }
  /** The answer an order should get: an error code, or its price. */
  order(a: Extract<Action, { kind: 'order' }>): { code: string } | { subtotal: number; discount: number } {
    if (a.coupon === 4) return { code: 'COUPON_INVALID' };
    const subtotal = a.ga * GA_PRICE + a.vip * VIP_PRICE;
    let discount = 0;
    if (a.coupon < 3) {
      const c = this.coupons[a.coupon];
      const lines = [
        { vip: false, total: a.ga * GA_PRICE, quantity: a.ga },
        { vip: true, total: a.vip * VIP_PRICE, quantity: a.vip },
      ].filter((l) => l.quantity > 0);
      const covered = lines.filter((l) => !c.vipOnly || l.vip).map((l) => l.total);
      if (!c.active || covered.length === 0) return { code: 'COUPON_INVALID' };
      if (c.maxRedemptions !== null && this.redemptions(a.coupon) >= c.maxRedemptions) return { code: 'COUPON_EXHAUSTED' };
      if (c.maxPerUser !== null && this.redemptions(a.coupon, a.buyer) >= c.maxPerUser) return { code: 'COUPON_EXHAUSTED' };
      const percent = c.percentOff;
      discount =
        percent !== null
          ? covered.reduce((sum, line) => sum + Math.round((line * percent) / 100), 0)
          : Math.min(c.amountOff ?? 0, covered.reduce((sum, line) => sum + line, 0));
    }
    const eventLeft = TOTAL - this.taken('all');
    if (a.ga + a.vip > eventLeft || a.vip > Math.min(VIP_CAPACITY - this.taken('vip'), eventLeft)) return { code: 'SOLD_OUT' };
    return { subtotal, discount };
  }
}

async function expectAgreement(eventId: string, model: Model): Promise<void> {
  const shown = await listCoupons(t.app, organizer.accessToken, eventId);
  expect(shown.map((c) => [c.code, c.redemptions, c.active])).toEqual(model.coupons.map((c, i) => [c.code, model.redemptions(i), c.active]));
  for (const [i, c] of model.coupons.entries()) {
    if (c.maxRedemptions !== null) expect(model.redemptions(i)).toBeLessThanOrEqual(c.maxRedemptions);
  }
  const event = await t.app.models.Event.findById(eventId).lean();
  if (!event) throw new Error('no event');
  const now = t.clock.now();
  expect(compare(event, await recount(t.app.models, event, now), now)).toEqual([]);
}

async function step(eventId: string, ids: { ga: string; vip: string }, model: Model, action: Action): Promise<void> {
  switch (action.kind) {
    case 'order': {
      if (action.ga + action.vip === 0) return;
      const items = [
        ...(action.ga > 0 ? [{ ticketTypeId: ids.ga, quantity: action.ga }] : []),
        ...(action.vip > 0 ? [{ ticketTypeId: ids.vip, quantity: action.vip }] : []),
      ];
      const code = action.coupon < 3 ? model.coupons[action.coupon].code.toLowerCase() : action.coupon === 4 ? 'NOSUCHCODE' : undefined;
      const res = await book(t.app, buyers[action.buyer].accessToken, { eventId, items, ...(code ? { couponCode: code } : {}) });
      const expected = model.order(action);
      if ('code' in expected) {
        expect(res.statusCode, res.body).toBe(expected.code === 'COUPON_INVALID' ? 422 : 409);
        expect(res.json().code).toBe(expected.code);
        return;
      }
      expect(res.statusCode, res.body).toBe(201);
      const body = res.json().data;
      const total = expected.subtotal - expected.discount;
      expect(body).toMatchObject({
        subtotal: expected.subtotal,
        discount: expected.discount,
        totalPrice: total,
        couponCode: action.coupon < 3 ? model.coupons[action.coupon].code : null,
        status: total === 0 ? 'confirmed' : 'pending',
      });
      expect(body.totalPrice).toBeGreaterThanOrEqual(0);
      model.bookings.push({
        id: body.id,
        buyer: action.buyer,
        status: total === 0 ? 'confirmed' : 'pending',
        expiresAt: total === 0 ? null : t.clock.now().getTime() + t.config.HOLD_TTL_SECONDS * 1000,
        ga: action.ga,
        vip: action.vip,
        coupon: action.coupon < 3 ? action.coupon : null,
      });
      return;
    }
    case 'confirm': {
      if (model.bookings.length === 0) return;
      const b = model.bookings[action.pick % model.bookings.length];
      const res = await confirm(t.app, buyers[b.buyer].accessToken, b.id);
      if (b.status === 'pending' && model.counts(b)) {
        expect(res.statusCode, res.body).toBe(200);
        b.status = 'confirmed';
        b.expiresAt = null;
      } else {
        expect(res.statusCode, res.body).toBe(b.status === 'pending' ? 410 : 409);
      }
      return;
    }
    case 'cancel': {
      if (model.bookings.length === 0) return;
      const b = model.bookings[action.pick % model.bookings.length];
      expect((await cancel(t.app, buyers[b.buyer].accessToken, b.id)).statusCode).toBe(200);
      if (model.counts(b)) b.status = 'cancelled';
      return;
    }
    case 'toggle': {
      const c = model.coupons[action.coupon];
      const res = await patchCoupon(t.app, organizer.accessToken, eventId, c.id, { active: !c.active });
      expect(res.statusCode, res.body).toBe(200);
      c.active = !c.active;
      return;
    }
    case 'time':
      t.clock.advance(action.ms);
  }
}

describe('coupons against a model', () => {
  it('redemptions, answers and prices agree after every step, and the coupon ledger equals a recount', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(couponTerms, { minLength: 3, maxLength: 3 }), fc.array(actions, { minLength: 5, maxLength: 30 }), async (terms, sequence) => {
        const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: TOTAL, price: GA_PRICE, maxTicketsPerBooking: 10 });
        const ids = {
          ga: await defaultTypeId(t.app, eventId, organizer.accessToken),
          vip: (await addType(t.app, organizer.accessToken, eventId, { name: 'VIP', price: VIP_PRICE, capacity: VIP_CAPACITY })).id,
        };
        const model = new Model(() => t.clock.now().getTime());
        for (const [i, c] of terms.entries()) {
          const code = `Code-${i}`;
          const made = await addCoupon(t.app, organizer.accessToken, eventId, {
            code,
            ...(c.percentOff !== null ? { percentOff: c.percentOff } : { amountOff: c.amountOff }),
            maxRedemptions: c.maxRedemptions,
            maxPerUser: c.maxPerUser,
            ...(c.vipOnly ? { ticketTypeIds: [ids.vip] } : {}),
          });
          model.coupons.push({ ...c, id: made.id, code, active: true });
        }
        await expectAgreement(eventId, model);
        for (const action of sequence) {
          await step(eventId, ids, model, action);
          await expectAgreement(eventId, model);
        }
      }),
      { numRuns: 25 },
    );
  }, 300_000);
});
