import { importJWK, type JWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { cancel, confirm } from './fixtures/bookings.js';
import { bookSeats, createSeatedEvent, createVenue, seatMap, statuses, venueSections } from './fixtures/seats.js';
import { expectLedgerExact as expectLedgerExactOf } from './fixtures/ledger.js';
import { buildTestApp, LONG_LIVED_SESSIONS, type TestApp } from './helper.js';

let t: TestApp;
let owner: TestAccount;
let buyer: TestAccount;
let rival: TestAccount;

beforeAll(async () => {
  t = await buildTestApp({ env: { ...LONG_LIVED_SESSIONS, HOLD_TTL_SECONDS: '600' } });
  [owner, buyer, rival] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app), createAccount(t.app)]);
});
afterAll(() => t.close());

interface Booked {
  id: string;
  status: string;
  quantity: number;
  totalPrice: number;
  items: { ticketTypeId: string; name: string; quantity: number; unitPrice: number; seats?: string[] }[];
  tickets: { seat: string | null; ticketTypeId: string; code: string }[];
}
const data = <T>(res: { json: <U>() => U }) => res.json<{ data: T }>().data;

const expectLedgerExact = (eventId: string) => expectLedgerExactOf(t.app, eventId);

const patchTypeLimit = (eventId: string, typeId: string, maxPerBooking: number) =>
  t.app.inject({
    method: 'PATCH',
    url: `/api/v1/events/${eventId}/ticket-types/${typeId}`,
    headers: bearer(owner.accessToken),
    payload: { maxPerBooking },
  });

