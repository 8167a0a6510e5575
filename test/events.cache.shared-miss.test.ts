import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LightMyRequestResponse } from 'fastify';
import { Types } from 'mongoose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventCacheKey } from '../src/events/cache.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';
import { failCommand, uriWithAppName } from './support/failpoint.js';
import { expectProblem } from './support/problem.js';

/**
 * Concurrent misses of one event share one database load (src/events/cache.ts, loadOnce).
 *
 * Queries are counted the way test/events.cache.test.ts does (Mongoose's debug hook). A load of an
 * event is one `events.findOne`: the event document carries its sales ledger, so no booking is
 * read (DESIGN.md 12). To be sure the requests really overlap a load, the
 * load is held open with MongoDB's failCommand fail point (blockConnection, this app's connections
 * only): while it is blocked nothing is in Redis yet, so every other request misses the cache and
 * can only avoid a second load by joining the first.
 */

const TTL_SECONDS = 30;
const appName = `shared-miss-${randomUUID().slice(0, 8)}`;
let t: TestApp;
let organizer: TestAccount;

beforeAll(async () => {
  t = await buildTestApp({ env: { MONGODB_URI: uriWithAppName(appName), EVENT_CACHE_TTL_SECONDS: String(TTL_SECONDS) } });
  organizer = await createAccount(t.app, { role: 'organizer' });
});
// Fail points here are armed for one firing ({ times: 1 }) and each fires in its own test, so none
// is left behind; they are never switched off by hand, as the server has one fail point for all
// clients and turning it off could disarm another test file's (test/faults.test.ts).
afterEach(() => {
  t.app.db.set('debug', false);
});
afterAll(() => t.close());

/** Every query Mongoose sends from now on, as "collection.method". */
function recordQueries() {
  const calls: string[] = [];
  t.app.db.set('debug', (collection: string, method: string) => calls.push(`${collection}.${method}`));
  return {
    calls,
    count: (name: string) => calls.filter((c) => c === name).length,
    /** Resolves once `name` has been sent, i.e. a load has reached that step. */
    async sent(name: string): Promise<void> {
      for (let waited = 0; !calls.includes(name); waited += 5) {
        if (waited > 5000) throw new Error(`${name} was never sent; queries: ${calls.join(', ')}`);
        await sleep(5);
      }
    },
  };
}

/** Holds the next `command` of this app for `ms` (then runs it, or fails it with `errorCode`). */
const hold = (command: 'find', ms: number, errorCode?: number) =>
  failCommand(t.app, appName, { times: 1 }, { failCommands: [command], blockConnection: true, blockTimeMS: ms, ...(errorCode ? { errorCode } : {}) });

const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers });
const eventUrl = (id: string) => `/api/v1/events/${id}`;
const availabilityUrl = (id: string) => `/api/v1/events/${id}/availability`;

/** A new event (published unless asked otherwise) with nothing cached for it: creation does not fill the cache. */
async function coldEvent(options: { status?: 'draft' | 'published'; totalTickets?: number } = {}): Promise<string> {
  const id = await createEvent(t.app, organizer.accessToken, { totalTickets: options.totalTickets ?? 40, status: options.status });
  expect(await t.app.kv.get(eventCacheKey(id))).toBeNull();
  return id;
}

const LOAD = ['events.findOne'];

