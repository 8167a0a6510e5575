import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditAll } from '../src/bookings/ledger-audit.js';
import { migrateAll } from '../src/bookings/migrate.js';
import { refreshListedAvailability } from '../src/events/listing-refresh.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, cancel } from './fixtures/bookings.js';
import { bookSeats, createSeatedEvent, createVenue, venueSections } from './fixtures/seats.js';
import { buildTestApp, type TestApp } from './helper.js';

/**
 * The listing's availability projection (src/events/listing-projection.ts): availableOnly and the
 * availability sorts order and filter by a figure every ledger write stores, refreshed after holds
 * run out; the figures in the answers stay exact. Everything goes through HTTP but the refresh
 * pass, which the hold sweeper's loop runs in production.
 */

let t: TestApp;
let organizer: TestAccount;
let buyer: TestAccount;
const HOLD_MS = 10 * 60_000;

beforeAll(async () => {
  t = await buildTestApp();
});
// Fresh tokens for each test: the tests move the clock past holds, and tokens expire with it.
beforeEach(async () => {
  [organizer, buyer] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app)]);
});
afterAll(() => t.close());

const refresh = () => refreshListedAvailability({ db: t.app.db, models: t.app.models, clock: t.clock, log: t.app.log, txTimeoutMs: 5000 });

/** Lets every cached listing page age out (they live EVENT_CACHE_TTL_SECONDS on the app clock). */
const agePages = () => t.clock.advance(t.config.EVENT_CACHE_TTL_SECONDS * 1000 + 1);

/** Published events of one test, named `<tag> <name>`, all starting on the same day (ties by startsAt, then id). */
async function makeEvents(tag: string, specs: { name: string; totalTickets: number; price?: number; inDays: number }[]) {
  const ids: Record<string, string> = {};
  for (const spec of specs) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      headers: bearer(organizer.accessToken),
      payload: {
        name: `${tag} ${spec.name}`,
        venue: 'Hall',
        startsAt: new Date(t.clock.now().getTime() + spec.inDays * 86_400_000).toISOString(),
        totalTickets: spec.totalTickets,
        price: spec.price ?? 1000,
        currency: 'EUR',
        status: 'published',
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    ids[spec.name] = res.json<{ data: { id: string } }>().data.id;
  }
  return ids;
}

interface Listed {
  names: string[];
  available: Record<string, number>;
  total: number;
}

