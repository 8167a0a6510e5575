import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditAll, rebuildLedger } from '../src/bookings/ledger-audit.js';
import { migrateAll } from '../src/bookings/migrate.js';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, createEvent } from './fixtures/bookings.js';
import { typeAvailability } from './fixtures/ticket-types.js';
import { buildTestApp, type TestApp } from './helper.js';

/**
 * Data from before ticket types (events without types or ledger, bookings without items):
 * `npm run db:migrate` gives it what the code expects, and a second run changes nothing;
 * `npm run audit:availability` recounts every figure and exits non-zero on any difference.
 */
const run = promisify(execFile);

let t: TestApp;
let buyer: TestAccount;
const organizerId = new Types.ObjectId();

beforeAll(async () => {
  t = await buildTestApp();
  buyer = await createAccount(t.app);
});
afterAll(() => t.close());

/** An event and its bookings stored the way the code before ticket types stored them. */
async function oldEvent(total: number): Promise<Types.ObjectId> {
  const now = t.clock.now();
  const _id = new Types.ObjectId();
  await t.app.models.Event.collection.insertOne({
    _id,
    name: 'Old concert',
    description: '',
    venue: 'Old hall',
    category: 'music',
    startsAt: new Date(now.getTime() + 30 * 86_400_000),
    endsAt: null,
    totalTickets: total,
    price: 1200,
    currency: 'EUR',
    maxTicketsPerBooking: 10,
    status: 'published',
    organizerId,
    salesVersion: 4,
    revision: 1,
    createdAt: now,
    updatedAt: now,
  });
  const rows: [string, number, number | null][] = [
    ['confirmed', 3, null],
    ['pending', 2, 600_000],
    // Expired by an hour: the audit script judges holds by the wall clock, not the test clock.
    ['pending', 4, -3_600_000],
    ['cancelled', 1, null],
  ];
  for (const [status, quantity, holdMs] of rows) {
    await t.app.models.Booking.collection.insertOne({
      eventId: _id,
      userId: new Types.ObjectId(),
      quantity,
      status,
      unitPrice: 1200,
      totalPrice: 1200 * quantity,
      currency: 'EUR',
      expiresAt: holdMs === null ? null : new Date(now.getTime() + holdMs),
      // Ids and a check-in, as tickets issued with codes have (src/tickets): the migration keeps them.
      tickets:
        status === 'confirmed'
          ? Array.from({ length: quantity }, (_, i) => ({ _id: new Types.ObjectId(), number: `OLD${_id.toHexString()}${i}`, checkedInAt: i === 0 ? now : null }))
          : [],
      createdAt: now,
      updatedAt: now,
    });
  }
  return _id;
}

const snapshot = async () => ({
  events: await t.app.models.Event.find().sort({ _id: 1 }).lean(),
  bookings: await t.app.models.Booking.find().sort({ _id: 1 }).lean(),
});

const script = (name: string) =>
  run('npx', ['tsx', `scripts/${name}.ts`], { env: { ...process.env, MONGODB_URI: t.config.MONGODB_URI, NODE_ENV: 'test' } }).then(
    (r) => ({ code: 0, out: r.stdout }),
    (err: { code: number; stdout: string }) => ({ code: err.code, out: err.stdout }),
  );

