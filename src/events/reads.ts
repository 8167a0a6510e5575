import { eventCounts } from '../bookings/availability.js';
import { nextHoldExpiry } from '../bookings/ledger.js';
import { notFound } from '../lib/errors.js';
import { ok, serializeAnswer } from '../lib/http.js';
import { waitlistFigures } from '../waitlist/service.js';
import { type Actor, assertVisible, canManage, type EventDeps } from './access.js';
import { cachedAnswers, type EventAnswers, type LoadedAnswers } from './cache.js';
import { type EventFields, LEDGER_VERSION } from './event.model.js';
import {
  type EventSnapshot,
  etagOf,
  eventView,
  NO_COUNTS,
  nextWindowChange,
  toAvailabilityDto,
  toEventDto,
} from './presenter.js';
import { type AvailabilityDto, availabilityAnswer, eventAnswer } from './schemas.js';

/** The event and its counts at one instant, as the cache keeps them and the reads send them. */
export interface LoadedSnapshot {
  snapshot: EventSnapshot;
  /** When the figures next change by themselves (a hold runs out, a sale window opens or closes), if ever. */
  nextHoldExpiry: Date | null;
}

/** The event and its counts straight from the database (the cache's loader, and fresh answers after writes). */
export async function loadSnapshot(deps: EventDeps, eventId: string): Promise<LoadedSnapshot | null> {
  const { Event } = deps.models;
  const doc = await Event.findById(eventId).lean<EventFields>();
  if (!doc) return null;
  return snapshotOf(deps, doc);
}

/** One event document's snapshot: its counts come from its ledger, no booking is read. */
export async function snapshotOf(deps: EventDeps, doc: EventFields): Promise<LoadedSnapshot> {
  const now = deps.clock.now();
  const view = eventView(doc);
  const counts = (await eventCounts(deps.models.Booking, [doc], now)).get(view.id) ?? NO_COUNTS;
  // The answers stay true until a hold runs out or a type goes on or off sale; see cache.ts freshUntil.
  const changes = [nextHoldExpiry(doc, now), nextWindowChange(view, now)].filter((d): d is Date => d !== null);
  let next = changes.length > 0 ? new Date(Math.min(...changes.map((d) => d.getTime()))) : null;
  if (doc.ledgerVersion !== LEDGER_VERSION) {
    // Not migrated yet: holds are only in the bookings.
    const hold = await deps.models.Booking.findOne({ eventId: doc._id, status: 'pending', expiresAt: { $gt: now } }, { expiresAt: 1 })
      .sort({ expiresAt: 1 })
      .lean();
    if (hold?.expiresAt && (!next || hold.expiresAt < next)) next = new Date(hold.expiresAt);
  }
  return { snapshot: { event: view, counts, asOf: now.toISOString() }, nextHoldExpiry: next };
}

/** Both read answers of a snapshot, serialized through their response schemas. */
function answersOf(snapshot: EventSnapshot): EventAnswers {
  return {
    status: snapshot.event.status,
    organizerId: snapshot.event.organizerId,
    etag: etagOf(snapshot.event),
    event: serializeAnswer(eventAnswer, ok(toEventDto(snapshot.event, snapshot.counts, new Date(snapshot.asOf)))),
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
  const answers = await visibleAnswers(deps, eventId, actor);
  if (!canManage(actor, answers)) return answers.availability;
  // Its organizer also sees the waitlist: two indexed counts, read fresh (the cached answer is everyone's).
  const body = JSON.parse(answers.availability) as { data: AvailabilityDto };
  body.data.waitlist = await waitlistFigures(deps.models, eventId, deps.clock.now());
  return JSON.stringify(body);
}
