import type { FastifyBaseLogger } from 'fastify';
import type { Types } from 'mongoose';
import type { Clock } from '../lib/clock.js';
import type { KeyValueStore } from '../lib/kv.js';
import type { EventSnapshot } from './presenter.js';

/**
 * Read-through cache of one event and its ticket counts (DESIGN.md 4): serves GET /events/:id and
 * GET /events/:id/availability. It may be a few seconds stale and never decides a sale; the
 * booking transaction counts in the database. Redis being down only costs the database a read.
 */

const FORMAT = 1;
export const eventCacheKey = (eventId: string) => `events:v${FORMAT}:${eventId}`;

interface CacheEntry extends EventSnapshot {
  v: typeof FORMAT;
  /**
   * Clock time (ms) after which the entry is stale: the TTL, or earlier when a hold runs out, so a
   * hold stops counting at the instant it expires even for cached reads (DESIGN.md 2). Checked
   * against the app clock so tests that move time see it too.
   */
  freshUntil: number;
}

export interface EventCacheDeps {
  kv: KeyValueStore;
  clock: Clock;
  log: FastifyBaseLogger;
  config: { EVENT_CACHE_TTL_SECONDS: number };
}

/**
 * Drops the cached event. Call after every committed write to an event or to any of its bookings
 * (create, confirm, cancel). A hold expiring needs no call: the entry is stale from that instant
 * (freshUntil). Never throws: a failed delete is logged and the entry dies with its TTL.
 */
export async function invalidateEventCache(
  kv: KeyValueStore,
  eventId: string | Types.ObjectId,
  log?: FastifyBaseLogger,
): Promise<void> {
  try {
    await kv.delete(eventCacheKey(String(eventId)));
  } catch (err) {
    log?.warn({ err: (err as Error).message, eventId: String(eventId) }, 'event cache invalidation failed');
  }
}

function parse(raw: string | null): CacheEntry | null {
  if (!raw) return null;
  try {
    const entry = JSON.parse(raw) as CacheEntry;
    return entry?.v === FORMAT && entry.event && entry.counts ? entry : null;
  } catch {
    return null;
  }
}

export interface LoadedSnapshot {
  snapshot: EventSnapshot;
  /** When the earliest live hold among its bookings expires, if any. */
  nextHoldExpiry: Date | null;
}

/**
 * Cache-aside read: a fresh hit touches no database; a miss (or Redis failing) loads from the
 * database and stores the result for EVENT_CACHE_TTL_SECONDS. `load` returns null for no event,
 * which is not cached.
 */
export async function cachedSnapshot(
  deps: EventCacheDeps,
  eventId: string,
  load: () => Promise<LoadedSnapshot | null>,
): Promise<EventSnapshot | null> {
  const ttlMs = deps.config.EVENT_CACHE_TTL_SECONDS * 1000;
  if (ttlMs <= 0) return (await load())?.snapshot ?? null;

  const key = eventCacheKey(eventId);
  const now = deps.clock.now().getTime();
  try {
    const hit = parse(await deps.kv.get(key));
    if (hit && now < hit.freshUntil) {
      const { v: _v, freshUntil: _f, ...snapshot } = hit;
      return snapshot;
    }
  } catch (err) {
    deps.log.debug({ err: (err as Error).message }, 'event cache read failed; reading the database');
  }

  return (await loadOnce(deps.kv, key, () => loadAndStore(deps, key, now, ttlMs, load)))?.snapshot ?? null;
}

async function loadAndStore(
  deps: EventCacheDeps,
  key: string,
  now: number,
  ttlMs: number,
  load: () => Promise<LoadedSnapshot | null>,
): Promise<LoadedSnapshot | null> {
  const loaded = await load();
  if (!loaded) return null;
  const freshUntil = Math.min(now + ttlMs, loaded.nextHoldExpiry?.getTime() ?? Number.POSITIVE_INFINITY);
  if (freshUntil > now) {
    const entry: CacheEntry = { v: FORMAT, ...loaded.snapshot, freshUntil };
    try {
      await deps.kv.set(key, JSON.stringify(entry), freshUntil - now);
    } catch (err) {
      deps.log.debug({ err: (err as Error).message }, 'event cache write failed');
    }
  }
  return loaded;
}

/**
 * Loads in flight, per store and key. When an entry expires, every request for that event misses at
 * once until one of them has stored a new entry; under load that was 10 to 20 database loads of the
 * same event (three queries each) instead of one. Requests of this process that miss while a load
 * of the same event is running wait for it instead. They get what that load read, started at most
 * one load ago: no staler than the cached entry they would otherwise have been served.
 */
const inFlight = new WeakMap<KeyValueStore, Map<string, Promise<LoadedSnapshot | null>>>();

function loadOnce(
  kv: KeyValueStore,
  key: string,
  run: () => Promise<LoadedSnapshot | null>,
): Promise<LoadedSnapshot | null> {
  let loads = inFlight.get(kv);
  if (!loads) inFlight.set(kv, (loads = new Map()));
  const running = loads.get(key);
  if (running) return running;
  const started = run().finally(() => loads.delete(key));
  loads.set(key, started);
  return started;
}
