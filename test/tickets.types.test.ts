import { importJWK, type JWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, confirm, createEvent } from './fixtures/bookings.js';
import { addType, defaultTypeId } from './fixtures/ticket-types.js';
import { scan, stats, type TicketBody } from './fixtures/tickets.js';
import { buildTestApp, type TestApp } from './helper.js';

/**
 * Tickets of an order of several types: one signed ticket per unit of each line, and the ticket a
 * code names (read back through GET /tickets/:id) carries its own line's type, whether the order
 * was confirmed (paid) or confirmed at once (free).
 */

let t: TestApp;
let organizer: TestAccount;
let buyer: TestAccount;

beforeAll(async () => {
  t = await buildTestApp();
  organizer = await createAccount(t.app, { role: 'organizer' });
  buyer = await createAccount(t.app);
});
afterAll(() => t?.close());

interface Line {
  ticketTypeId: string;
  quantity: number;
}

/** An event with its default type and two more, all at `price`. */
async function eventWithThreeTypes(price: number) {
  const eventId = await createEvent(t.app, organizer.accessToken, { price, totalTickets: 200, maxTicketsPerBooking: 20 });
  const general = await defaultTypeId(t.app, eventId, organizer.accessToken);
  const vip = await addType(t.app, organizer.accessToken, eventId, { name: 'VIP', price, capacity: 30 });
  const balcony = await addType(t.app, organizer.accessToken, eventId, { name: 'Balcony', price, capacity: 30 });
  return { eventId, typeIds: [general, vip.id, balcony.id] };
}

async function publicKey(eventId: string): Promise<JWK> {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}/check-in-key`, headers: bearer(organizer.accessToken) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ data: { publicKey: JWK } }>().data.publicKey;
}

/**
 * For every ticket: the code verifies with the published key and names this event; the ticket it
 * names, read through GET /tickets/:id, carries a type. Returns how many tickets each type got.
 */
async function typesNamedByCodes(eventId: string, tickets: TicketBody[]): Promise<Map<string, number>> {
  const key = await importJWK(await publicKey(eventId), 'EdDSA');
  const perType = new Map<string, number>();
  for (const ticket of tickets) {
    const { payload } = await jwtVerify(ticket.code, key, { algorithms: ['EdDSA'] });
    expect(payload.eid).toBe(eventId);
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/tickets/${String(payload.sub)}`, headers: bearer(buyer.accessToken) });
    expect(res.statusCode, res.body).toBe(200);
    const read = res.json<{ data: TicketBody & { eventId: string } }>().data;
    expect(read).toMatchObject({ id: ticket.id, number: payload.num, eventId, status: 'valid', code: ticket.code });
    expect(read.ticketTypeId).toBe(ticket.ticketTypeId);
    expect(read.ticketTypeId).not.toBeNull();
    perType.set(read.ticketTypeId as string, (perType.get(read.ticketTypeId as string) ?? 0) + 1);
  }
  expect(new Set(tickets.map((x) => x.number)).size).toBe(tickets.length);
  expect(new Set(tickets.map((x) => x.id)).size).toBe(tickets.length);
  return perType;
}

const expected = (lines: Line[]) => new Map(lines.map((l) => [l.ticketTypeId, l.quantity]));

describe("a multi-type order's tickets carry each line's type", () => {
  it('paid: the confirm issues one signed ticket per unit of each line, with its type', async () => {
    const { eventId, typeIds } = await eventWithThreeTypes(2500);
    const lines: Line[] = [
      { ticketTypeId: typeIds[1], quantity: 3 },
      { ticketTypeId: typeIds[0], quantity: 1 },
      { ticketTypeId: typeIds[2], quantity: 2 },
    ];
    const held = await book(t.app, buyer.accessToken, { eventId, items: lines });
    expect(held.statusCode, held.body).toBe(201);
    const pending = held.json<{ data: { id: string; status: string; tickets: TicketBody[] } }>().data;
    expect(pending).toMatchObject({ status: 'pending', tickets: [] });

    const res = await confirm(t.app, buyer.accessToken, pending.id);
    expect(res.statusCode, res.body).toBe(200);
    const tickets = res.json<{ data: { tickets: TicketBody[] } }>().data.tickets;
    expect(tickets).toHaveLength(6);
    expect(await typesNamedByCodes(eventId, tickets)).toEqual(expected(lines));

    // The door counts them per type too.
    const first = tickets.find((x) => x.ticketTypeId === typeIds[1]) as TicketBody;
    expect((await scan(t.app, organizer.accessToken, eventId, { code: first.code })).statusCode).toBe(200);
    const figures = await stats(t.app, organizer.accessToken, eventId);
    expect(figures).toMatchObject({ checkedIn: 1, tickets: 6 });
    const byType = new Map(figures.byTicketType.map((x) => [x.ticketTypeId, x]));
    expect(byType.get(typeIds[1])).toMatchObject({ checkedIn: 1, tickets: 3 });
    expect(byType.get(typeIds[0])).toMatchObject({ checkedIn: 0, tickets: 1 });
    expect(byType.get(typeIds[2])).toMatchObject({ checkedIn: 0, tickets: 2 });
  });

  it('free: the order is confirmed at once with one signed ticket per unit of each line, with its type', async () => {
    const { eventId, typeIds } = await eventWithThreeTypes(0);
    const lines: Line[] = [
      { ticketTypeId: typeIds[2], quantity: 4 },
      { ticketTypeId: typeIds[0], quantity: 2 },
    ];
    const res = await book(t.app, buyer.accessToken, { eventId, items: lines });
    expect(res.statusCode, res.body).toBe(201);
    const booking = res.json<{ data: { status: string; tickets: TicketBody[] } }>().data;
    expect(booking.status).toBe('confirmed');
    expect(booking.tickets).toHaveLength(6);
    expect(await typesNamedByCodes(eventId, booking.tickets)).toEqual(expected(lines));
    // The type with no line got no ticket.
    expect(booking.tickets.some((x) => x.ticketTypeId === typeIds[1])).toBe(false);
  });
});
