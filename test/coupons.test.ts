import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditAll, compare, recount } from '../src/bookings/ledger-audit.js';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { availability, book, bookingOf, cancel, confirm, createEvent } from './fixtures/bookings.js';
import { addCoupon, listCoupons, patchCoupon, postCoupon, redemptionsOf } from './fixtures/coupons.js';
import { addType, defaultTypeId } from './fixtures/ticket-types.js';
import { buildTestApp, type TestApp } from './helper.js';

/** Coupons end to end: terms, prices, errors, released redemptions, and bad input changing nothing. */

let t: TestApp;
let organizer: TestAccount;
let other: TestAccount;
let buyer: TestAccount;

beforeAll(async () => {
  t = await buildTestApp();
  organizer = await createAccount(t.app, { role: 'organizer' });
  other = await createAccount(t.app, { role: 'organizer' });
  buyer = await createAccount(t.app);
}, 60_000);
afterAll(() => t.close());

interface Priced {
  status: string;
  subtotal: number;
  discount: number;
  totalPrice: number;
  couponCode: string | null;
  tickets: unknown[];
  expiresAt: string | null;
}
const priced = (res: { json: () => unknown }) => (res.json() as { data: Priced }).data;
const codeOf = (res: { json: () => unknown }) => (res.json() as { code?: string }).code;

async function expectAuditClean(eventId: string) {
  const event = await t.app.models.Event.findById(eventId).lean();
  if (!event) throw new Error('no event');
  const now = t.clock.now();
  expect(compare(event, await recount(t.app.models, event, now), now)).toEqual([]);
}

