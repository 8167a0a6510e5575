import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotStats, type TransactionStats } from '../src/lib/transaction.js';
import { createAccount, createAccounts, type TestAccount } from './fixtures/accounts.js';
import { availability, book, createEvent } from './fixtures/bookings.js';
import { buildSiblingApp, buildTestApp, type TestApp } from './helper.js';

/**
 * DESIGN.md 1: hundreds of concurrent buyers against a small event. Each buyer is a separate
 * account, each request its own Idempotency-Key; everything goes through HTTP.
 */
const BUYERS = 500;
const TICKETS = 50;

let t: TestApp;
let organizer: TestAccount;
let buyers: TestAccount[];

beforeAll(async () => {
  t = await buildTestApp();
  organizer = await createAccount(t.app, { role: 'organizer' });
  const started = performance.now();
  buyers = await createAccounts(t.app, BUYERS);
  console.log(`[concurrency] ${BUYERS} accounts registered over HTTP in ${Math.round(performance.now() - started)} ms`);
}, 120_000);
afterAll(() => t.close());

function diff(after: TransactionStats, before: TransactionStats): TransactionStats {
  return {
    transactions: after.transactions - before.transactions,
    attempts: after.attempts - before.attempts,
    conflicts: after.conflicts - before.conflicts,
    commitRetries: after.commitRetries - before.commitRetries,
    exhausted: after.exhausted - before.exhausted,
  };
}

interface Outcome {
  status: number;
  code?: string;
  quantity: number;
  availableTickets?: number;
}

async function rush(
  eventId: string,
  quantityOf: (i: number) => number,
  apps: FastifyInstance[] = [t.app],
): Promise<Outcome[]> {
  const before = snapshotStats();
  const started = performance.now();
  const responses = await Promise.all(
    buyers.map((buyer, i) => book(apps[i % apps.length], buyer.accessToken, { eventId, quantity: quantityOf(i) })),
  );
  const ms = Math.round(performance.now() - started);
  const stats = diff(snapshotStats(), before);
  console.log(
    `[concurrency] ${BUYERS} purchases through ${apps.length} app(s) in ${ms} ms: ${stats.transactions} transactions, ${stats.attempts} attempts, ` +
      `${stats.conflicts} conflicts retried, ${stats.commitRetries} commit retries, ${stats.exhausted} gave up`,
  );
  for (const res of responses) if (res.statusCode >= 500) console.log('[concurrency] 5xx:', res.statusCode, res.body);
  return responses.map((res, i) => {
    const body = res.json<{ code?: string; availableTickets?: number }>();
    return { status: res.statusCode, code: body.code, quantity: quantityOf(i), availableTickets: body.availableTickets };
  });
}

/** Confirmed plus live held tickets of the event, summed from the booking documents themselves. */
async function ticketsTaken(eventId: string): Promise<number> {
  const bookings = await t.app.models.Booking.find({ eventId: new Types.ObjectId(eventId) }).lean();
  const now = t.app.clock.now();
  return bookings
    .filter((b) => b.status === 'confirmed' || (b.status === 'pending' && b.expiresAt && b.expiresAt > now))
    .reduce((sum, b) => sum + b.quantity, 0);
}

describe('concurrent purchases never oversell', () => {
  it(`${BUYERS} buyers of one ticket each: exactly ${TICKETS} held, the rest SOLD_OUT`, async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: TICKETS, maxTicketsPerBooking: 4 });
    const outcomes = await rush(eventId, () => 1);

    const created = outcomes.filter((o) => o.status === 201);
    const rest = outcomes.filter((o) => o.status !== 201);
    expect(outcomes.filter((o) => o.status >= 500)).toEqual([]);
    expect(created).toHaveLength(TICKETS);
    expect(rest.every((o) => o.status === 409 && o.code === 'SOLD_OUT' && o.availableTickets === 0)).toBe(true);
    expect(await ticketsTaken(eventId)).toBe(TICKETS);
    expect((await availability(t.app, eventId)).availableTickets).toBe(0);
  });

  it(`${BUYERS} buyers of 1 to 4 tickets: held tickets add up to exactly ${TICKETS}`, async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: TICKETS, maxTicketsPerBooking: 4 });
    const outcomes = await rush(eventId, (i) => (i % 4) + 1);

    expect(outcomes.filter((o) => o.status >= 500)).toEqual([]);
    const held = outcomes.filter((o) => o.status === 201).reduce((sum, o) => sum + o.quantity, 0);
    const refused = outcomes.filter((o) => o.status !== 201);
    // Demand (1250 tickets, a quarter of the requests for one) far exceeds supply, so it sells out exactly.
    expect(held).toBe(TICKETS);
    for (const o of refused) {
      expect(o).toMatchObject({ status: 409, code: 'SOLD_OUT' });
      // A refusal is only ever for want of tickets: fewer were left than this buyer asked for.
      expect(o.availableTickets).toBeLessThan(o.quantity);
    }
    expect(await ticketsTaken(eventId)).toBe(TICKETS);
    expect((await availability(t.app, eventId)).availableTickets).toBe(0);
  });

  it('three app instances on one database: their transactions conflict, are retried, and still sell exactly 50', async () => {
    // Same database, Redis prefix and token secret: three instances of one deployment. Each has its
    // own sales desk, so only the event-document write orders them (DESIGN.md 1).
    const others = await Promise.all([1, 2].map(() => buildSiblingApp(t)));
    try {
      const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: TICKETS, maxTicketsPerBooking: 4 });
      const before = snapshotStats();
      const outcomes = await rush(eventId, (i) => (i % 4) + 1, [t.app, ...others.map((o) => o.app)]);
      const stats = diff(snapshotStats(), before);

      expect(outcomes.filter((o) => o.status >= 500)).toEqual([]);
      expect(outcomes.filter((o) => o.status === 201).reduce((sum, o) => sum + o.quantity, 0)).toBe(TICKETS);
      expect(outcomes.every((o) => o.status === 201 || o.code === 'SOLD_OUT')).toBe(true);
      expect(await ticketsTaken(eventId)).toBe(TICKETS);
      // The instances really did collide on the event document, and the retries resolved it.
      expect(stats.conflicts).toBeGreaterThan(0);
    } finally {
      // Not close(): that would drop the shared database. Only the extra apps' connections go.
      await Promise.all(others.map((o) => o.app.close()));
    }
  });
});