describe('a seated event', () => {
  it('offers every seat of its venue: totalTickets, the default type, a seat map of available seats', async () => {
    const venueId = await createVenue(t.app, owner.accessToken, { S: [6, 6], B: [4] });
    const { eventId, typeId } = await createSeatedEvent(t.app, owner.accessToken, venueId);
    const event = await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}` });
    expect(data<{ venueId: string; totalTickets: number; availableTickets: number; ticketTypes: { id: string; sectionIds: string[]; capacity: number }[] }>(event)).toMatchObject({
      venueId,
      totalTickets: 16,
      availableTickets: 16,
      ticketTypes: [{ id: typeId, sectionIds: ['S', 'B'], capacity: 16 }],
    });
    const map = await seatMap(t.app, eventId);
    expect(map).toMatchObject({ available: 16, held: 0, sold: 0 });
    expect(map.sections.map((s) => s.id)).toEqual(['S', 'B']);
    expect(map.sections[0].rows[0].seats.map((s) => s.id)).toEqual(['S-A1', 'S-A2', 'S-A3', 'S-A4', 'S-A5', 'S-A6']);
  });

  it('sells named seats: held, then taken for everyone else (409 naming them), sold with tickets that carry them', async () => {
    const venueId = await createVenue(t.app, owner.accessToken, { S: [6, 6] });
    const { eventId, typeId } = await createSeatedEvent(t.app, owner.accessToken, venueId, { price: 4000 });
    const res = await bookSeats(t.app, buyer.accessToken, { eventId, seats: ['S-A3', 'S-A4'] });
    expect(res.statusCode, res.body).toBe(201);
    const booking = data<Booked>(res);
    expect(booking).toMatchObject({ status: 'pending', quantity: 2, totalPrice: 8000 });
    expect(booking.items).toEqual([{ ticketTypeId: typeId, name: 'General admission', quantity: 2, unitPrice: 4000, seats: ['S-A3', 'S-A4'] }]);
    expect(statuses(await seatMap(t.app, eventId)).get('S-A3')).toBe('held');

    const clash = await bookSeats(t.app, rival.accessToken, { eventId, seats: ['S-A2', 'S-A3', 'S-A4'] });
    expect(clash.statusCode, clash.body).toBe(409);
    expect(clash.json()).toMatchObject({ code: 'SEAT_UNAVAILABLE', seats: ['S-A3', 'S-A4'] });

    const confirmed = await confirm(t.app, buyer.accessToken, booking.id);
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const tickets = data<Booked>(confirmed).tickets;
    expect(tickets.map((x) => x.seat).sort()).toEqual(['S-A3', 'S-A4']);
    // The signed code names the seat: an offline scanner with only the public key reads it.
    const key = await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}/check-in-key`, headers: bearer(owner.accessToken) });
    const publicKey = await importJWK(key.json<{ data: { publicKey: JWK } }>().data.publicKey, 'EdDSA');
    for (const ticket of tickets) {
      expect((await jwtVerify(ticket.code, publicKey, { algorithms: ['EdDSA'] })).payload.seat).toBe(ticket.seat);
    }
    const map = statuses(await seatMap(t.app, eventId));
    expect([map.get('S-A3'), map.get('S-A4'), map.get('S-A2')]).toEqual(['sold', 'sold', 'available']);
    await expectLedgerExact(eventId);

    // A cancelled booking gives its seats back at once.
    expect((await cancel(t.app, buyer.accessToken, booking.id)).statusCode).toBe(200);
    expect(statuses(await seatMap(t.app, eventId)).get('S-A3')).toBe('available');
    const again = await bookSeats(t.app, rival.accessToken, { eventId, seats: ['S-A3'] });
    expect(again.statusCode, again.body).toBe(201);
    await expectLedgerExact(eventId);
  });

  it('picks the best available seats side by side, nearest the middle of the front row, then further back', async () => {
    const venueId = await createVenue(t.app, owner.accessToken, { S: [6, 6] });
    const { eventId } = await createSeatedEvent(t.app, owner.accessToken, venueId);
    const first = data<Booked>(await bookSeats(t.app, buyer.accessToken, { eventId, quantity: 2 }));
    expect(first.items[0].seats).toEqual(['S-A3', 'S-A4']);
    const second = data<Booked>(await bookSeats(t.app, buyer.accessToken, { eventId, quantity: 2 }));
    expect(second.items[0].seats).toEqual(['S-A1', 'S-A2']);
    // Three together no longer fit in row A (only A5, A6 left): row B's middle.
    const third = data<Booked>(await bookSeats(t.app, buyer.accessToken, { eventId, quantity: 3 }));
    expect(third.items[0].seats).toEqual(['S-B2', 'S-B3', 'S-B4']);
    await expectLedgerExact(eventId);
  });

  it('frees the seats of a hold at the instant it expires', async () => {
    const venueId = await createVenue(t.app, owner.accessToken, { S: [4] });
    const { eventId } = await createSeatedEvent(t.app, owner.accessToken, venueId);
    const held = data<Booked & { expiresAt: string }>(await bookSeats(t.app, buyer.accessToken, { eventId, seats: ['S-A1', 'S-A2'] }));
    t.clock.set(new Date(Date.parse(held.expiresAt) - 1));
    expect((await bookSeats(t.app, rival.accessToken, { eventId, seats: ['S-A2'] })).statusCode).toBe(409);
    t.clock.set(new Date(Date.parse(held.expiresAt)));
    expect(statuses(await seatMap(t.app, eventId)).get('S-A2')).toBe('available');
    const res = await bookSeats(t.app, rival.accessToken, { eventId, seats: ['S-A2'] });
    expect(res.statusCode, res.body).toBe(201);
    // The expired hold cannot be confirmed any more.
    expect((await confirm(t.app, buyer.accessToken, held.id)).statusCode).toBe(410);
    await expectLedgerExact(eventId);
  });

  it('splits sections between ticket types: each sells its own seats at its price; sections never overlap', async () => {
    const venueId = await createVenue(t.app, owner.accessToken, { S: [5], B: [3] });
    const { eventId, typeId } = await createSeatedEvent(t.app, owner.accessToken, venueId, { price: 5000 });
    const stalls = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/events/${eventId}/ticket-types/${typeId}`,
      headers: bearer(owner.accessToken),
      payload: { name: 'Stalls', sectionIds: ['S'] },
    });
    expect(stalls.statusCode, stalls.body).toBe(200);
    expect(data<{ capacity: number }>(stalls).capacity).toBe(5);
    const overlap = await t.app.inject({
      method: 'POST',
      url: `/api/v1/events/${eventId}/ticket-types`,
      headers: bearer(owner.accessToken),
      payload: { name: 'Cheap', price: 100, sectionIds: ['S'] },
    });
    expect(overlap.statusCode, overlap.body).toBe(409);
    const balcony = await t.app.inject({
      method: 'POST',
      url: `/api/v1/events/${eventId}/ticket-types`,
      headers: bearer(owner.accessToken),
      payload: { name: 'Balcony', price: 2000, sectionIds: ['B'] },
    });
    expect(balcony.statusCode, balcony.body).toBe(201);
    const balconyId = data<{ id: string; capacity: number }>(balcony).id;
    expect(data<{ capacity: number }>(balcony).capacity).toBe(3);

    const res = await bookSeats(t.app, buyer.accessToken, { eventId, seats: ['S-A1', 'B-A1', 'B-A2'] });
    expect(res.statusCode, res.body).toBe(201);
    const booking = data<Booked>(res);
    expect(booking.totalPrice).toBe(5000 + 2 * 2000);
    expect(booking.items.find((i) => i.ticketTypeId === balconyId)?.seats).toEqual(['B-A1', 'B-A2']);
    const avail = await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}/availability` });
    const figures = data<{ totalTickets: number; availableTickets: number; ticketTypes: { ticketTypeId: string; availableTickets: number }[] }>(avail);
    expect(figures.totalTickets).toBe(8);
    expect(figures.availableTickets).toBe(5);
    expect(figures.ticketTypes.find((x) => x.ticketTypeId === balconyId)?.availableTickets).toBe(1);
    // Best available of a type stays in its sections.
    const more = data<Booked>(await bookSeats(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: balconyId, quantity: 1 }] }));
    expect(more.items[0].seats).toEqual(['B-A3']);
    const none = await bookSeats(t.app, buyer.accessToken, { eventId, items: [{ ticketTypeId: balconyId, quantity: 1 }] });
    expect(none.statusCode).toBe(409);
    expect(none.json()).toMatchObject({ code: 'SOLD_OUT' });
    // A section with sold or held seats cannot be taken away from its type.
    const shrink = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/events/${eventId}/ticket-types/${balconyId}`,
      headers: bearer(owner.accessToken),
      payload: { sectionIds: ['S'] },
    });
    expect(shrink.statusCode).toBe(409);
    await expectLedgerExact(eventId);
  });
});

describe('a venue that grows', () => {
  it('adds its new seats to the events seated there; removing seats of a venue in use is 409', async () => {
    const venueId = await createVenue(t.app, owner.accessToken, { S: [3] });
    const { eventId } = await createSeatedEvent(t.app, owner.accessToken, venueId);
    expect(data<Booked>(await bookSeats(t.app, buyer.accessToken, { eventId, seats: ['S-A1'] })).status).toBe('pending');
    const grow = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/venues/${venueId}`,
      headers: bearer(owner.accessToken),
      payload: { sections: venueSections({ S: [3, 4] }) },
    });
    expect(grow.statusCode, grow.body).toBe(200);
    const event = data<{ totalTickets: number; availableTickets: number }>(await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}` }));
    expect(event).toMatchObject({ totalTickets: 7, availableTickets: 6 });
    expect((await seatMap(t.app, eventId)).available).toBe(6);
    const res = await bookSeats(t.app, buyer.accessToken, { eventId, seats: ['S-B4'] });
    expect(res.statusCode, res.body).toBe(201);
    const shrink = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/venues/${venueId}`,
      headers: bearer(owner.accessToken),
      payload: { sections: venueSections({ S: [3] }) },
    });
    expect(shrink.statusCode).toBe(409);
    expect(shrink.json()).toMatchObject({ code: 'SEATS_IN_USE' });
    await expectLedgerExact(eventId);
  });
});