describe('concurrent misses of one event', () => {
  it('share exactly one load while it is held open, for GET /events/:id and /availability alike', async () => {
    const id = await coldEvent();
    const queries = recordQueries();
    await hold('find', 400);

    const first = get(eventUrl(id));
    await queries.sent('events.findOne'); // the first load is now in flight, and held
    expect(await t.app.kv.get(eventCacheKey(id))).toBeNull(); // so every request below misses Redis
    const others = Array.from({ length: 15 }, (_, i) => get(i % 2 ? eventUrl(id) : availabilityUrl(id)));
    const answers = await Promise.all([first, ...others]);

    for (const res of answers) expect(res.statusCode, res.body).toBe(200);
    expect(queries.calls.sort()).toEqual([...LOAD].sort()); // one load, nothing else
    const events = answers.filter((r) => !r.json().data.eventId);
    const availabilities = answers.filter((r) => r.json().data.eventId);
    expect(events).toHaveLength(8);
    expect(availabilities).toHaveLength(8);
    // Everyone got the same answer, the one the load stored.
    expect(new Set(events.map((r) => r.body)).size).toBe(1);
    expect(new Set(availabilities.map((r) => r.body)).size).toBe(1);
    expect(events[0]?.json().data).toMatchObject({ id, availableTickets: 40 });
    expect(availabilities[0]?.json().data).toMatchObject({ eventId: id, availableTickets: 40 });
    expect(await t.app.kv.get(eventCacheKey(id))).not.toBeNull();

    // Once stored, later reads touch no database at all.
    const later = recordQueries();
    expect((await get(availabilityUrl(id))).statusCode).toBe(200);
    expect(later.calls).toEqual([]);
  });

  it('share one load when simply fired together on a cold cache', async () => {
    const id = await coldEvent();
    const queries = recordQueries();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => get(i % 3 ? eventUrl(id) : availabilityUrl(id))));
    for (const res of answers) expect(res.statusCode, res.body).toBe(200);
    for (const name of LOAD) expect(queries.count(name), name).toBe(1);
    expect(queries.calls).toHaveLength(LOAD.length);
  });

  it('are shared per event: two cold events load once each and never get each other’s answer', async () => {
    const [a, b] = [await coldEvent({ totalTickets: 11 }), await coldEvent({ totalTickets: 22 })];
    const queries = recordQueries();
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => get(eventUrl(i % 2 ? b : a))));
    expect(queries.count('events.findOne')).toBe(2);
    expect(queries.calls).toHaveLength(2);
    answers.forEach((res, i) => {
      expect(res.json().data).toMatchObject(i % 2 ? { id: b, totalTickets: 22 } : { id: a, totalTickets: 11 });
    });
  });

  it('decide visibility per caller: a draft shared between its organizer and an anonymous reader', async () => {
    const id = await coldEvent({ status: 'draft' });
    const stranger = await createAccount(t.app);
    // Their tokens are checked before the event load; warm the sessions so only the load is counted.
    await get('/api/v1/users/me', bearer(organizer.accessToken));
    await get('/api/v1/users/me', bearer(stranger.accessToken));
    const queries = recordQueries();
    await hold('find', 400);

    const first = get(eventUrl(id), bearer(organizer.accessToken));
    await queries.sent('events.findOne');
    const [owner, anonymous, customer, ownerAgain] = await Promise.all([
      first,
      get(eventUrl(id)),
      get(availabilityUrl(id), bearer(stranger.accessToken)),
      get(availabilityUrl(id), bearer(organizer.accessToken)),
    ]);

    expect(queries.count('events.findOne')).toBe(1);
    expect(owner.statusCode).toBe(200);
    expect(owner.json().data).toMatchObject({ id, status: 'draft' });
    expect(ownerAgain.statusCode).toBe(200);
    // The load was shared, the answer was not: a draft is 404 for anyone but its organizer (and admins).
    expectProblem(anonymous, 404, 'NOT_FOUND');
    expectProblem(customer, 404, 'NOT_FOUND');
    expect(anonymous.body).not.toContain('draft');
  });

  it('of an unknown event share one lookup, and the 404 is not cached', async () => {
    const missing = new Types.ObjectId().toHexString();
    const queries = recordQueries();
    await hold('find', 400);
    const first = get(eventUrl(missing));
    await queries.sent('events.findOne');
    const answers = await Promise.all([first, ...Array.from({ length: 9 }, () => get(availabilityUrl(missing)))]);
    for (const res of answers) expectProblem(res, 404, 'NOT_FOUND');
    expect(queries.calls).toEqual(['events.findOne']);
    expect(await t.app.kv.get(eventCacheKey(missing))).toBeNull();

    // Nothing was remembered: the next read looks again.
    expectProblem(await get(eventUrl(missing)), 404, 'NOT_FOUND');
    expect(queries.calls).toEqual(['events.findOne', 'events.findOne']);
  });

  it('share a failed load too, and the failure is not kept: the next read loads again and succeeds', async () => {
    const id = await coldEvent();
    const queries = recordQueries();
    // Held, then failed with a non-retryable server error (2 BadValue): one failure for the one load.
    await hold('find', 400, 2);
    const first = get(eventUrl(id));
    await queries.sent('events.findOne');
    const answers: LightMyRequestResponse[] = await Promise.all([first, ...Array.from({ length: 7 }, () => get(availabilityUrl(id)))]);

    // Every waiter got the one load's failure (the fail point fires once, so a second load would have
    // succeeded), as a clean problem without internals.
    for (const res of answers) expectProblem(res, 500, 'INTERNAL_ERROR');
    expect(queries.count('events.findOne')).toBe(1);
    expect(await t.app.kv.get(eventCacheKey(id))).toBeNull();

    const retry = await get(availabilityUrl(id));
    expect(retry.statusCode, retry.body).toBe(200);
    expect(retry.json().data).toMatchObject({ eventId: id, availableTickets: 40 });
    expect(queries.count('events.findOne')).toBe(2);
  });
});

