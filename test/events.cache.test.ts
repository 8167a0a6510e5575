import { Types } from 'mongoose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventCacheKey, invalidateEventCache } from '../src/events/cache.js';
import type { KeyValueStore } from '../src/lib/kv.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { buildSiblingApp, buildTestApp, type TestApp } from './helper.js';
import { rebuildLedger } from '../src/bookings/ledger-audit.js';

let t: TestApp;
let owner: TestAccount;
const buyer = new Types.ObjectId();

async function publishedEvent(totalTickets = 10): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/events',
    headers: bearer(owner.accessToken),
    payload: {
      name: 'Cached show',
      venue: 'Hall',
      startsAt: new Date(t.clock.now().getTime() + 86_400_000).toISOString(),
      totalTickets,
      price: 1000,
      currency: 'EUR',
      status: 'published',
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().data.id;
}

// Written straight into the database, as a sale would leave it: the booking and the event's ledger.
async function book(eventId: string, status: 'pending' | 'confirmed', quantity: number, holdMs = 600_000) {
  await t.app.models.Booking.create({
    eventId,
    userId: buyer,
    quantity,
    status,
    unitPrice: 1000,
    totalPrice: 1000 * quantity,
    currency: 'EUR',
    expiresAt: status === 'pending' ? new Date(t.clock.now().getTime() + holdMs) : null,
  });
  await rebuildLedger(t.app.models, eventId, t.clock.now());
}

const read = async (id: string) => (await t.app.inject({ method: 'GET', url: `/api/v1/events/${id}` })).json().data;
const availability = async (id: string) =>
  (await t.app.inject({ method: 'GET', url: `/api/v1/events/${id}/availability` })).json().data;

/** Counts every query Mongoose sends while `work` runs. */
async function queriesDuring(work: () => Promise<unknown>): Promise<string[]> {
  const calls: string[] = [];
  t.app.db.set('debug', (collection: string, method: string) => calls.push(`${collection}.${method}`));
  try {
    await work();
  } finally {
    t.app.db.set('debug', false);
  }
  return calls;
}

beforeAll(async () => {
  // The Redis tier alone here; each instance's copy in memory has its own tests below.
  t = await buildTestApp({ env: { EVENT_CACHE_TTL_SECONDS: '3', EVENT_MEMORY_CACHE_MS: '0' } });
  owner = await createAccount(t.app, { role: 'organizer' });
});
afterAll(() => t.close());

describe('event read cache', () => {
  it('serves a repeated read from Redis without touching the database', async () => {
    const id = await publishedEvent();
    const misses = await queriesDuring(() => read(id));
    expect(misses.length).toBeGreaterThan(0);
    expect(await t.app.kv.get(eventCacheKey(id))).not.toBeNull();

    const hits = await queriesDuring(async () => {
      await read(id);
      await availability(id);
    });
    expect(hits).toEqual([]);

    // Behind the cache's back: the cached answer stays until invalidated.
    await t.app.models.Event.updateOne({ _id: id }, { $set: { name: 'Renamed in the DB' } });
    await book(id, 'confirmed', 4);
    expect((await read(id)).name).toBe('Cached show');
    expect((await availability(id)).availableTickets).toBe(10);

    await invalidateEventCache(t.app.kv, id);
    expect(await read(id)).toMatchObject({ name: 'Renamed in the DB', availableTickets: 6 });
    expect(await availability(id)).toMatchObject({ availableTickets: 6, confirmedTickets: 4 });
  });

  it('is invalidated by every change to the event through the API', async () => {
    const id = await publishedEvent();
    await read(id);
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/events/${id}`,
      headers: bearer(owner.accessToken),
      payload: { name: 'New name', totalTickets: 12 },
    });
    expect(patched.statusCode).toBe(200);
    expect(await read(id)).toMatchObject({ name: 'New name', availableTickets: 12 });

    await t.app.inject({ method: 'POST', url: `/api/v1/events/${id}/cancel`, headers: bearer(owner.accessToken) });
    expect((await read(id)).status).toBe('cancelled');
    await t.app.inject({ method: 'DELETE', url: `/api/v1/events/${id}`, headers: bearer(owner.accessToken) });
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/events/${id}` })).statusCode).toBe(404);
  });

  it('expires with its TTL and at the instant a counted hold runs out', async () => {
    const id = await publishedEvent();
    await book(id, 'pending', 3, 1_000);
    expect(await availability(id)).toMatchObject({ availableTickets: 7, heldTickets: 3 });
    t.clock.advance(1_000); // the hold expires before the 3 s TTL would
    expect(await availability(id)).toMatchObject({ availableTickets: 10, heldTickets: 0 });

    await t.app.models.Event.updateOne({ _id: id }, { $set: { totalTickets: 15 } });
    expect((await read(id)).totalTickets).toBe(10);
    t.clock.advance(3_000);
    expect(await read(id)).toMatchObject({ totalTickets: 15, availableTickets: 15 });
  });

  describe('with Redis failing', () => {
    const kv = () => t.app.kv as { -readonly [K in keyof KeyValueStore]: KeyValueStore[K] };
    let saved: Pick<KeyValueStore, 'get' | 'set' | 'delete'> | undefined;
    afterEach(() => {
      if (saved) Object.assign(kv(), saved);
      saved = undefined;
    });

    it('reads fall back to the database and writes still succeed', async () => {
      const id = await publishedEvent();
      await read(id);
      const store = kv();
      saved = { get: store.get, set: store.set, delete: store.delete };
      const down = async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      };
      Object.assign(store, { get: down, set: down, delete: down });

      await book(id, 'confirmed', 2);
      expect(await read(id)).toMatchObject({ availableTickets: 8 });
      const patched = await t.app.inject({
        method: 'PATCH',
        url: `/api/v1/events/${id}`,
        headers: bearer(owner.accessToken),
        payload: { venue: 'Other hall' },
      });
      expect(patched.statusCode).toBe(200);
      expect(await read(id)).toMatchObject({ venue: 'Other hall', availableTickets: 8 });
    });
  });
});

