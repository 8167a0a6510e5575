import { createHash, randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../lib/clock.js';
import type { KeyValueStore } from '../lib/kv.js';
import type { ListEventsQuery } from './schemas.js';

/**
 * Cache of whole listing pages (GET /events), already serialized (DESIGN.md 4, 12). A listing that
 * filters on text or sorts by availability must look at every matching event; at 10,000 events that
 * is hundreds of milliseconds per request. With this cache such work runs at most once per query per
 * EVENT_CACHE_TTL_SECONDS per instance (concurrent misses of one instance share one load), instead
 * of once per request.
 *
 * Invalidation is by version: every committed write to an event or its bookings (the callers of
 * invalidateEventCache) replaces the listing version, and the version is part of every page key, so
 * all pages are dropped at once without knowing which pages held the event. Other instances' writes
 * reach this instance the same way (the version lives in Redis). What still makes a page stale is a
 * hold running out or a sale window opening while the page is cached: bounded by the TTL, as for
 * cached availability. Pages never decide a sale.
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

export const listingPageKey = (version: string, query: ListEventsQuery) =>
  `events:list:v${FORMAT}:${version}:${createHash('sha1').update(normalizedListingQuery(query)).digest('base64url')}`;

/** Drops every cached listing page (all instances). Never throws: pages then live out their TTL. */
export async function bumpListingVersion(kv: KeyValueStore, log?: FastifyBaseLogger): Promise<void> {
  forgetListingLoads(kv);
  try {
    await kv.set(LISTING_VERSION_KEY, randomUUID(), VERSION_TTL_MS);
  } catch (err) {
    log?.warn({ err: (err as Error).message }, 'listing cache invalidation failed');
  }
}

// Loads in flight per store and page key: a page that expires under load is built once per instance.
const inFlight = new WeakMap<KeyValueStore, Map<string, Promise<string>>>();

function forgetListingLoads(kv: KeyValueStore): void {
  inFlight.get(kv)?.clear();
}

/**
 * The serialized listing page for `query`: from the cache while fresh, else `load()` (and stored).
 * Redis failing only costs the load.
 */
export async function cachedListing(deps: ListingCacheDeps, query: ListEventsQuery, load: () => Promise<string>): Promise<string> {
  const ttlMs = deps.config.EVENT_CACHE_TTL_SECONDS * 1000;
  if (ttlMs <= 0) return load();
  const now = deps.clock.now().getTime();
  let key: string;
  try {
    key = listingPageKey((await deps.kv.get(LISTING_VERSION_KEY)) ?? '0', query);
    const raw = await deps.kv.get(key);
    if (raw) {
      const cut = raw.indexOf('\n');
      // Fresh by the app clock (tests that move time see pages age), not only by Redis' TTL.
      if (cut > 0 && now < Number(raw.slice(0, cut))) return raw.slice(cut + 1);
    }
  } catch (err) {
    deps.log.debug({ err: (err as Error).message }, 'listing cache read failed; reading the database');
    return load();
  }

  let loads = inFlight.get(deps.kv);
  if (!loads) inFlight.set(deps.kv, (loads = new Map()));
  const running = loads.get(key);
  if (running) return running;
  const promise = (async () => {
    const body = await load();
    // A write during the load replaced the version: this page is stored under the old one, where
    // no reader looks any more. So a page never hides a write made before it was stored.
    try {
      await deps.kv.set(key, `${now + ttlMs}\n${body}`, ttlMs);
    } catch (err) {
      deps.log.debug({ err: (err as Error).message }, 'listing cache write failed');
    }
    return body;
  })().finally(() => {
    if (loads.get(key) === promise) loads.delete(key);
  });
  loads.set(key, promise);
  return promise;
}
