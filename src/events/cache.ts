import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import type { Types } from 'mongoose';
import type { Clock } from '../lib/clock.js';
import type { KeyValueStore } from '../lib/kv.js';
import { EVENT_STATUSES, type EventStatus } from './event.model.js';
import { bumpListingVersion } from './listing-cache.js';
import { seatMapCacheKey } from '../seats/map.js';

/**
 * Read-through cache of one event's read answers (DESIGN.md 4): serves GET /events/:id and
 * GET /events/:id/availability. It may be a few seconds stale and never decides a sale; the
 * booking transaction counts in the database. Redis being down only costs the database a read.
 *
 * An entry holds both answers already serialized through their response schemas (reads.ts), plus
 * what a read must still decide per caller: who may see the event, and its ETag. A hit is sent as
 * it is: no JSON parse of the event, no schema run, no JSON built per request.
 */

const FORMAT = 3;
export const eventCacheKey = (eventId: string, format: number = FORMAT) => `events:v${format}:${eventId}`;

/** What a read of one event needs, ready to send. */
export interface EventAnswers {
  status: EventStatus;
  organizerId: string;
  etag: string;
  /** Serialized 200 answer of GET /events/:id. */
  event: string;
  /** Serialized 200 answer of GET /events/:id/availability. */
  availability: string;
}

interface CacheEntry extends EventAnswers {
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
  config: { EVENT_CACHE_TTL_SECONDS: number; EVENT_MEMORY_CACHE_MS: number };
}

/**
 * Entries this process read or stored, kept in memory for EVENT_MEMORY_CACHE_MS (real time) and
 * never past their freshUntil: a hit then costs no Redis round trip (the largest part of a cached
 * read's CPU in load profiles, BENCHMARKS.md). Writes of this process drop its copy at once
 * (invalidateEventCache); a write on another instance shows here within EVENT_MEMORY_CACHE_MS, a
 * fraction of the few seconds DESIGN.md 4 allows. Per store, like the loads in flight below.
 */
const MEMORY_ENTRIES = 2_000;
interface Remembered {
  entry: CacheEntry;
  until: number;
}
const memory = new WeakMap<KeyValueStore, Map<string, Remembered>>();

function memoryOf(kv: KeyValueStore): Map<string, Remembered> {
  let entries = memory.get(kv);
  if (!entries) memory.set(kv, (entries = new Map()));
  return entries;
}

function keepInMemory(deps: EventCacheDeps, key: string, entry: CacheEntry): void {
  const lifetime = deps.config.EVENT_MEMORY_CACHE_MS;
  if (lifetime <= 0) return;
  const entries = memoryOf(deps.kv);
  entries.delete(key);
  // Oldest out first; an event read often is simply read again from Redis.
  if (entries.size >= MEMORY_ENTRIES) entries.delete(entries.keys().next().value as string);
  entries.set(key, { entry, until: performance.now() + lifetime });
}

function fromMemory(kv: KeyValueStore, key: string, now: number): CacheEntry | null {
  const entries = memory.get(kv);
  const kept = entries?.get(key);
  if (!kept) return null;
  if (now < kept.entry.freshUntil && performance.now() < kept.until) return kept.entry;
  entries?.delete(key);
  return null;
}

/**
 * Drops the cached event. Call after every committed write to an event or to any of its bookings
 * (create, confirm, cancel). A hold expiring needs no call: the entry is stale from that instant
 * (freshUntil). Never throws: a failed delete is logged and the entry dies with its TTL.
 * The previous format's key goes too, so instances still running it during a deploy see the write.
 * Cached listing pages go too (listing-cache.ts) unless `listings` is false: sales pass false, so a
 * hot drop does not rebuild every listing page on every sale; listings then show a sale within
 * EVENT_CACHE_TTL_SECONDS, as they show a hold running out (DESIGN.md 4).
 */
export async function invalidateEventCache(
  kv: KeyValueStore,
  eventId: string | Types.ObjectId,
  log?: FastifyBaseLogger,
  { listings = true }: { listings?: boolean } = {},
): Promise<void> {
  const id = String(eventId);
  forgetLoadInFlight(kv, eventCacheKey(id));
  memory.get(kv)?.delete(eventCacheKey(id));
  const dropEntry = async () => {
    try {
      // The seat map (src/seats/map.ts) is derived from the same sales, so it goes with the event.
      await kv.delete(eventCacheKey(id), eventCacheKey(id, FORMAT - 1), seatMapCacheKey(id));
    } catch (err) {
      log?.warn({ err: (err as Error).message, eventId: id }, 'event cache invalidation failed');
    }
  };
  // Both round trips at once: a sale waits for one Redis latency, not two.
  await Promise.all([dropEntry(), listings ? bumpListingVersion(kv, log) : undefined]);
}

