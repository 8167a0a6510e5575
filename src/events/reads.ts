import { Types } from 'mongoose';
import { countTickets } from '../bookings/availability.js';
import { notFound } from '../lib/errors.js';
import { ok, serializeAnswer } from '../lib/http.js';
import { type Actor, assertVisible, type EventDeps } from './access.js';
import { cachedAnswers, type EventAnswers, type LoadedAnswers } from './cache.js';
import {
  type EventSnapshot,
  type EventView,
  etagOf,
  eventView,
  toAvailabilityDto,
  toEventDto,
} from './presenter.js';
import { availabilityAnswer, eventAnswer } from './schemas.js';

/** The event and its counts at one instant, as the cache keeps them and the reads send them. */
export interface LoadedSnapshot {
  snapshot: EventSnapshot;
  /** When the earliest live hold among its bookings expires, if any. */
  nextHoldExpiry: Date | null;
}

/** The event and its counts straight from the database (the cache's loader, and fresh answers after writes). */
export async function loadSnapshot(deps: EventDeps, eventId: string): Promise<LoadedSnapshot | null> {
  const { Event } = deps.models;
  const doc = await Event.findById(eventId).lean();
  if (!doc) return null;
  return snapshotOf(deps, eventView(doc));
}

export async function snapshotOf(deps: EventDeps, view: EventView): Promise<LoadedSnapshot> {
  const { Booking } = deps.models;
  const now = deps.clock.now();
  const id = new Types.ObjectId(view.id);
  const [counts, nextHold] = await Promise.all([
    countTickets(Booking, [id], now),
    // Only to know how long the counts stay true; see cache.ts freshUntil.
    Booking.findOne({ eventId: id, status: 'pending', expiresAt: { $gt: now } }, { expiresAt: 1 })
      .sort({ expiresAt: 1 })
      .lean(),
  ]);
  return {
    snapshot: { event: view, counts: counts.get(view.id) ?? { confirmedTickets: 0, heldTickets: 0 }, asOf: now.toISOString() },
    nextHoldExpiry: nextHold?.expiresAt ? new Date(nextHold.expiresAt) : null,
  };
}

/** Both read answers of a snapshot, serialized through their response schemas. */
function answersOf(snapshot: EventSnapshot): EventAnswers {
  return {
    status: snapshot.event.status,
    organizerId: snapshot.event.organizerId,
    etag: etagOf(snapshot.event),
    event: serializeAnswer(eventAnswer, ok(toEventDto(snapshot.event, snapshot.counts))),
    availability: serializeAnswer(availabilityAnswer, ok(toAvailabilityDto(snapshot))),
  };
}

async function loadAnswers(deps: EventDeps, eventId: string): Promise<LoadedAnswers | null> {
  const loaded = await loadSnapshot(deps, eventId);
  return loaded && { answers: answersOf(loaded.snapshot), nextHoldExpiry: loaded.nextHoldExpiry };
}

async function visibleAnswers(deps: EventDeps, eventId: string, actor: Actor | undefined): Promise<EventAnswers> {
  const answers = await cachedAnswers(deps, eventId, () => loadAnswers(deps, eventId));
  if (!answers) throw notFound('Event');
  assertVisible(actor, answers);
  return answers;
}

/** The serialized 200 answer of GET /events/:id and its ETag. */
export async function getEvent(deps: EventDeps, eventId: string, actor: Actor | undefined): Promise<{ body: string; etag: string }> {
  const answers = await visibleAnswers(deps, eventId, actor);
  return { body: answers.event, etag: answers.etag };
}

/** The serialized 200 answer of GET /events/:id/availability. */
export async function getAvailability(deps: EventDeps, eventId: string, actor: Actor | undefined): Promise<string> {
  return (await visibleAnswers(deps, eventId, actor)).availability;
}
