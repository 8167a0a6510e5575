import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, recount } from '../src/bookings/ledger-audit.js';
import { createAccount, createAccounts, type TestAccount } from './fixtures/accounts.js';
import { book, cancel, confirm, createEvent } from './fixtures/bookings.js';
import { addType, defaultTypeId, deleteType, type TicketTypeBody, typeAvailability } from './fixtures/ticket-types.js';
import { buildTwoInstances, type InstancePair, type TestApp } from './helper.js';

/**
 * DESIGN.md 7: hundreds of concurrent orders of several types on an event whose types' capacities
 * add up to more than its total, through two app instances on one database, then confirms and
 * cancels racing new orders. No type may sell past its capacity, the event not past its total;
 * every 201 is one booking, a refused order leaves nothing, and the ledger equals a recount.
 */
const BUYERS = 300;
const TOTAL = 60;
const TYPES = [
  { name: 'Standard', price: 1000, capacity: 30 },
  { name: 'VIP', price: 2500, capacity: 25 },
  // Free: its orders are confirmed at once, so both paths (hold and sale) race here.
  { name: 'Guest', price: 0, capacity: 20 },
];

let t: TestApp;
let second: TestApp;
let pair: InstancePair;
let organizer: TestAccount;
let buyers: TestAccount[];

beforeAll(async () => {
  // A second instance of the same deployment: its own sales desk, so only the event write orders them.
  pair = await buildTwoInstances();
  ({ t, second } = pair);
  organizer = await createAccount(t.app, { role: 'organizer' });
  buyers = await createAccounts(t.app, BUYERS);
}, 120_000);
afterAll(() => pair.close());

type Order = { typeIndex: number; quantity: number }[];

/** Mixed orders: 1 to 3 distinct types, 1 to 3 tickets each (a fixed seed: the run is repeatable). */
const orders: Order[] = fc.sample(
  fc.uniqueArray(fc.record({ typeIndex: fc.nat(TYPES.length - 1), quantity: fc.integer({ min: 1, max: 3 }) }), {
    minLength: 1,
    maxLength: 3,
    selector: (line) => line.typeIndex,
  }),
  { numRuns: BUYERS * 2, seed: 1414 },
);

interface Answer {
  status: number;
  code?: string;
  booking?: { id: string; status: string; quantity: number; items: { ticketTypeId: string; quantity: number }[] };
}

const answerOf = (res: { statusCode: number; json: () => unknown }): Answer => {
  const body = res.json() as { code?: string; data?: Answer['booking'] };
  return { status: res.statusCode, code: body.code, booking: body.data };
};

async function expectWithinCapacities(eventId: string, types: TicketTypeBody[]) {
  const event = await t.app.models.Event.findById(eventId).lean();
  if (!event) throw new Error('no event');
  const now = t.clock.now();
  const counted = await recount(t.app.models, event, now);
  let taken = 0;
  for (const [i, type] of types.entries()) {
    let held = 0;
    for (const [key, n] of counted.holds) if (key.startsWith(`${type.id}|`)) held += n;
    const sold = counted.confirmed.get(type.id) ?? 0;
    expect(sold + held, `type ${type.name}`).toBeLessThanOrEqual(TYPES[i].capacity);
    taken += sold + held;
  }
  expect(taken).toBeLessThanOrEqual(TOTAL);
  // The ledger (what every sale decides on) equals the recount from the bookings.
  expect(compare(event, counted, now)).toEqual([]);
  const shown = await typeAvailability(t.app, eventId);
  expect(shown.confirmedTickets + shown.heldTickets).toBe(taken);
  expect(shown.availableTickets).toBe(TOTAL - taken);
  return taken;
}

