import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, cancel, confirm, createEvent } from './fixtures/bookings.js';
import {
  addType,
  defaultTypeId,
  deleteType,
  listTypes,
  patchType,
  postType,
  type TicketTypeBody,
  typeAvailability,
} from './fixtures/ticket-types.js';
import { expectLedgerExact as expectLedgerExactOf } from './fixtures/ledger.js';
import { buildTestApp, LONG_LIVED_SESSIONS, type TestApp } from './helper.js';

let t: TestApp;
let owner: TestAccount;
let rival: TestAccount;
let buyer: TestAccount;

beforeAll(async () => {
  // Tests move the clock by hours; tokens must outlive that.
  t = await buildTestApp({ env: { ...LONG_LIVED_SESSIONS } });
  [owner, rival, buyer] = await Promise.all([
    createAccount(t.app, { role: 'organizer' }),
    createAccount(t.app, { role: 'organizer' }),
    createAccount(t.app),
  ]);
});
afterAll(() => t.close());

/** A published event of `total` tickets whose default type is replaced by the given types. */
async function eventWithTypes(total: number, types: Record<string, unknown>[], options: { maxTicketsPerBooking?: number } = {}) {
  const eventId = await createEvent(t.app, owner.accessToken, { totalTickets: total, maxTicketsPerBooking: options.maxTicketsPerBooking ?? 10 });
  const ga = await defaultTypeId(t.app, eventId, owner.accessToken);
  expect((await deleteType(t.app, owner.accessToken, eventId, ga)).statusCode).toBe(204);
  const made: TicketTypeBody[] = [];
  for (const body of types) made.push(await addType(t.app, owner.accessToken, eventId, body));
  return { eventId, types: made };
}

async function bookingCount(eventId: string) {
  return t.app.models.Booking.countDocuments({ eventId });
}

const expectLedgerExact = (eventId: string) => expectLedgerExactOf(t.app, eventId);

describe('an event created the old way', () => {
  it('gets one "General admission" type with its price and capacity; { eventId, quantity } buys it', async () => {
    const eventId = await createEvent(t.app, owner.accessToken, { totalTickets: 12, price: 1500 });
    const [ga] = await listTypes(t.app, eventId);
    expect(ga).toMatchObject({ name: 'General admission', price: 1500, capacity: 12, availableTickets: 12, onSale: true, hidden: false });

    const res = await book(t.app, buyer.accessToken, { eventId, quantity: 3 });
    expect(res.statusCode, res.body).toBe(201);
    const booking = bookingOf(res) as ReturnType<typeof bookingOf> & { items: unknown[]; subtotal: number; discount: number };
    expect(booking).toMatchObject({ quantity: 3, unitPrice: 1500, subtotal: 4500, discount: 0, totalPrice: 4500 });
    expect(booking.items).toEqual([{ ticketTypeId: ga.id, name: 'General admission', quantity: 3, unitPrice: 1500 }]);

    // The organizer raises the event's capacity: the default type follows (it shares the whole quota).
    const patched = await t.app.inject({ method: 'PATCH', url: `/api/v1/events/${eventId}`, headers: bearer(owner.accessToken), payload: { totalTickets: 20, price: 1800 } });
    expect(patched.statusCode, patched.body).toBe(200);
    const figures = await typeAvailability(t.app, eventId);
    expect(figures.ticketTypes).toEqual([
      { ticketTypeId: ga.id, name: 'General admission', capacity: 20, availableTickets: 17, confirmedTickets: 0, heldTickets: 3, onSale: true },
    ]);
    expect((await listTypes(t.app, eventId))[0].price).toBe(1800);
    await expectLedgerExact(eventId);
  });
});