describe('organizer routes', () => {
  it('creates, lists and patches; codes are unique per event, case-insensitively', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const made = await addCoupon(t.app, organizer.accessToken, eventId, { code: 'Spring-10', percentOff: 10, maxRedemptions: 5 });
    expect(made).toMatchObject({ code: 'Spring-10', percentOff: 10, amountOff: null, maxRedemptions: 5, maxPerUser: null, active: true, redemptions: 0, ticketTypeIds: [] });

    const taken = await postCoupon(t.app, organizer.accessToken, eventId, { code: 'spring-10', amountOff: 100 });
    expect(taken.statusCode).toBe(409);
    expect(codeOf(taken)).toBe('COUPON_CODE_TAKEN');
    // Another event may use the same code.
    const otherEvent = await createEvent(t.app, organizer.accessToken);
    expect((await postCoupon(t.app, organizer.accessToken, otherEvent, { code: 'SPRING-10', amountOff: 100 })).statusCode).toBe(201);

    const patched = await patchCoupon(t.app, organizer.accessToken, eventId, made.id, { active: false, maxPerUser: 2 });
    expect(patched.statusCode).toBe(200);
    expect(patched.json<{ data: unknown }>().data).toMatchObject({ active: false, maxPerUser: 2, percentOff: 10 });
    expect(await listCoupons(t.app, organizer.accessToken, eventId)).toHaveLength(1);

    // Someone else's event: 403 for another organizer, and a buyer may not manage coupons at all.
    expect((await postCoupon(t.app, other.accessToken, eventId, { code: 'X', amountOff: 1 })).statusCode).toBe(403);
    expect((await postCoupon(t.app, buyer.accessToken, eventId, { code: 'X', amountOff: 1 })).statusCode).toBe(403);
    const listed = await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}/coupons`, headers: { authorization: `Bearer ${other.accessToken}` } });
    expect(listed.statusCode).toBe(403);
  });
});

describe('prices', () => {
  it('percentOff is rounded per line, half up, in minor units, on the covered types only', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 333 });
    const ga = await defaultTypeId(t.app, eventId, organizer.accessToken);
    const vip = await addType(t.app, organizer.accessToken, eventId, { name: 'VIP', price: 5, capacity: 10 });
    const cheap = await addType(t.app, organizer.accessToken, eventId, { name: 'Cheap', price: 1005, capacity: 10 });
    await addCoupon(t.app, organizer.accessToken, eventId, { code: 'FIFTEEN', percentOff: 15, ticketTypeIds: [ga, vip.id] });
    await addCoupon(t.app, organizer.accessToken, eventId, { code: 'TEN', percentOff: 10 });

    // 15% of 3 x 333 = 149.85 -> 150; 15% of 1 x 5 = 0.75 -> 1; Cheap is not covered.
    const a = await book(t.app, buyer.accessToken, {
      eventId,
      couponCode: 'fifteen',
      items: [
        { ticketTypeId: ga, quantity: 3 },
        { ticketTypeId: vip.id, quantity: 1 },
        { ticketTypeId: cheap.id, quantity: 1 },
      ],
    });
    expect(a.statusCode).toBe(201);
    expect(priced(a)).toMatchObject({ subtotal: 999 + 5 + 1005, discount: 151, totalPrice: 999 + 5 + 1005 - 151, couponCode: 'FIFTEEN', status: 'pending' });

    // Per line, not per order: 10% of 5 = 0.5 -> 1 and 10% of 1005 = 100.5 -> 101 (a sum rounded once would give 101).
    const b = await book(t.app, buyer.accessToken, {
      eventId,
      couponCode: 'TEN',
      items: [
        { ticketTypeId: vip.id, quantity: 1 },
        { ticketTypeId: cheap.id, quantity: 1 },
      ],
    });
    expect(priced(b)).toMatchObject({ subtotal: 1010, discount: 102, totalPrice: 908 });
    await expectAuditClean(eventId);
  });

  it('amountOff comes off the order once and never below 0; a total of 0 is confirmed at once with tickets', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 1000 });
    await addCoupon(t.app, organizer.accessToken, eventId, { code: 'FIVER', amountOff: 500 });
    await addCoupon(t.app, organizer.accessToken, eventId, { code: 'BIG', amountOff: 5000, maxRedemptions: 1 });

    const once = await book(t.app, buyer.accessToken, { eventId, quantity: 3, couponCode: 'FIVER' });
    expect(priced(once)).toMatchObject({ subtotal: 3000, discount: 500, totalPrice: 2500, status: 'pending' });

    const free = await book(t.app, buyer.accessToken, { eventId, quantity: 2, couponCode: 'big' });
    expect(free.statusCode).toBe(201);
    const booking = priced(free);
    expect(booking).toMatchObject({ subtotal: 2000, discount: 2000, totalPrice: 0, status: 'confirmed', expiresAt: null });
    expect(booking.tickets).toHaveLength(2);
    const figures = await availability(t.app, eventId);
    expect(figures.confirmedTickets).toBe(2);
    expect(figures.heldTickets).toBe(3);
    const coupons = await listCoupons(t.app, organizer.accessToken, eventId);
    expect(coupons.map((c) => [c.code, c.redemptions])).toEqual([
      ['FIVER', 1],
      ['BIG', 1],
    ]);
    await expectAuditClean(eventId);
  });
});

describe('coupon errors', () => {
  it('422 COUPON_INVALID for unknown, inactive, outside its dates, covering none of the items, or of another event; nothing is booked', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 1000 });
    const otherEvent = await createEvent(t.app, organizer.accessToken, { price: 1000 });
    const vip = await addType(t.app, organizer.accessToken, eventId, { name: 'VIP', price: 2000, capacity: 10 });
    const now = t.clock.now().getTime();
    await addCoupon(t.app, organizer.accessToken, eventId, { code: 'OFF', percentOff: 10, active: false });
    await addCoupon(t.app, organizer.accessToken, eventId, { code: 'LATER', percentOff: 10, validFrom: new Date(now + 3_600_000).toISOString() });
    await addCoupon(t.app, organizer.accessToken, eventId, { code: 'GONE', percentOff: 10, validUntil: new Date(now - 1000).toISOString() });
    await addCoupon(t.app, organizer.accessToken, eventId, { code: 'VIPONLY', percentOff: 10, ticketTypeIds: [vip.id] });
    await addCoupon(t.app, organizer.accessToken, otherEvent, { code: 'ELSEWHERE', percentOff: 10 });
    const ga = await defaultTypeId(t.app, eventId, organizer.accessToken);

    for (const code of ['NOPE', 'OFF', 'LATER', 'GONE', 'VIPONLY', 'ELSEWHERE']) {
      const res = await book(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: ga, quantity: 1 }], couponCode: code });
      expect(res.statusCode, code).toBe(422);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(codeOf(res), code).toBe('COUPON_INVALID');
    }
    expect(await t.app.models.Booking.countDocuments({ eventId })).toBe(0);
    expect((await availability(t.app, eventId)).heldTickets).toBe(0);
    // The coupon covering VIP works for VIP.
    expect((await book(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: vip.id, quantity: 1 }], couponCode: 'viponly' })).statusCode).toBe(201);
  });

  it('active: false stops new redemptions; an idempotent replay returns the first answer, coupon errors included', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 1000 });
    const coupon = await addCoupon(t.app, organizer.accessToken, eventId, { code: 'ONCE', percentOff: 50, maxRedemptions: 1 });
    const first = await book(t.app, buyer.accessToken, { eventId, quantity: 1, couponCode: 'ONCE' });
    expect(first.statusCode).toBe(201);
    const second = await createAccount(t.app);
    const refused = await book(t.app, second.accessToken, { eventId, quantity: 1, couponCode: 'ONCE' }, 'rush-key');
    expect(refused.statusCode).toBe(409);
    expect(codeOf(refused)).toBe('COUPON_EXHAUSTED');

    // The redemption is given back, yet the same request with the same key still answers the first answer.
    expect((await cancel(t.app, buyer.accessToken, bookingOf(first).id)).statusCode).toBe(200);
    expect(await redemptionsOf(t.app, organizer.accessToken, eventId, coupon.id)).toBe(0);
    const replay = await book(t.app, second.accessToken, { eventId, quantity: 1, couponCode: 'ONCE' }, 'rush-key');
    expect(replay.statusCode).toBe(409);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(codeOf(replay)).toBe('COUPON_EXHAUSTED');

    expect((await patchCoupon(t.app, organizer.accessToken, eventId, coupon.id, { active: false })).statusCode).toBe(200);
    const inactive = await book(t.app, second.accessToken, { eventId, quantity: 1, couponCode: 'ONCE' });
    expect(codeOf(inactive)).toBe('COUPON_INVALID');
    expect((await patchCoupon(t.app, organizer.accessToken, eventId, coupon.id, { active: true })).statusCode).toBe(200);
    const fresh = await book(t.app, second.accessToken, { eventId, quantity: 1, couponCode: 'ONCE' });
    expect(fresh.statusCode).toBe(201);
    expect(priced(fresh)).toMatchObject({ discount: 500, totalPrice: 500 });
    await expectAuditClean(eventId);
  });
});

describe('released redemptions', () => {
  it('an expired hold or a cancel gives the redemption back at that instant; the organizer count agrees; a confirmed one stays', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 1000 });
    const coupon = await addCoupon(t.app, organizer.accessToken, eventId, { code: 'TWO', amountOff: 100, maxRedemptions: 2 });
    const [u1, u2, u3] = await Promise.all([createAccount(t.app), createAccount(t.app), createAccount(t.app)]);
    const a = await book(t.app, u1.accessToken, { eventId, quantity: 1, couponCode: 'TWO' });
    t.clock.advance(60_000);
    const b = await book(t.app, u2.accessToken, { eventId, quantity: 1, couponCode: 'TWO' });
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(await redemptionsOf(t.app, organizer.accessToken, eventId, coupon.id)).toBe(2);
    expect(codeOf(await book(t.app, u3.accessToken, { eventId, quantity: 1, couponCode: 'TWO' }))).toBe('COUPON_EXHAUSTED');

    // a's hold ends: at its expiresAt exactly, its redemption is free again.
    t.clock.set(new Date(bookingOf(a).expiresAt as string));
    expect(await redemptionsOf(t.app, organizer.accessToken, eventId, coupon.id)).toBe(1);
    await expectAuditClean(eventId);
    const c = await book(t.app, u3.accessToken, { eventId, quantity: 1, couponCode: 'TWO' });
    expect(c.statusCode).toBe(201);
    expect(await redemptionsOf(t.app, organizer.accessToken, eventId, coupon.id)).toBe(2);

    // Confirmed: it stays. Cancelled: given back.
    expect((await confirm(t.app, u3.accessToken, bookingOf(c).id)).statusCode).toBe(200);
    expect((await cancel(t.app, u2.accessToken, bookingOf(b).id)).statusCode).toBe(200);
    expect(await redemptionsOf(t.app, organizer.accessToken, eventId, coupon.id)).toBe(1);
    await expectAuditClean(eventId);
    const d = await book(t.app, u1.accessToken, { eventId, quantity: 1, couponCode: 'TWO' });
    expect(d.statusCode).toBe(201);
    expect(await redemptionsOf(t.app, organizer.accessToken, eventId, coupon.id)).toBe(2);
    // The confirmed one cancelled gives it back too.
    expect((await cancel(t.app, u3.accessToken, bookingOf(c).id)).statusCode).toBe(200);
    expect(await redemptionsOf(t.app, organizer.accessToken, eventId, coupon.id)).toBe(1);
    await expectAuditClean(eventId);
  });

  it('cancelling the event gives every redemption back', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 1000 });
    const coupon = await addCoupon(t.app, organizer.accessToken, eventId, { code: 'GONEWITHIT', amountOff: 1000, maxRedemptions: 5 });
    // One confirmed at once (free after the discount), one held.
    expect(priced(await book(t.app, buyer.accessToken, { eventId, quantity: 1, couponCode: 'GONEWITHIT' })).status).toBe('confirmed');
    expect(priced(await book(t.app, buyer.accessToken, { eventId, quantity: 2, couponCode: 'GONEWITHIT' })).status).toBe('pending');
    expect(await redemptionsOf(t.app, organizer.accessToken, eventId, coupon.id)).toBe(2);
    const cancelled = await t.app.inject({ method: 'POST', url: `/api/v1/events/${eventId}/cancel`, headers: { authorization: `Bearer ${organizer.accessToken}` } });
    expect(cancelled.statusCode).toBe(200);
    expect(await redemptionsOf(t.app, organizer.accessToken, eventId, coupon.id)).toBe(0);
    await expectAuditClean(eventId);
  });

  it('the audit fails on a coupon ledger that differs from the bookings', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 1000 });
    const coupon = await addCoupon(t.app, organizer.accessToken, eventId, { code: 'AUDIT', percentOff: 10 });
    expect((await book(t.app, buyer.accessToken, { eventId, quantity: 1, couponCode: 'AUDIT' })).statusCode).toBe(201);
    const clean = await auditAll(t.app.models, t.clock.now());
    expect(clean.differences.filter((d) => d.eventId === eventId)).toEqual([]);
    await t.app.models.Event.updateOne(
      { _id: eventId },
      { $set: { couponLedger: [{ couponId: new Types.ObjectId(coupon.id), confirmed: 1, holds: [] }] } },
    );
    const drifted = await auditAll(t.app.models, t.clock.now());
    expect(drifted.differences.filter((d) => d.eventId === eventId).map((d) => d.what).join('\n')).toMatch(/coupon .* redemptions/);
  });
});

describe('bad input changes nothing', () => {
  it('answers 400/404 and stores no coupon', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const otherEvent = await createEvent(t.app, organizer.accessToken);
    const otherType = await defaultTypeId(t.app, otherEvent, organizer.accessToken);
    const cases: [Record<string, unknown>, number][] = [
      [{ code: 'BOTH', percentOff: 10, amountOff: 100 }, 400],
      [{ code: 'NEITHER' }, 400],
      [{ code: 'ZERO', percentOff: 0 }, 400],
      [{ code: 'OVER', percentOff: 101 }, 400],
      [{ code: 'FRACTION', percentOff: 10.5 }, 400],
      [{ code: 'NEG', amountOff: -100 }, 400],
      [{ code: 'NEGLIMIT', amountOff: 100, maxRedemptions: -1 }, 400],
      [{ code: 'WITH SPACE', percentOff: 10 }, 400],
      [{ code: ' LEADING', percentOff: 10 }, 400],
      [{ code: 'X'.repeat(65), percentOff: 10 }, 400],
      [{ code: '', percentOff: 10 }, 400],
      [{ code: { $gt: '' }, percentOff: 10 }, 400],
      [{ code: 'TYPO', percentOff: 10, unknownField: 1 }, 400],
      [{ code: 'WINDOW', percentOff: 10, validFrom: '2030-01-02T00:00:00Z', validUntil: '2030-01-01T00:00:00Z' }, 400],
      [{ code: 'BADID', percentOff: 10, ticketTypeIds: ['nope'] }, 400],
      [{ code: 'UNKNOWNTYPE', percentOff: 10, ticketTypeIds: [new Types.ObjectId().toHexString()] }, 404],
      [{ code: 'OTHERTYPE', percentOff: 10, ticketTypeIds: [otherType] }, 404],
    ];
    for (const [body, status] of cases) {
      const res = await postCoupon(t.app, organizer.accessToken, eventId, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(status);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    expect((await postCoupon(t.app, organizer.accessToken, new Types.ObjectId().toHexString(), { code: 'X', amountOff: 1 })).statusCode).toBe(404);
    expect(await t.app.models.Coupon.countDocuments({})).toBe(await t.app.models.Coupon.countDocuments({ eventId: { $nin: [eventId] } }));
    expect(await listCoupons(t.app, organizer.accessToken, eventId)).toEqual([]);

    // Patching: a coupon of another event is 404 there; bad values are 400; none of it changes the coupon.
    const theirs = await addCoupon(t.app, organizer.accessToken, otherEvent, { code: 'THEIRS', percentOff: 10 });
    const before = await t.app.models.Coupon.findById(theirs.id).lean();
    expect((await patchCoupon(t.app, organizer.accessToken, eventId, theirs.id, { active: false })).statusCode).toBe(404);
    for (const body of [{}, { percentOff: 20 }, { maxPerUser: 0 }, { active: 'no' }, { code: 'NEW' }, { validUntil: '2000-01-01T00:00:00Z', validFrom: '2001-01-01T00:00:00Z' }]) {
      const res = await patchCoupon(t.app, organizer.accessToken, otherEvent, theirs.id, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    expect((await patchCoupon(t.app, organizer.accessToken, otherEvent, theirs.id, { ticketTypeIds: [new Types.ObjectId().toHexString()] })).statusCode).toBe(404);
    expect(await t.app.models.Coupon.findById(theirs.id).lean()).toEqual(before);

    // Booking with a malformed code: 400, nothing booked.
    for (const couponCode of ['has space', 'Y'.repeat(65), '', 5]) {
      const res = await book(t.app, buyer.accessToken, { eventId, quantity: 1, couponCode });
      expect(res.statusCode, String(couponCode)).toBe(400);
    }
    expect(await t.app.models.Booking.countDocuments({ eventId })).toBe(0);
  });
});
