import { Types } from 'mongoose';
import { countTickets } from '../bookings/availability.js';
import { notFound } from '../lib/errors.js';
import { type Actor, assertVisible, type EventDeps } from './access.js';
import { cachedSnapshot, type LoadedSnapshot } from './cache.js';
import {
  type EventSnapshot,
  type EventView,
  etagOf,
  eventView,
  toAvailabilityDto,
  toEventDto,
} from './presenter.js';
import type { AvailabilityDto, EventDto } from './schemas.js';

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

async function visibleSnapshot(deps: EventDeps, eventId: string, actor: Actor | undefined): Promise<EventSnapshot> {
  const snapshot = await cachedSnapshot(deps, eventId, () => loadSnapshot(deps, eventId));
  if (!snapshot) throw notFound('Event');
  assertVisible(actor, snapshot.event);
  return snapshot;
}

export async function getEvent(
  deps: EventDeps,
  eventId: string,
  actor: Actor | undefined,
): Promise<{ event: EventDto; etag: string }> {
  const snapshot = await visibleSnapshot(deps, eventId, actor);
  return { event: toEventDto(snapshot.event, snapshot.counts), etag: etagOf(snapshot.event) };
}

export async function getAvailability(deps: EventDeps, eventId: string, actor: Actor | undefined): Promise<AvailabilityDto> {
  return toAvailabilityDto(await visibleSnapshot(deps, eventId, actor));
}