describe("each instance's copy in memory (EVENT_MEMORY_CACHE_MS)", () => {
  const LIFETIME_MS = 300;
  let mine: TestApp;
  let other: TestApp;
  beforeAll(async () => {
    mine = await buildSiblingApp(t, { EVENT_CACHE_TTL_SECONDS: '3', EVENT_MEMORY_CACHE_MS: String(LIFETIME_MS) });
    other = await buildSiblingApp(t, { EVENT_CACHE_TTL_SECONDS: '3', EVENT_MEMORY_CACHE_MS: String(LIFETIME_MS) });
  });
  // Not close(): that would drop the database and Redis keys they share with `t`.
  afterAll(async () => {
    await mine?.app.close();
    await other?.app.close();
  });
  const availabilityOn = async (app: TestApp, id: string) =>
    (await app.app.inject({ method: 'GET', url: `/api/v1/events/${id}/availability` })).json().data;
  const buy = (app: TestApp, token: string, eventId: string, quantity: number) =>
    app.app.inject({
      method: 'POST',
      url: '/api/v1/bookings',
      headers: { ...bearer(token), 'idempotency-key': new Types.ObjectId().toHexString() },
      payload: { eventId, quantity },
    });

  it('answers a repeated read without Redis, for at most its lifetime', async () => {
    const id = await publishedEvent();
    expect((await availabilityOn(mine, id)).availableTickets).toBe(10);
    // Behind both caches' backs: Redis forgets, the database changes.
    await mine.app.kv.delete(eventCacheKey(id));
    await book(id, 'confirmed', 4);
    expect((await availabilityOn(mine, id)).availableTickets).toBe(10);
    expect(await mine.app.kv.get(eventCacheKey(id))).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, LIFETIME_MS + 50));
    expect((await availabilityOn(mine, id)).availableTickets).toBe(6);
  });

  it("shows this instance's sale at once, another instance's within its lifetime", async () => {
    const id = await publishedEvent();
    const customer = await createAccount(mine.app);
    expect((await availabilityOn(mine, id)).availableTickets).toBe(10);
    expect((await availabilityOn(other, id)).availableTickets).toBe(10);
    expect((await buy(mine, customer.accessToken, id, 2)).statusCode).toBe(201);
    expect((await availabilityOn(mine, id)).availableTickets).toBe(8);
    // The other instance may still send its copy, never for longer than the lifetime.
    const seen = (await availabilityOn(other, id)).availableTickets;
    expect([8, 10]).toContain(seen);
    await new Promise((resolve) => setTimeout(resolve, LIFETIME_MS + 50));
    expect((await availabilityOn(other, id)).availableTickets).toBe(8);
  });

  it('never past the instant a counted hold runs out', async () => {
    const id = await publishedEvent();
    await book(id, 'pending', 3, 1_000);
    expect(await availabilityOn(mine, id)).toMatchObject({ availableTickets: 7, heldTickets: 3 });
    t.clock.advance(1_000);
    expect(await availabilityOn(mine, id)).toMatchObject({ availableTickets: 10, heldTickets: 0 });
  });
});