describe('ticket type routes', () => {
  it('creates, lists by position (hidden only for the organizer), patches and deletes; the event ETag covers them', async () => {
    const eventId = await createEvent(t.app, owner.accessToken, { totalTickets: 50, price: 3000 });
    const before = await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}` });
    const vip = await addType(t.app, owner.accessToken, eventId, { name: 'VIP', price: 9000, capacity: 10, maxPerBooking: 2, position: 5 });
    expect(vip).toMatchObject({ eventId, name: 'VIP', price: 9000, currency: 'EUR', capacity: 10, maxPerBooking: 2, availableTickets: 10, onSale: true });
    const early = await addType(t.app, owner.accessToken, eventId, { name: 'Early bird', price: 2000, capacity: 20, position: 1 });
    const secret = await addType(t.app, owner.accessToken, eventId, { name: 'Crew', price: 0, capacity: 5, hidden: true });

    expect((await listTypes(t.app, eventId)).map((x) => x.name)).toEqual(['General admission', 'Early bird', 'VIP']);
    expect((await listTypes(t.app, eventId, owner.accessToken)).map((x) => x.id)).toContain(secret.id);

    const after = await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}` });
    expect(after.headers.etag).not.toBe(before.headers.etag);
    // The event's price is the lowest on-sale price (the hidden free type does not count).
    expect(after.json().data.price).toBe(2000);
    expect(after.json().data.ticketTypes.map((x: TicketTypeBody) => x.name)).toEqual(['General admission', 'Early bird', 'VIP']);

    const stale = await patchType(t.app, owner.accessToken, eventId, vip.id, { price: 9500 }, { 'if-match': String(before.headers.etag) });
    expect(stale.statusCode).toBe(412);
    const fresh = await patchType(t.app, owner.accessToken, eventId, vip.id, { price: 9500, name: 'VIP lounge' }, { 'if-match': String(after.headers.etag) });
    expect(fresh.statusCode, fresh.body).toBe(200);
    expect(fresh.json().data).toMatchObject({ name: 'VIP lounge', price: 9500 });

    expect((await patchType(t.app, rival.accessToken, eventId, vip.id, { price: 1 })).statusCode).toBe(403);
    expect((await postType(t.app, buyer.accessToken, eventId, { name: 'X', price: 1, capacity: 1 })).statusCode).toBe(403);
    expect((await deleteType(t.app, owner.accessToken, eventId, early.id)).statusCode).toBe(204);
    expect((await deleteType(t.app, owner.accessToken, eventId, early.id)).statusCode).toBe(404);
  });

  it('refuses a capacity below sold + held (409 CAPACITY_BELOW_SOLD) and deleting a type that sold (409 TICKET_TYPE_HAS_BOOKINGS)', async () => {
    const { eventId, types } = await eventWithTypes(20, [{ name: 'A', price: 1000, capacity: 8 }]);
    const [a] = types;
    expect((await book(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: a.id, quantity: 3 }] })).statusCode).toBe(201);
    const below = await patchType(t.app, owner.accessToken, eventId, a.id, { capacity: 2 });
    expect(below.statusCode).toBe(409);
    expect(below.json()).toMatchObject({ code: 'CAPACITY_BELOW_SOLD', minimumCapacity: 3, heldTickets: 3 });
    expect((await patchType(t.app, owner.accessToken, eventId, a.id, { capacity: 3 })).statusCode).toBe(200);

    const del = await deleteType(t.app, owner.accessToken, eventId, a.id);
    expect(del.statusCode).toBe(409);
    expect(del.json().code).toBe('TICKET_TYPE_HAS_BOOKINGS');
    // Hiding is the way out, and it stops sales of it.
    expect((await patchType(t.app, owner.accessToken, eventId, a.id, { hidden: true })).statusCode).toBe(200);
    const hidden = await book(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: a.id, quantity: 1 }] });
    expect(hidden.statusCode).toBe(409);
    expect(hidden.json().code).toBe('EVENT_NOT_ON_SALE');
  });

  it('validates bodies strictly', async () => {
    const eventId = await createEvent(t.app, owner.accessToken);
    for (const body of [
      {},
      { name: 'X', price: -1, capacity: 1 },
      { name: 'X', price: 1, capacity: 1.5 },
      { name: 'X', price: 1, capacity: 1, extra: true },
      { name: 'X', price: 1, capacity: 1, salesStartAt: '2031-01-02T00:00:00Z', salesEndAt: '2031-01-01T00:00:00Z' },
      { name: { $gt: '' }, price: 1, capacity: 1 },
    ]) {
      const res = await postType(t.app, owner.accessToken, eventId, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    expect(await listTypes(t.app, eventId)).toHaveLength(1);
  });
});