describe('concurrent orders of several types', () => {
  it(`${BUYERS} mixed orders through two instances, then confirms and cancels racing ${BUYERS} more`, async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: TOTAL, maxTicketsPerBooking: 10 });
    const ga = await defaultTypeId(t.app, eventId, organizer.accessToken);
    expect((await deleteType(t.app, organizer.accessToken, eventId, ga)).statusCode).toBe(204);
    const types: TicketTypeBody[] = [];
    for (const type of TYPES) types.push(await addType(t.app, organizer.accessToken, eventId, type));
    const apps: FastifyInstance[] = [t.app, second.app];
    const body = (order: Order) => ({ eventId, items: order.map((l) => ({ ticketTypeId: types[l.typeIndex].id, quantity: l.quantity })) });

    let started = performance.now();
    const first = (await Promise.all(buyers.map((b, i) => book(apps[i % 2], b.accessToken, body(orders[i]))))).map(answerOf);
    console.log(`[ticket-types concurrency] ${BUYERS} orders in ${Math.round(performance.now() - started)} ms`);
    expect(first.filter((a) => a.status >= 500)).toEqual([]);
    // A refusal is for want of tickets, nothing else.
    for (const a of first) if (a.status !== 201) expect(a).toMatchObject({ status: 409, code: 'SOLD_OUT' });
    const made = first.filter((a) => a.status === 201);
    // Demand (hundreds of orders) far exceeds supply: some sold, some refused.
    expect(made.length).toBeGreaterThan(0);
    expect(made.length).toBeLessThan(BUYERS);
    const taken = await expectWithinCapacities(eventId, types);
    // Each 201 is exactly one booking; refused orders left nothing behind.
    expect(await t.app.models.Booking.countDocuments({ eventId: new Types.ObjectId(eventId) })).toBe(made.length);
    expect(new Set(made.map((a) => a.booking?.id)).size).toBe(made.length);
    expect(made.reduce((sum, a) => sum + (a.booking?.quantity ?? 0), 0)).toBe(taken);

    // Second wave: confirm half the holds, cancel a quarter of all bookings, and new orders, all at once.
    const owners = new Map(made.map((a) => [a.booking?.id, buyers[first.indexOf(a)]]));
    const pending = made.filter((a) => a.booking?.status === 'pending');
    const work: Promise<unknown>[] = [];
    pending.forEach((a, i) => {
      if (i % 2 === 0) work.push(confirm(apps[i % 2], owners.get(a.booking?.id)!.accessToken, a.booking!.id));
    });
    made.forEach((a, i) => {
      if (i % 4 === 1) work.push(cancel(apps[i % 2], owners.get(a.booking?.id)!.accessToken, a.booking!.id));
    });
    const more = buyers.map((b, i) => book(apps[(i + 1) % 2], b.accessToken, body(orders[BUYERS + i])));
    started = performance.now();
    const [, again] = await Promise.all([Promise.all(work), Promise.all(more)]);
    console.log(`[ticket-types concurrency] ${work.length} confirms/cancels racing ${BUYERS} orders in ${Math.round(performance.now() - started)} ms`);
    const later = again.map(answerOf);
    expect(later.filter((a) => a.status >= 500)).toEqual([]);
    for (const a of later) if (a.status !== 201) expect(a).toMatchObject({ status: 409, code: 'SOLD_OUT' });
    await expectWithinCapacities(eventId, types);
    const all = made.length + later.filter((a) => a.status === 201).length;
    expect(await t.app.models.Booking.countDocuments({ eventId: new Types.ObjectId(eventId) })).toBe(all);

    // Once every hold has expired, only the confirmed tickets count, still exactly.
    t.clock.advance(t.config.HOLD_TTL_SECONDS * 1000);
    const confirmedOnly = await expectWithinCapacities(eventId, types);
    const confirmed = await t.app.models.Booking.find({ eventId: new Types.ObjectId(eventId), status: 'confirmed' }).lean();
    expect(confirmed.reduce((sum, b) => sum + b.quantity, 0)).toBe(confirmedOnly);
  }, 120_000);
});
