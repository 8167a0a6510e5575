import { randomBytes } from 'node:crypto';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildLedger } from '../src/bookings/ledger-audit.js';
import { LISTING_VERSION_KEY, listingPageKey, normalizedListingQuery } from '../src/events/listing-cache.js';
import { listEventsQuery } from '../src/events/schemas.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { buildTestApp, type TestApp } from './helper.js';

const TTL_SECONDS = 4;
let t: TestApp;
let owner: TestAccount;

async function publishedEvent(name: string, totalTickets = 10): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/events',
    headers: bearer(owner.accessToken),
    payload: {
      name,
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

// A confirmed sale written straight into the database with its ledger, as the sales transaction
// leaves it, but without the service's cache calls: what a listing shows is then only the cache's doing.
async function sellBehindTheCache(eventId: string, quantity: number) {
  await t.app.models.Booking.create({
    eventId,
    userId: new Types.ObjectId(),
    quantity,
    status: 'confirmed',
    unitPrice: 1000,
    totalPrice: 1000 * quantity,
    currency: 'EUR',
    expiresAt: null,
  });
  await rebuildLedger(t.app.models, eventId, t.clock.now());
}

const list = async (query: string) => {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/events?${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { data: { id: string; name: string; availableTickets: number }[]; meta: { total: number } };
};

async function eventQueriesDuring(work: () => Promise<unknown>): Promise<number> {
  let n = 0;
  t.app.db.set('debug', (collection: string) => {
    if (collection === 'events') n++;
  });
  try {
    await work();
  } finally {
    t.app.db.set('debug', false);
  }
  return n;
}

// Background rebuilds finish on their own; give them a moment before looking at the store.
const settle = () => new Promise((r) => setTimeout(r, 150));

beforeAll(async () => {
  t = await buildTestApp({ env: { EVENT_CACHE_TTL_SECONDS: String(TTL_SECONDS) } });
  owner = await createAccount(t.app, { role: 'organizer' });
});
afterAll(() => t.close());

describe('listing page cache', () => {
  it('serves a repeated listing without a query; a sale shows within the TTL, never later', async () => {
    const tag = randomBytes(4).toString('hex');
    const id = await publishedEvent(`Cached list ${tag}`);
    const first = await list(`q=${tag}`);
    expect(first.data[0]?.availableTickets).toBe(10);

    await sellBehindTheCache(id, 3);
    expect(await eventQueriesDuring(() => list(`q=${tag}`))).toBe(0);
    expect((await list(`q=${tag}`)).data[0]?.availableTickets).toBe(10); // cached: a few seconds stale at most

    t.clock.advance(TTL_SECONDS * 1000);
    expect((await list(`q=${tag}`)).data[0]?.availableTickets).toBe(7); // past the TTL: read again
  });

  it('shows an organizer change at once (a new listing version), and a new published event', async () => {
    const tag = randomBytes(4).toString('hex');
    const id = await publishedEvent(`Renamed ${tag}`);
    expect((await list(`q=${tag}`)).data.map((e) => e.name)).toEqual([`Renamed ${tag}`]);
    const version = await t.app.kv.get(LISTING_VERSION_KEY);

    const res = await t.app.inject({ method: 'PATCH', url: `/api/v1/events/${id}`, headers: bearer(owner.accessToken), payload: { name: `Renamed again ${tag}` } });
    expect(res.statusCode, res.body).toBe(200);
    expect(await t.app.kv.get(LISTING_VERSION_KEY)).not.toBe(version);
    expect((await list(`q=${tag}`)).data.map((e) => e.name)).toEqual([`Renamed again ${tag}`]);

    await publishedEvent(`Second ${tag}`);
    expect((await list(`q=${tag}`)).meta.total).toBe(2);
  });

  it('a real sale leaves the listing version alone (a hot drop does not rebuild every page per sale)', async () => {
    const tag = randomBytes(4).toString('hex');
    const id = await publishedEvent(`Sale ${tag}`);
    await list(`q=${tag}`);
    const version = await t.app.kv.get(LISTING_VERSION_KEY);
    const buyer = await createAccount(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/bookings',
      headers: { ...bearer(buyer.accessToken), 'idempotency-key': `lc-${tag}` },
      payload: { eventId: id, quantity: 2 },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(await t.app.kv.get(LISTING_VERSION_KEY)).toBe(version);
    t.clock.advance(TTL_SECONDS * 1000);
    expect((await list(`q=${tag}`)).data[0]?.availableTickets).toBe(8);
  });

  it('rebuilds a page in the background past half its TTL, still sending the fresh-enough one', async () => {
    const tag = randomBytes(4).toString('hex');
    const id = await publishedEvent(`Refresh ${tag}`);
    await list(`q=${tag}`);
    await sellBehindTheCache(id, 4);
    t.clock.advance((TTL_SECONDS * 1000) / 2 + 1);
    expect((await list(`q=${tag}`)).data[0]?.availableTickets).toBe(10); // sent at once, rebuilt behind
    await settle();
    expect(await eventQueriesDuring(async () => expect((await list(`q=${tag}`)).data[0]?.availableTickets).toBe(6))).toBe(0);
  });

  it('builds a cold page once for 100 concurrent readers of this instance', async () => {
    const tag = randomBytes(4).toString('hex');
    await publishedEvent(`Crowd ${tag}`);
    const queries = await eventQueriesDuring(() => Promise.all(Array.from({ length: 100 }, () => list(`q=${tag}&sort=-availableTickets`))));
    // One load: a find of the sort keys and a find of the page.
    expect(queries).toBeLessThanOrEqual(2);
  });

  it('keys pages by the query as validated: spellings of one query share a page, different ones do not', () => {
    const parse = (q: Record<string, string>) => listEventsQuery.parse(q);
    expect(normalizedListingQuery(parse({}))).toBe(normalizedListingQuery(parse({ sort: 'startsAt', page: '1', limit: '20' })));
    expect(listingPageKey(parse({ q: ' jazz ' }))).toBe(listingPageKey(parse({ q: 'jazz' })));
    expect(listingPageKey(parse({ to: '2030-01-01' }))).not.toBe(listingPageKey(parse({ to: '2030-01-01T00:00:00Z' })));
    expect(listingPageKey(parse({ availableOnly: 'true' }))).not.toBe(listingPageKey(parse({ availableOnly: 'false' })));
    expect(listingPageKey(parse({ page: '2' }))).not.toBe(listingPageKey(parse({})));
  });
});