describe('bad seat orders', () => {
  it('answer 400 or 409 clearly and change nothing', async () => {
    const venueId = await createVenue(t.app, owner.accessToken, { S: [6] });
    const { eventId } = await createSeatedEvent(t.app, owner.accessToken, venueId, { maxTicketsPerBooking: 3 });
    const other = await createSeatedEvent(t.app, owner.accessToken, await createVenue(t.app, owner.accessToken, { X: [3] }));
    const cases: [Record<string, unknown>, number, string][] = [
      [{ eventId, seats: ['S-A1', 'NOPE-1'] }, 400, 'NOPE-1'],
      [{ eventId, seats: ['X-A1'] }, 400, 'X-A1'],
      [{ eventId, seats: ['S-A1', 'S-A1'] }, 400, 'named twice'],
      [{ eventId, seats: ['S-A1', 'S-A2', 'S-A3', 'S-A4'] }, 400, 'at most 3'],
      [{ eventId, seats: ['S-A1'], quantity: 1 }, 400, 'either seats or quantity'],
      [{ eventId: other.eventId, seats: ['S-A1'] }, 400, 'S-A1'],
      [{ eventId, seats: ['bad seat!'] }, 400, 'seat id'],
      [{ eventId, seats: ['S-A1'], items: [{ ticketTypeId: other.typeId, quantity: 1 }] }, 400, 'must match'],
    ];
    const before = await t.app.models.Booking.countDocuments({});
    // A type's own limit per booking holds for named seats too.
    const typeId = (await seatMap(t.app, eventId)).sections[0].rows[0].seats[0].ticketTypeId;
    expect((await patchTypeLimit(eventId, typeId, 2)).statusCode).toBe(200);
    cases.push([{ eventId, seats: ['S-A1', 'S-A2', 'S-A3'] }, 400, 'at most 2 seats of']);
    for (const [body, status, says] of cases) {
      const res = await bookSeats(t.app, buyer.accessToken, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(status);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body).toContain(says);
    }
    // Seats on an event without seating.
    const plain = await t.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      headers: bearer(owner.accessToken),
      payload: { name: 'Standing', venue: 'Club', startsAt: new Date(t.clock.now().getTime() + 86_400_000 * 3).toISOString(), totalTickets: 10, price: 100, currency: 'EUR', status: 'published' },
    });
    const plainId = data<{ id: string }>(plain).id;
    const onPlain = await bookSeats(t.app, buyer.accessToken, { eventId: plainId, seats: ['S-A1'] });
    expect(onPlain.statusCode).toBe(400);
    expect(onPlain.body).toContain('no reserved seating');
    expect(await t.app.models.Booking.countDocuments({})).toBe(before);
    expect(await seatMap(t.app, eventId)).toMatchObject({ available: 6, held: 0, sold: 0 });
  });

  it('an unseated event has no seat map (404); a seated event needs no totalTickets and refuses a wrong one', async () => {
    const venueId = await createVenue(t.app, owner.accessToken, { S: [2] });
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      headers: bearer(owner.accessToken),
      payload: { name: 'X', venue: 'Y', venueId, totalTickets: 5, startsAt: new Date(t.clock.now().getTime() + 86_400_000).toISOString(), price: 1, currency: 'EUR' },
    });
    expect(wrong.statusCode).toBe(400);
    const unknownVenue = await t.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      headers: bearer(owner.accessToken),
      payload: { name: 'X', venue: 'Y', venueId: '0123456789abcdef01234567', startsAt: new Date(t.clock.now().getTime() + 86_400_000).toISOString(), price: 1, currency: 'EUR' },
    });
    expect(unknownVenue.statusCode).toBe(400);
    const plain = await t.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      headers: bearer(owner.accessToken),
      payload: { name: 'X', venue: 'Y', totalTickets: 5, startsAt: new Date(t.clock.now().getTime() + 86_400_000).toISOString(), price: 1, currency: 'EUR', status: 'published' },
    });
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/events/${data<{ id: string }>(plain).id}/seats` });
    expect(res.statusCode).toBe(404);
  });
});