async function list(tag: string, query: string): Promise<Listed> {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/events?q=${encodeURIComponent(tag)}&limit=100&${query}` });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json<{ data: { name: string; availableTickets: number }[]; meta: { total: number } }>();
  const names = body.data.map((e) => e.name.slice(tag.length + 1));
  return { names, available: Object.fromEntries(body.data.map((e, i) => [names[i], e.availableTickets])), total: body.meta.total };
}

async function hold(eventId: string, quantity: number) {
  const res = await book(t.app, buyer.accessToken, { eventId, quantity });
  expect(res.statusCode, res.body).toBe(201);
  return bookingOf(res);
}

describe('listing by availability', () => {
  it('orders and filters by what sales and holds leave, with exact figures in the answer', async () => {
    const tag = `P${randomUUID().slice(0, 8)}`;
    const ids = await makeEvents(tag, [
      { name: 'A', totalTickets: 10, inDays: 1 },
      { name: 'B', totalTickets: 10, inDays: 2 },
      { name: 'C', totalTickets: 4, inDays: 3 },
      { name: 'Free', totalTickets: 6, price: 0, inDays: 4 },
    ]);
    // Nothing sold: by capacity, ties by startsAt.
    expect((await list(tag, 'sort=-availableTickets')).names).toEqual(['A', 'B', 'Free', 'C']);

    await hold(ids.A!, 7); // A: 3 left while held
    await hold(ids.C!, 4); // C: sold out while held
    expect((await book(t.app, buyer.accessToken, { eventId: ids.Free!, quantity: 1 })).statusCode).toBe(201); // confirmed at once: 5 left
    agePages();
    const down = await list(tag, 'sort=-availableTickets');
    expect(down.names).toEqual(['B', 'Free', 'A', 'C']);
    expect(down.available).toEqual({ A: 3, B: 10, C: 0, Free: 5 });
    expect((await list(tag, 'sort=availableTickets')).names).toEqual(['C', 'A', 'Free', 'B']);
    const onlyAvailable = await list(tag, 'availableOnly=true');
    expect(onlyAvailable.names).toEqual(['A', 'B', 'Free']);
    expect(onlyAvailable.total).toBe(3);
  });

  it('after a hold runs out: never shows more than the truth, the answer is exact, the refresh restores the order', async () => {
    const tag = `H${randomUUID().slice(0, 8)}`;
    const ids = await makeEvents(tag, [
      { name: 'Held', totalTickets: 5, inDays: 1 },
      { name: 'Half', totalTickets: 8, inDays: 2 },
      { name: 'Other', totalTickets: 3, inDays: 3 },
    ]);
    await hold(ids.Held!, 5);
    await hold(ids.Half!, 4);
    agePages();
    expect((await list(tag, 'availableOnly=true')).names).toEqual(['Half', 'Other']);
    expect((await list(tag, 'sort=-availableTickets')).names).toEqual(['Half', 'Other', 'Held']);

    t.clock.advance(HOLD_MS + 1); // both holds run out; nothing is written at that instant
    // Ordered by the projection (still 0 and 4), yet each figure sent is the ledger's now.
    const stale = await list(tag, 'sort=-availableTickets');
    expect(stale.names).toEqual(['Half', 'Other', 'Held']);
    expect(stale.available).toEqual({ Held: 5, Half: 8, Other: 3 });
    expect((await list(tag, 'availableOnly=true')).names).toEqual(['Half', 'Other']);

    // The refresh pass takes the events whose holds ran out (here and in the tests before), and only those.
    const before = await t.app.models.Event.findById(ids.Other).lean();
    const due = await t.app.models.Event.countDocuments({ listedUntil: { $lte: t.clock.now() } });
    expect(due).toBeGreaterThanOrEqual(2);
    expect(await refresh()).toBe(due);
    expect(await refresh()).toBe(0);
    const after = await t.app.models.Event.findById(ids.Other).lean();
    expect(after?.salesVersion).toBe(before?.salesVersion);
    agePages();
    const fresh = await list(tag, 'sort=-availableTickets');
    expect(fresh.names).toEqual(['Half', 'Held', 'Other']);
    expect(fresh.available).toEqual({ Held: 5, Half: 8, Other: 3 });
    expect((await list(tag, 'availableOnly=true')).names).toEqual(['Held', 'Half', 'Other']);
  });

  it('the hold sweeper run refreshes it too, and a sale in between needs no refresh', async () => {
    const tag = `S${randomUUID().slice(0, 8)}`;
    const ids = await makeEvents(tag, [
      { name: 'Swept', totalTickets: 2, inDays: 1 },
      { name: 'Sold', totalTickets: 2, inDays: 2 },
    ]);
    await hold(ids.Swept!, 2);
    await hold(ids.Sold!, 2);
    t.clock.advance(HOLD_MS + 1);
    // A sale of the event writes the projection from the ledger at its instant: the run-out hold is gone.
    await hold(ids.Sold!, 1);
    expect(await t.app.outboxRuntime.sweepOnce()).not.toBeNull();
    agePages();
    const listed = await list(tag, 'sort=-availableTickets');
    expect(listed.names).toEqual(['Swept', 'Sold']);
    expect(listed.available).toEqual({ Swept: 2, Sold: 1 });
    expect(await refresh()).toBe(0);
  });

  it('follows cancellations, capacity changes and the event being cancelled', async () => {
    const tag = `C${randomUUID().slice(0, 8)}`;
    const ids = await makeEvents(tag, [
      { name: 'X', totalTickets: 6, inDays: 1 },
      { name: 'Y', totalTickets: 5, inDays: 2 },
    ]);
    const booking = await hold(ids.X!, 4); // X: 2 left
    agePages();
    expect((await list(tag, 'sort=-availableTickets')).names).toEqual(['Y', 'X']);

    expect((await cancel(t.app, buyer.accessToken, booking.id)).statusCode).toBe(200); // X: 6 left
    agePages();
    expect((await list(tag, 'sort=-availableTickets')).names).toEqual(['X', 'Y']);

    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/events/${ids.Y}`,
      headers: bearer(organizer.accessToken),
      payload: { totalTickets: 9 },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect((await list(tag, 'sort=-availableTickets')).names).toEqual(['Y', 'X']);

    await hold(ids.Y!, 9); // Y sold out while held
    const cancelled = await t.app.inject({ method: 'POST', url: `/api/v1/events/${ids.Y}/cancel`, headers: bearer(organizer.accessToken) });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    const listed = await list(tag, 'availableOnly=true');
    expect(listed.names).toEqual(['X']);
    // The cancel cleared the ledger and its projection with it: nothing is left stale to refresh.
    const stored = await t.app.models.Event.findById(ids.Y).lean();
    expect(stored).toMatchObject({ listedAvailable: 9, listedUntil: null });
  });

  it('follows a seated event: its venue\'s seats, a seat held, the venue growing', async () => {
    const venueId = await createVenue(t.app, organizer.accessToken, { S: [3] });
    const { eventId } = await createSeatedEvent(t.app, organizer.accessToken, venueId);
    const stored = () => t.app.models.Event.findById(eventId).lean();
    expect((await stored())?.listedAvailable).toBe(3);
    expect((await bookSeats(t.app, buyer.accessToken, { eventId, seats: ['S-A1'] })).statusCode).toBe(201);
    expect((await stored())?.listedAvailable).toBe(2);
    const grow = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/venues/${venueId}`,
      headers: bearer(organizer.accessToken),
      payload: { sections: venueSections({ S: [3, 4] }) },
    });
    expect(grow.statusCode, grow.body).toBe(200);
    // Written by the re-seating itself, before any sale of the event.
    expect((await stored())?.listedAvailable).toBe(6);
  });

  it('db:migrate fills the projection of events stored before it, and the audit checks it', async () => {
    const tag = `M${randomUUID().slice(0, 8)}`;
    const ids = await makeEvents(tag, [{ name: 'Old', totalTickets: 7, inDays: 1 }]);
    await hold(ids.Old!, 2);
    await t.app.models.Event.updateOne({ _id: ids.Old }, { $unset: { listedAvailable: 1, listedUntil: 1 } });
    const missing = await auditAll(t.app.models, t.clock.now());
    expect(missing.differences.filter((d) => d.eventId === ids.Old).map((d) => d.what)).toEqual([
      'listing availability missing (run npm run db:migrate)',
    ]);
    agePages();
    expect((await list(tag, 'availableOnly=true')).names).toEqual([]);

    expect(await migrateAll(t.app.db, t.app.models, () => t.clock.now())).toEqual({ events: 0, listings: 1, bookings: 0 });
    const stored = await t.app.models.Event.findById(ids.Old).lean();
    expect(stored?.listedAvailable).toBe(5);
    expect(stored?.listedUntil).toBeInstanceOf(Date);
    agePages();
    expect((await list(tag, 'availableOnly=true')).names).toEqual(['Old']);
    expect((await auditAll(t.app.models, t.clock.now())).differences.filter((d) => d.eventId === ids.Old)).toEqual([]);

    // A projection above what the ledger leaves is a difference; one below it only once stale.
    await t.app.models.Event.updateOne({ _id: ids.Old }, { $set: { listedAvailable: 6 } });
    const above = await auditAll(t.app.models, t.clock.now());
    expect(above.differences.filter((d) => d.eventId === ids.Old)).toEqual([{ eventId: ids.Old, what: 'listing availability', ledger: 6, bookings: 5 }]);
    await t.app.models.Event.updateOne({ _id: ids.Old }, { $set: { listedAvailable: 5 } });
    t.clock.advance(HOLD_MS + 1); // stale: 5 listed, 7 left
    expect((await auditAll(t.app.models, t.clock.now())).differences.filter((d) => d.eventId === ids.Old)).toEqual([]);
  });
});