describe('orders of several types', () => {
  it('sells every line or none; SOLD_OUT names the type and what is left; the event quota is shared', async () => {
    // Capacities add up to 14, the event has 10.
    const { eventId, types } = await eventWithTypes(10, [
      { name: 'Standard', price: 1000, capacity: 8 },
      { name: 'VIP', price: 5000, capacity: 6 },
    ]);
    const [std, vip] = types;
    const first = await book(t.app, buyer.accessToken, {
      eventId,
      items: [
        { ticketTypeId: vip.id, quantity: 2 },
        { ticketTypeId: std.id, quantity: 5 },
      ],
    });
    expect(first.statusCode, first.body).toBe(201);
    expect(bookingOf(first)).toMatchObject({ quantity: 7, subtotal: 15_000, totalPrice: 15_000, status: 'pending' });

    // VIP has 4 of its own left, but the event only 3.
    const tooMany = await book(t.app, buyer.accessToken, {
      eventId,
      items: [
        { ticketTypeId: std.id, quantity: 1 },
        { ticketTypeId: vip.id, quantity: 3 },
      ],
    });
    expect(tooMany.statusCode).toBe(409);
    expect(tooMany.json()).toMatchObject({ code: 'SOLD_OUT', ticketTypeId: vip.id, availableTickets: 2 });
    expect(await bookingCount(eventId)).toBe(1);

    const figures = await typeAvailability(t.app, eventId);
    expect(figures).toMatchObject({ totalTickets: 10, availableTickets: 3, heldTickets: 7, confirmedTickets: 0 });
    expect(figures.ticketTypes).toEqual([
      { ticketTypeId: std.id, name: 'Standard', capacity: 8, availableTickets: 3, confirmedTickets: 0, heldTickets: 5, onSale: true },
      { ticketTypeId: vip.id, name: 'VIP', capacity: 6, availableTickets: 3, confirmedTickets: 0, heldTickets: 2, onSale: true },
    ]);

    // Confirming keeps the prices it was sold at, whatever the organizer changes; tickets carry their type.
    expect((await patchType(t.app, owner.accessToken, eventId, vip.id, { price: 7000 })).statusCode).toBe(200);
    const confirmed = await confirm(t.app, buyer.accessToken, bookingOf(first).id);
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const body = confirmed.json().data;
    expect(body.items).toEqual([
      { ticketTypeId: std.id, name: 'Standard', quantity: 5, unitPrice: 1000 },
      { ticketTypeId: vip.id, name: 'VIP', quantity: 2, unitPrice: 5000 },
    ].sort((x, y) => (x.ticketTypeId < y.ticketTypeId ? -1 : 1)));
    expect(body.totalPrice).toBe(15_000);
    const perType = body.tickets.reduce((m: Record<string, number>, x: { ticketTypeId: string }) => ({ ...m, [x.ticketTypeId]: (m[x.ticketTypeId] ?? 0) + 1 }), {});
    expect(perType).toEqual({ [std.id]: 5, [vip.id]: 2 });
    expect((await typeAvailability(t.app, eventId)).ticketTypes.map((x) => x.confirmedTickets)).toEqual([5, 2]);

    // Cancelling gives each type its tickets back.
    expect((await cancel(t.app, buyer.accessToken, body.id)).statusCode).toBe(200);
    expect((await typeAvailability(t.app, eventId)).ticketTypes.map((x) => x.availableTickets)).toEqual([8, 6]);
    await expectLedgerExact(eventId);
  });

  it('frees a type the instant its hold expires, without any sweeper', async () => {
    const { eventId, types } = await eventWithTypes(5, [{ name: 'Only', price: 100, capacity: 5 }]);
    expect((await book(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: types[0].id, quantity: 5 }] })).statusCode).toBe(201);
    expect((await typeAvailability(t.app, eventId)).ticketTypes[0].availableTickets).toBe(0);
    t.clock.advance(t.config.HOLD_TTL_SECONDS * 1000 - 1);
    expect((await typeAvailability(t.app, eventId)).ticketTypes[0].availableTickets).toBe(0);
    t.clock.advance(1);
    expect((await typeAvailability(t.app, eventId)).ticketTypes[0]).toMatchObject({ availableTickets: 5, heldTickets: 0 });
    const again = await book(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: types[0].id, quantity: 5 }] });
    expect(again.statusCode, again.body).toBe(201);
    await expectLedgerExact(eventId);
  });

  it('a free order is confirmed at once with one ticket of its type per ticket', async () => {
    const { eventId, types } = await eventWithTypes(10, [{ name: 'Free', price: 0, capacity: 4 }]);
    const res = await book(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: types[0].id, quantity: 2 }] });
    expect(res.statusCode).toBe(201);
    const booking = res.json().data;
    expect(booking.status).toBe('confirmed');
    expect(booking.tickets.map((x: { ticketTypeId: string }) => x.ticketTypeId)).toEqual([types[0].id, types[0].id]);
  });

  it('answers { eventId, quantity } with 400 TICKET_TYPE_REQUIRED when several types are on sale', async () => {
    const eventId = await createEvent(t.app, owner.accessToken, { totalTickets: 10 });
    await addType(t.app, owner.accessToken, eventId, { name: 'Second', price: 10, capacity: 5 });
    const res = await book(t.app, buyer.accessToken, { eventId, quantity: 1 });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('TICKET_TYPE_REQUIRED');
    expect(await bookingCount(eventId)).toBe(0);
  });

  it('refuses types outside their sale window (409 EVENT_NOT_ON_SALE) and shows onSale', async () => {
    const now = t.clock.now().getTime();
    const { eventId, types } = await eventWithTypes(10, [
      { name: 'Later', price: 10, capacity: 5, salesStartAt: new Date(now + 3_600_000).toISOString() },
      { name: 'Over', price: 10, capacity: 5, salesEndAt: new Date(now - 1).toISOString() },
    ]);
    for (const type of types) {
      const res = await book(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: type.id, quantity: 1 }] });
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe('EVENT_NOT_ON_SALE');
    }
    expect((await typeAvailability(t.app, eventId)).ticketTypes.map((x) => x.onSale)).toEqual([false, false]);
    t.clock.advance(3_600_000);
    expect((await typeAvailability(t.app, eventId)).ticketTypes.map((x) => x.onSale)).toEqual([true, false]);
    expect((await book(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: types[0].id, quantity: 1 }] })).statusCode).toBe(201);
  });
});

