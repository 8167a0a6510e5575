import type { FastifyBaseLogger } from 'fastify';
import { SalesLedger } from '../bookings/ledger.js';
import { type Actor, assertVisible } from '../events/access.js';
import type { EventFields } from '../events/event.model.js';
import type { Clock } from '../lib/clock.js';
import { AppError, notFound } from '../lib/errors.js';
import { ok, serializeAnswer } from '../lib/http.js';
import type { KeyValueStore } from '../lib/kv.js';
import type { Models } from '../models.js';
import { loadSeatPlan, type SeatPlan } from './plan.js';
import { type SeatMapDto, seatMapAnswer } from './schemas.js';

/**
 * The seat map of a seated event (API.md Venues and seats): each seat the event sells with its
 * status, derived like availability from the ledger's claims (sold, or held by a hold that has not
 * expired). Cached for reads only (DESIGN.md 4): the sales transaction decides on its own snapshot,
 * so a stale map can make a buyer try a taken seat (409 SEAT_UNAVAILABLE), never sell it twice.
 */

export interface SeatMapDeps {
  models: Pick<Models, 'Event' | 'Venue'>;
  kv: KeyValueStore;
  clock: Clock;
  log: FastifyBaseLogger;
  config: { EVENT_CACHE_TTL_SECONDS: number };
}

export const seatMapCacheKey = (eventId: string) => `seatmap:v1:${eventId}`;

/** The map at `now`, and when it next changes by itself (the earliest live hold's expiry). */
export function seatMapOf(event: EventFields, plan: SeatPlan, now: Date): { map: SeatMapDto; freshUntil: number } {
  const states = new SalesLedger(event, now).seatStates();
  const counts = { available: 0, held: 0, sold: 0 };
  let next = Number.POSITIVE_INFINITY;
  const sections = new Map<string, SeatMapDto['sections'][number]>();
  for (const rows of plan.rowsByType.values()) {
    for (const row of rows) {
      const first = row.seats[0];
      if (!first) continue;
      let section = sections.get(row.sectionId);
      if (!section) sections.set(row.sectionId, (section = { id: row.sectionId, name: first.sectionName, rows: [] }));
      section.rows.push({
        label: first.rowLabel,
        seats: row.seats.map((seat) => {
          const claim = states.get(seat.id);
          const status = claim === undefined ? 'available' : claim === null ? 'sold' : 'held';
          if (claim) next = Math.min(next, claim.getTime());
          counts[status]++;
          return { id: seat.id, label: seat.label, status, ticketTypeId: String(seat.typeId) };
        }),
      });
    }
  }
  return {
    map: { eventId: String(event._id), venueId: plan.venueId, sections: [...sections.values()], ...counts, asOf: now.toISOString() },
    freshUntil: next,
  };
}

/** The serialized 200 answer of GET /events/:id/seats; 404 for an unknown, invisible or unseated event. */
export async function getSeatMap(deps: SeatMapDeps, eventId: string, actor: Actor | undefined): Promise<string> {
  const now = deps.clock.now().getTime();
  const key = seatMapCacheKey(eventId);
  const ttlMs = deps.config.EVENT_CACHE_TTL_SECONDS * 1000;
  let cached: string[] = [];
  try {
    if (ttlMs > 0) cached = (await deps.kv.get(key))?.split('\n') ?? [];
  } catch (err) {
    deps.log.debug({ err: (err as Error).message }, 'seat map cache read failed; reading the database');
  }
  // One field per line (the JSON body holds no raw line break): expiry, who may see it, the answer.
  const [cachedUntil, status, organizerId, cachedBody] = cached;
  if (cachedBody && now < Number(cachedUntil)) {
    assertVisible(actor, { status: status as EventFields['status'], organizerId });
    return cachedBody;
  }
  const event = await deps.models.Event.findById(eventId).lean<EventFields>();
  if (!event) throw notFound('Event');
  const owned = { status: event.status ?? 'draft', organizerId: String(event.organizerId) };
  assertVisible(actor, owned);
  const plan = await loadSeatPlan(deps.models, event);
  if (!plan) throw new AppError(404, 'NOT_FOUND', 'This event has no reserved seating, so it has no seat map');
  const { map, freshUntil } = seatMapOf(event, plan, new Date(now));
  const body = serializeAnswer(seatMapAnswer, ok(map));
  const until = Math.min(now + ttlMs, freshUntil);
  if (until > now) {
    try {
      await deps.kv.set(key, [until, owned.status, owned.organizerId, body].join('\n'), until - now);
    } catch (err) {
      deps.log.debug({ err: (err as Error).message }, 'seat map cache write failed');
    }
  }
  return body;
}
