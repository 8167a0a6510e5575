import { createHash, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../lib/clock.js';
import type { KeyValueStore } from '../lib/kv.js';
import type { ListEventsQuery } from './schemas.js';

/**
 * Cache of whole listing pages (GET /events), already serialized (DESIGN.md 4, 12). A listing that
 * filters on text must look at every matching event (no index serves a substring); at 10,000 events
 * that is hundreds of milliseconds. Availability orders read an indexed projection
 * (listing-projection.ts) and are cached like every other page. With this cache that work runs about once per query per half TTL per
 * instance, in the background, instead of once per request; a hit is two Redis reads in one round
 * trip and the stored text sent as it is (no query, no schema run, no JSON built).
 *
 * Freshness: every change an organizer makes to an event or its ticket types (the callers of
 * invalidateEventCache other than sales) replaces the listing version, and a page of an older
 * version is rebuilt before it is sent, so such changes show at once on every instance. Sales, and
 * holds running out, change the listed availability without a new version: a page shows them
 * within EVENT_CACHE_TTL_SECONDS (the age limit of every page). Pages never decide a sale.
 */

const FORMAT = 1;
export const LISTING_VERSION_KEY = 'events:listing-version';
/** The version key outlives every page (their TTL is at most 60 s). */
const VERSION_TTL_MS = 24 * 3600 * 1000;

export interface ListingCacheDeps {
  kv: KeyValueStore;
  clock: Clock;
  log: FastifyBaseLogger;
  config: { EVENT_CACHE_TTL_SECONDS: number };
}

/** The query after validation, in one fixed order: equal queries share a page whatever their spelling. */
export function normalizedListingQuery(query: ListEventsQuery): string {
  const bound = (b: { at: Date; inclusive: boolean } | undefined) => (b ? `${b.at.toISOString()}${b.inclusive ? '' : ')'}` : '');
  return JSON.stringify([
    query.q ?? '',
    query.category ?? '',
    bound(query.from),
    bound(query.to),
    query.availableOnly === true,
    query.sort,
    query.page,
    query.limit,
  ]);
}

export const listingPageKey = (query: ListEventsQuery) =>
  `events:list:v${FORMAT}:${createHash('sha1').update(normalizedListingQuery(query)).digest('base64url')}`;

/** Drops every cached listing page (all instances). Never throws: pages then live out their TTL. */
export async function bumpListingVersion(kv: KeyValueStore, log?: FastifyBaseLogger): Promise<void> {
  try {
    await kv.set(LISTING_VERSION_KEY, randomUUID(), VERSION_TTL_MS);
  } catch (err) {
    log?.warn({ err: (err as Error).message }, 'listing cache invalidation failed');
  }
}

interface Page {
  version: string;
  /** App-clock time (ms) the load that built it started: its figures are at least this recent. */
  builtAt: number;
  body: string;
}

// Version and start time on their own lines: JSON text never holds a raw line break.
const serialize = (page: Page) => `${page.version}\n${page.builtAt}\n${page.body}`;
function parse(raw: string | null): Page | null {
  if (!raw) return null;
  const a = raw.indexOf('\n');
  const b = raw.indexOf('\n', a + 1);
  if (a <= 0 || b <= a) return null;
  const builtAt = Number(raw.slice(a + 1, b));
  return Number.isFinite(builtAt) ? { version: raw.slice(0, a), builtAt, body: raw.slice(b + 1) } : null;
}

// Loads in flight per store, page and version: a page is built once per instance at a time.
const inFlight = new WeakMap<KeyValueStore, Map<string, Promise<string>>>();

/**
 * The serialized listing page for `query`:
 * - a page of the current version younger than the TTL is sent as it is; past half its TTL, one
 *   rebuild starts in the background, so under steady traffic a page is replaced before it expires
 *   and no reader waits for a load (a load at 10,000 events takes a large share of a second);
 * - a page of an older version (an organizer changed an event since) or older than the TTL is
 *   rebuilt first, so a change is visible to the next read, and no page is older than the TTL.
 * Redis failing only costs the load.
 */
export async function cachedListing(deps: ListingCacheDeps, query: ListEventsQuery, load: () => Promise<string>): Promise<string> {
  const ttlMs = deps.config.EVENT_CACHE_TTL_SECONDS * 1000;
  if (ttlMs <= 0) return load();
  const now = deps.clock.now().getTime();
  const key = listingPageKey(query);
  let version: string;
  let page: Page | null;
  try {
    // Sent together: one round trip.
    const [v, raw] = await Promise.all([deps.kv.get(LISTING_VERSION_KEY), deps.kv.get(key)]);
    version = v ?? '0';
    page = parse(raw);
  } catch (err) {
    deps.log.debug({ err: (err as Error).message }, 'listing cache read failed; reading the database');
    return load();
  }
  const rebuild = () => loadOnce(deps, key, version, ttlMs, load);
  // Checked against the app clock, so tests that move time see pages age (and holds run out).
  if (page && page.version === version && now >= page.builtAt && now < page.builtAt + ttlMs) {
    if (now >= page.builtAt + ttlMs / 2) {
      rebuild().catch((err: unknown) => deps.log.warn({ err: (err as Error).message }, 'listing page rebuild failed'));
    }
    return page.body;
  }
  return rebuild();
}

function loadOnce(deps: ListingCacheDeps, key: string, version: string, ttlMs: number, load: () => Promise<string>): Promise<string> {
  let loads = inFlight.get(deps.kv);
  if (!loads) inFlight.set(deps.kv, (loads = new Map()));
  const flightKey = `${version}|${key}`;
  const running = loads.get(flightKey);
  if (running) return running;
  const builtAt = deps.clock.now().getTime();
  const promise = (async () => {
    const body = await load();
    // A change during the load replaced the version: the page is stored under the version it was
    // read for, which the next reader sees as old and rebuilds. A page never hides a change.
    try {
      await deps.kv.set(key, serialize({ version, builtAt, body }), ttlMs);
    } catch (err) {
      deps.log.debug({ err: (err as Error).message }, 'listing cache write failed');
    }
    return body;
  })().finally(() => {
    if (loads.get(flightKey) === promise) loads.delete(flightKey);
  });
  loads.set(flightKey, promise);
  return promise;
}