describe('bad item orders: a clear 4xx that changes nothing', () => {
  it('refuses each one', async () => {
    const { eventId, types } = await eventWithTypes(
      30,
      [
        { name: 'A', price: 100, capacity: 10, maxPerBooking: 3 },
        { name: 'B', price: 100, capacity: 10 },
        { name: 'Hidden', price: 100, capacity: 10, hidden: true },
      ],
      { maxTicketsPerBooking: 6 },
    );
    const [a, b, hidden] = types;
    const other = await createEvent(t.app, owner.accessToken);
    const otherType = await defaultTypeId(t.app, other, owner.accessToken);
    const manyLines = Array.from({ length: 21 }, () => ({ ticketTypeId: randomUUID().replace(/-/g, '').slice(0, 24), quantity: 1 }));

    const cases: [string, Record<string, unknown>, number, string][] = [
      ['empty items', { eventId, items: [] }, 400, 'VALIDATION_FAILED'],
      ['duplicate type', { eventId, items: [{ ticketTypeId: a.id, quantity: 1 }, { ticketTypeId: a.id, quantity: 1 }] }, 400, 'VALIDATION_FAILED'],
      ['quantity 0', { eventId, items: [{ ticketTypeId: a.id, quantity: 0 }] }, 400, 'VALIDATION_FAILED'],
      ['over maxPerBooking', { eventId, items: [{ ticketTypeId: a.id, quantity: 4 }] }, 400, 'VALIDATION_FAILED'],
      ['over the event max', { eventId, items: [{ ticketTypeId: a.id, quantity: 3 }, { ticketTypeId: b.id, quantity: 4 }] }, 400, 'VALIDATION_FAILED'],
      ['type of another event', { eventId, items: [{ ticketTypeId: otherType, quantity: 1 }] }, 404, 'NOT_FOUND'],
      ['hidden type', { eventId, items: [{ ticketTypeId: hidden.id, quantity: 1 }] }, 409, 'EVENT_NOT_ON_SALE'],
      ['more than 20 lines', { eventId, items: manyLines }, 400, 'VALIDATION_FAILED'],
      ['items and quantity', { eventId, quantity: 1, items: [{ ticketTypeId: a.id, quantity: 1 }] }, 400, 'VALIDATION_FAILED'],
      ['neither', { eventId }, 400, 'VALIDATION_FAILED'],
      ['malformed type id', { eventId, items: [{ ticketTypeId: 'nope', quantity: 1 }] }, 400, 'VALIDATION_FAILED'],
      ['unknown line field', { eventId, items: [{ ticketTypeId: a.id, quantity: 1, price: 0 }] }, 400, 'VALIDATION_FAILED'],
    ];
    const before = await typeAvailability(t.app, eventId);
    for (const [name, body, status, code] of cases) {
      const res = await book(t.app, buyer.accessToken, body);
      expect(res.statusCode, `${name}: ${res.body}`).toBe(status);
      expect(res.json().code, name).toBe(code);
      expect(res.headers['content-type'], name).toContain('application/problem+json');
    }
    expect(await bookingCount(eventId)).toBe(0);
    expect(await typeAvailability(t.app, eventId)).toEqual({ ...before, asOf: expect.any(String) });
    await expectLedgerExact(eventId);
  });
});