describe('db:migrate and audit:availability', () => {
  it('reads an unmigrated event from a recount, migrates it once, and the audit agrees', async () => {
    const eventId = await oldEvent(20);
    // Before the migration the figures come from the bookings themselves.
    expect(await typeAvailability(t.app, String(eventId))).toMatchObject({ availableTickets: 15, confirmedTickets: 3, heldTickets: 2, ticketTypes: [] });
    const before = await auditAll(t.app.models, t.clock.now());
    expect(before.differences.map((d) => d.what)).toContain('not migrated (run npm run db:migrate)');

    const unmigrated = await snapshot();
    const first = await migrateAll(t.app.db, t.app.models, () => t.clock.now());
    expect(first).toEqual({ events: 1, listings: 0, bookings: 4 });
    const migrated = await snapshot();
    // Each ticket gets its type in place: its id, number and check-in stay as they were.
    const fieldsBut = (b: { tickets: object[] }) => b.tickets.map((x) => ({ ...x, ticketTypeId: undefined }));
    expect(migrated.bookings.map(fieldsBut)).toEqual(unmigrated.bookings.map(fieldsBut));
    const second = await migrateAll(t.app.db, t.app.models, () => t.clock.now());
    expect(second).toEqual({ events: 0, listings: 0, bookings: 0 });
    expect(await snapshot()).toEqual(migrated);

    const event = migrated.events.find((e) => e._id.equals(eventId));
    const ga = event?.ticketTypes[0];
    expect(ga).toMatchObject({ name: 'General admission', price: 1200, capacity: null, confirmed: 3 });
    for (const b of migrated.bookings.filter((x) => x.eventId.equals(eventId))) {
      expect(b.items).toEqual([{ ticketTypeId: ga?._id, name: 'General admission', quantity: b.quantity, unitPrice: 1200 }]);
      expect(b.subtotal).toBe(b.totalPrice);
      for (const ticket of b.tickets) expect(ticket.ticketTypeId).toEqual(ga?._id);
    }
    // The migration has no read cache to invalidate: the cached answer ages out within its TTL.
    t.clock.advance(t.config.EVENT_CACHE_TTL_SECONDS * 1000 + 1);
    const figures = await typeAvailability(t.app, String(eventId));
    expect(figures).toMatchObject({ availableTickets: 15, confirmedTickets: 3, heldTickets: 2 });
    expect(figures.ticketTypes).toEqual([
      { ticketTypeId: String(ga?._id), name: 'General admission', capacity: 20, availableTickets: 15, confirmedTickets: 3, heldTickets: 2, onSale: true },
    ]);
    expect((await auditAll(t.app.models, t.clock.now())).differences).toEqual([]);
  });

  it('migrates an old event at its first sale, inside the sales transaction', async () => {
    const eventId = await oldEvent(6);
    const res = await book(t.app, buyer.accessToken, { eventId: String(eventId), quantity: 1 });
    expect(res.statusCode, res.body).toBe(201);
    expect(bookingOf(res).quantity).toBe(1);
    const figures = await typeAvailability(t.app, String(eventId));
    expect(figures).toMatchObject({ availableTickets: 0, confirmedTickets: 3, heldTickets: 3 });
    const sold = await book(t.app, buyer.accessToken, { eventId: String(eventId), quantity: 1 });
    expect(sold.json()).toMatchObject({ code: 'SOLD_OUT', availableTickets: 0 });
    // The bookings still lack items (db:migrate adds them), yet every figure already agrees.
    const audit = await auditAll(t.app.models, t.clock.now());
    expect(audit.differences.filter((d) => d.eventId === String(eventId))).toEqual([]);
  });

  it('npm run audit:availability exits 1 on a difference and 0 once the ledger is right; npm run db:migrate twice changes nothing', async () => {
    await migrateAll(t.app.db, t.app.models, () => t.clock.now());
    const clean = await script('audit-availability');
    expect(clean.code, clean.out).toBe(0);

    const event = await t.app.models.Event.findOne({ ledgerVersion: 1 }).lean();
    if (!event) throw new Error('no event');
    await t.app.models.Event.updateOne({ _id: event._id }, { $inc: { 'ticketTypes.0.confirmed': 1 } });
    const drifted = await script('audit-availability');
    expect(drifted.code).toBe(1);
    expect(drifted.out).toContain(`event ${String(event._id)}`);
    expect(drifted.out).toContain('confirmed');

    await rebuildLedger(t.app.models, event._id, new Date());
    expect((await script('audit-availability')).code).toBe(0);

    const before = await snapshot();
    const once = await script('db-migrate');
    expect(once.code, once.out).toBe(0);
    expect(once.out).toContain('0 event(s)');
    expect(await snapshot()).toEqual(before);
  }, 60_000);
});

describe('a purchase does not read the event\'s history (DESIGN.md 12)', () => {
  it('sends the same statements, none of them over the bookings of the event, after 3,000 confirmed bookings', async () => {
    const organizer = await createAccount(t.app, { role: 'organizer' });
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 10_000, price: 500 });
    const statements = async () => {
      const calls: string[] = [];
      t.app.db.set('debug', (collection: string, method: string, query: unknown) => calls.push(`${collection}.${method} ${JSON.stringify(query)}`));
      try {
        const res = await book(t.app, buyer.accessToken, { eventId, quantity: 1 });
        expect(res.statusCode, res.body).toBe(201);
      } finally {
        t.app.db.set('debug', false);
      }
      // What the sale sends (the session check may be cached or not); ids, keys and times differ.
      return calls.filter((c) => /^(events|bookings)\./.test(c)).map((c) => c.replace(/"[0-9a-f]{24}"|"[0-9a-f-]{36}"|"\d{4}-\d\d-\d\dT[^"]*"/g, '"…"'));
    };
    const empty = await statements();

    const now = t.clock.now();
    const history = Array.from({ length: 3000 }, () => ({
      eventId: new Types.ObjectId(eventId),
      userId: new Types.ObjectId(),
      quantity: 1,
      status: 'confirmed',
      unitPrice: 500,
      totalPrice: 500,
      currency: 'EUR',
      expiresAt: null,
      tickets: [],
      createdAt: now,
      updatedAt: now,
    }));
    await t.app.models.Booking.collection.insertMany(history);
    await rebuildLedger(t.app.models, eventId, now);
    const full = await statements();

    expect(full).toEqual(empty);
    // No aggregation and no scan of the event's bookings: the bookings read is the key lookup.
    expect(full.some((c) => c.includes('aggregate'))).toBe(false);
    for (const c of full.filter((x) => x.startsWith('bookings.find'))) {
      expect(c).toContain('idempotencyKey');
      // The buyer's equality is at the top, outside any $or: an index on userId narrows the lookup
      // to the buyer's own bookings (a top-level $or alone made the emulator scan every booking).
      const filter = JSON.parse(c.slice('bookings.find '.length)) as Record<string, unknown>;
      expect(filter.userId).toBe('…');
    }
    expect((await typeAvailability(t.app, eventId)).confirmedTickets).toBe(3000);
  }, 60_000);
});