describe('a write that lands while a load is in flight', () => {
  /**
   * A write of this instance overtakes a load that is running: the load answers the reads that
   * joined it before the write, but does not store what it read, and the next read loads anew.
   * (A write on another instance only deletes the Redis entry; there, an entry is fresh for at
   * most EVENT_CACHE_TTL_SECONDS of the app clock from the start of the load that made it.)
   */
  it('shows on the very next read: the overtaken load stores nothing', async () => {
    const id = await coldEvent();
    const loadStartedAt = t.clock.now().getTime();
    const queries = recordQueries();
    await hold('find', 400);

    const reading = get(eventUrl(id));
    await queries.sent('events.findOne'); // the load is in flight, held before it reads (the emulator blocks first)
    const patched = await t.app.inject({
      method: 'PATCH',
      url: eventUrl(id),
      headers: bearer(organizer.accessToken),
      payload: { name: 'Renamed during the load', totalTickets: 45 },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().data).toMatchObject({ name: 'Renamed during the load', totalTickets: 45 });
    const read = await reading;
    expect(read.statusCode).toBe(200);
    // Whatever it read (a load is one find now, and the write may land on either side of it), a load
    // that a write of this instance overtook stores nothing.

    // The overtaken load stored nothing; the next reads load the written event.
    expect(await t.app.kv.get(eventCacheKey(id))).toBeNull();
    expect((await get(eventUrl(id))).json().data).toMatchObject({ name: 'Renamed during the load', totalTickets: 45, availableTickets: 45 });
    expect((await get(availabilityUrl(id))).json().data).toMatchObject({ totalTickets: 45, availableTickets: 45 });

    // And it stays so for the rest of the TTL and after (app clock).
    t.clock.set(new Date(loadStartedAt + TTL_SECONDS * 1000));
    expect((await get(eventUrl(id))).json().data).toMatchObject({ name: 'Renamed during the load', totalTickets: 45, availableTickets: 45 });
    expect((await get(availabilityUrl(id))).json().data).toMatchObject({ totalTickets: 45, availableTickets: 45 });
  });

  it('that completed before the reads missed is seen by all of them, through one fresh load', async () => {
    // The ordinary order: the write and its invalidation finish, then many reads miss at once.
    // They share one new load (nothing is in flight for the key any more) and all see the write.
    const id = await coldEvent();
    expect((await get(eventUrl(id))).json().data.name).not.toBe('Written first'); // cached now
    const patched = await t.app.inject({ method: 'PATCH', url: eventUrl(id), headers: bearer(organizer.accessToken), payload: { name: 'Written first' } });
    expect(patched.statusCode).toBe(200);
    const queries = recordQueries();
    const answers = await Promise.all(Array.from({ length: 6 }, () => get(eventUrl(id))));
    for (const res of answers) expect(res.json().data.name).toBe('Written first');
    expect(queries.count('events.findOne')).toBe(1);
  });
});