// One field per line: JSON text never holds a raw line break, so the answers need no escaping and a
// hit is read with a split instead of a JSON parse.
function serialize(entry: CacheEntry): string {
  return [entry.freshUntil, entry.status, entry.organizerId, entry.etag, entry.event, entry.availability].join('\n');
}

function parse(raw: string | null): CacheEntry | null {
  if (!raw) return null;
  const fields = raw.split('\n');
  if (fields.length !== 6) return null;
  const [freshUntil, status, organizerId, etag, event, availability] = fields as [string, string, string, string, string, string];
  if (!(EVENT_STATUSES as readonly string[]).includes(status) || !event || !availability) return null;
  const until = Number(freshUntil);
  if (!Number.isFinite(until)) return null;
  return { freshUntil: until, status: status as EventStatus, organizerId, etag, event, availability };
}

export interface LoadedAnswers {
  answers: EventAnswers;
  /** When the earliest live hold among its bookings expires, if any. */
  nextHoldExpiry: Date | null;
}

/**
 * Cache-aside read: a fresh hit touches no database; a miss (or Redis failing) loads from the
 * database and stores the result for EVENT_CACHE_TTL_SECONDS. `load` returns null for no event,
 * which is not cached.
 */
export async function cachedAnswers(
  deps: EventCacheDeps,
  eventId: string,
  load: () => Promise<LoadedAnswers | null>,
): Promise<EventAnswers | null> {
  const ttlMs = deps.config.EVENT_CACHE_TTL_SECONDS * 1000;
  if (ttlMs <= 0) return (await load())?.answers ?? null;

  const key = eventCacheKey(eventId);
  const now = deps.clock.now().getTime();
  const kept = fromMemory(deps.kv, key, now);
  if (kept) return kept;
  try {
    const hit = parse(await deps.kv.get(key));
    if (hit && now < hit.freshUntil) {
      keepInMemory(deps, key, hit);
      return hit;
    }
  } catch (err) {
    deps.log.debug({ err: (err as Error).message }, 'event cache read failed; reading the database');
  }

  return (await loadOnce(deps.kv, key, (run) => loadAndStore(deps, key, now, ttlMs, load, run)))?.answers ?? null;
}

async function loadAndStore(
  deps: EventCacheDeps,
  key: string,
  now: number,
  ttlMs: number,
  load: () => Promise<LoadedAnswers | null>,
  run: LoadInFlight,
): Promise<LoadedAnswers | null> {
  const loaded = await load();
  if (!loaded) return null;
  const freshUntil = Math.min(now + ttlMs, loaded.nextHoldExpiry?.getTime() ?? Number.POSITIVE_INFINITY);
  // A write of this process invalidated the event while we read it: what we read may predate the
  // write, and storing it would hide the write from its own author's next read until the TTL.
  if (freshUntil > now && !run.overtaken) {
    const entry = { ...loaded.answers, freshUntil };
    try {
      await deps.kv.set(key, serialize(entry), freshUntil - now);
    } catch (err) {
      deps.log.debug({ err: (err as Error).message }, 'event cache write failed');
    }
    // Checked again: a write of this process may have landed while Redis stored the entry.
    if (!run.overtaken) keepInMemory(deps, key, entry);
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
interface LoadInFlight {
  promise?: Promise<LoadedAnswers | null>;
  /** Set when this process invalidated the event during the load (see loadAndStore). */
  overtaken: boolean;
}
const inFlight = new WeakMap<KeyValueStore, Map<string, LoadInFlight>>();

function loadOnce(kv: KeyValueStore, key: string, run: (load: LoadInFlight) => Promise<LoadedAnswers | null>): Promise<LoadedAnswers | null> {
  let loads = inFlight.get(kv);
  if (!loads) inFlight.set(kv, (loads = new Map()));
  const running = loads.get(key);
  if (running?.promise) return running.promise;
  const record: LoadInFlight = { overtaken: false };
  record.promise = run(record).finally(() => {
    if (loads.get(key) === record) loads.delete(key);
  });
  loads.set(key, record);
  return record.promise;
}

/**
 * An invalidation by this process: the running load must not store what it read, and reads that
 * miss from now on start a load of their own instead of joining one that may predate the write.
 * (Writes on other instances only delete the Redis entry; their reads are bounded by the TTL.)
 */
function forgetLoadInFlight(kv: KeyValueStore, key: string): void {
  const loads = inFlight.get(kv);
  const running = loads?.get(key);
  if (!running) return;
  running.overtaken = true;
  loads?.delete(key);
}