describe('idempotency of item orders', () => {
  it('treats the same lines in another order as the same request; other quantities are 422', async () => {
    const { eventId, types } = await eventWithTypes(20, [
      { name: 'A', price: 100, capacity: 10 },
      { name: 'B', price: 200, capacity: 10 },
    ]);
    const [a, b] = types;
    const key = randomUUID();
    const first = await book(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: a.id, quantity: 1 }, { ticketTypeId: b.id, quantity: 2 }] }, key);
    expect(first.statusCode).toBe(201);
    const swapped = await book(t.app, buyer.accessToken, { items: [{ quantity: 2, ticketTypeId: b.id }, { ticketTypeId: a.id, quantity: 1 }], eventId }, key);
    expect(swapped.statusCode).toBe(201);
    expect(swapped.headers['idempotent-replayed']).toBe('true');
    expect(swapped.body).toBe(first.body);
    const changed = await book(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: a.id, quantity: 2 }, { ticketTypeId: b.id, quantity: 2 }] }, key);
    expect(changed.statusCode).toBe(422);
    expect(changed.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await bookingCount(eventId)).toBe(1);
    expect((await typeAvailability(t.app, eventId)).heldTickets).toBe(3);
  });
});

describe('the listing', () => {
  it('sorts and filters by availability from the ledger, and shows the lowest on-sale price', async () => {
    const category = `cat${randomUUID().slice(0, 8)}`;
    const make = async (total: number) => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/events',
        headers: bearer(owner.accessToken),
        payload: { name: 'Listed', venue: 'Hall', startsAt: new Date(t.clock.now().getTime() + 86_400_000 * 9).toISOString(), totalTickets: total, price: 4000, currency: 'EUR', category, status: 'published' },
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json().data.id as string;
    };
    const [full, some, many] = [await make(2), await make(5), await make(9)];
    expect((await book(t.app, buyer.accessToken, { eventId: full, quantity: 2 })).statusCode).toBe(201);
    expect((await book(t.app, buyer.accessToken, { eventId: some, quantity: 1 })).statusCode).toBe(201);
    await addType(t.app, owner.accessToken, many, { name: 'Cheap', price: 1000, capacity: 3 });

    const res = await t.app.inject({ method: 'GET', url: `/api/v1/events?category=${category}&availableOnly=true&sort=-availableTickets` });
    expect(res.statusCode, res.body).toBe(200);
    const data = res.json().data as { id: string; availableTickets: number; price: number; ticketTypes: unknown[] }[];
    expect(data.map((e) => [e.id, e.availableTickets])).toEqual([
      [many, 9],
      [some, 4],
    ]);
    expect(data[0]).toMatchObject({ price: 1000 });
    expect(data[0].ticketTypes).toHaveLength(2);
    const byPrice = await t.app.inject({ method: 'GET', url: `/api/v1/events?category=${category}&sort=price` });
    expect(byPrice.json().data.map((e: { id: string }) => e.id)[0]).toBe(many);
  });
});
