import { performance } from 'node:perf_hooks';
import type { ClientSession, Types } from 'mongoose';
import { eventCounts } from '../bookings/availability.js';
import { ledgerCounts, SalesLedger } from '../bookings/ledger.js';
import { migrateEvent } from '../bookings/ledger-audit.js';
import { AppError, notFound } from '../lib/errors.js';
import { runTransaction } from '../lib/transaction.js';
import { type Actor, assertManageable, type EventDeps } from './access.js';
import { invalidateEventCache } from './cache.js';
import { eventCancelledMessage } from '../outbox/event-messages.js';
import { bumpListingVersion } from './listing-cache.js';
import { listedFieldsOf } from './listing-projection.js';
import { type EventFields, LEDGER_VERSION } from './event.model.js';
import { etagOf, eventView, toEventDto } from './presenter.js';
import { serveAfterChange, servingOf } from '../waitlist/serve.js';
import { venueFor } from '../seats/seating.js';
import type { CreateEventInput, EventDto, UpdateEventInput } from './schemas.js';

/** An event answer: the body's `data` and the ETag header that goes with it. */
export interface EventAnswer {
  event: EventDto;
  etag: string;
}

const precondition = () =>
  new AppError(412, 'PRECONDITION_FAILED', 'The event changed since you read it; fetch it again and retry with the new ETag');
const invalidState = (detail: string) => new AppError(409, 'INVALID_STATE', detail);

// Same runner and time bound as sales: these transactions contend on the same event document.
const transaction = <T>(deps: EventDeps, work: (session: ClientSession) => Promise<T>) =>
  runTransaction(deps.db, work, { deadline: performance.now() + deps.config.BOOKING_TX_TIMEOUT_MS });

export async function answer(deps: EventDeps, doc: EventFields): Promise<EventAnswer> {
  const view = eventView(doc);
  const now = deps.clock.now();
  const counts = await eventCounts(deps.models.Booking, [doc], now);
  return { event: toEventDto(view, counts.get(view.id), now), etag: etagOf(view) };
}

/** Loads the event for a change by `actor`: 404 when missing or an invisible draft, 403 when not theirs. */
async function loadManageable(deps: EventDeps, eventId: string, actor: Actor | undefined): Promise<EventFields> {
  const doc = await deps.models.Event.findById(eventId).lean();
  if (!doc) throw notFound('Event');
  assertManageable(actor, eventView(doc));
  return doc;
}

/**
 * The first write of every transaction that must not race with bookings: bumping salesVersion
 * makes any concurrent booking transaction of this event conflict (DESIGN.md 1), so the counts read
 * afterwards in this transaction cannot be overtaken by a sale.
 */
export async function claimSales(
  deps: EventDeps,
  filter: { _id: string | Types.ObjectId; revision?: { $in: number[] } },
  session: ClientSession,
): Promise<EventFields | null> {
  const claimed = await deps.models.Event.findOneAndUpdate(filter, { $inc: { salesVersion: 1 } }, { session, new: true }).lean<EventFields>();
  // An event from before ticket types gets its default type and ledger first (exact: it is claimed).
  if (claimed && claimed.ledgerVersion !== LEDGER_VERSION) return migrateEvent(deps.models, claimed, deps.clock.now(), session);
  return claimed;
}

/** Sold and held tickets of a claimed event, from its ledger. */
export function takenTickets(deps: EventDeps, event: EventFields) {
  const { confirmedTickets, heldTickets } = ledgerCounts(event, deps.clock.now());
  return { confirmedTickets, heldTickets, taken: confirmedTickets + heldTickets };
}

export async function createEvent(deps: EventDeps, actor: Actor, input: CreateEventInput): Promise<EventAnswer> {
  // A seated event sells its venue's seats: one type for every section until the organizer splits them.
  const venue = input.venueId ? await venueFor(deps.models, input.venueId) : null;
  if (venue && input.totalTickets !== undefined && input.totalTickets !== venue.capacity) {
    throw new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', {
      errors: [{ path: 'totalTickets', message: `a seated event offers its venue's ${venue.capacity} seats: leave totalTickets out` }],
    });
  }
  const totalTickets = venue ? venue.capacity : input.totalTickets;
  const doc = await deps.models.Event.create({
    ...input,
    totalTickets,
    venueId: venue?._id ?? null,
    endsAt: input.endsAt ?? null,
    status: input.status ?? 'draft',
    organizerId: actor.userId,
    // A single-price event: one type with the event's price and its whole capacity (capacity null).
    ticketTypes: [
      venue
        ? { name: 'General admission', price: input.price, capacity: venue.capacity, sectionIds: venue.sections.map((s) => s.id), position: 0 }
        : { name: 'General admission', price: input.price, capacity: null, position: 0 },
    ],
    holds: [],
    ledgerVersion: LEDGER_VERSION,
    // Nothing sold or held yet: the listing's projection is the whole capacity, exact until a hold.
    listedAvailable: totalTickets,
    listedUntil: null,
  });
  // A published event joins the listings at once (a draft is in none, but cheap to count as a change).
  await bumpListingVersion(deps.kv, deps.log);
  const view = eventView(doc.toObject<EventFields>());
  // A new event has no bookings: everything is available.
  return { event: toEventDto(view, undefined, deps.clock.now()), etag: etagOf(view) };
}

/**
 * `If-Match` values: undefined when absent, `any` for `*`, otherwise the revisions of this event
 * the caller holds. Weak validators never match (RFC 9110 13.1.1 uses the strong comparison).
 */
export type IfMatch = undefined | 'any' | number[];

export function parseIfMatch(header: string | undefined, eventId: string): IfMatch {
  if (header === undefined) return undefined;
  if (header.trim() === '*') return 'any';
  const revisions: number[] = [];
  for (const tag of header.split(',')) {
    const m = /^"([a-f0-9]{24})-(\d{1,15})"$/i.exec(tag.trim());
    if (m && m[1].toLowerCase() === eventId.toLowerCase()) revisions.push(Number(m[2]));
  }
  return revisions;
}

export async function updateEvent(
  deps: EventDeps,
  eventId: string,
  actor: Actor | undefined,
  input: UpdateEventInput,
  ifMatch: IfMatch,
): Promise<EventAnswer> {
  const current = await loadManageable(deps, eventId, actor);
  if (Array.isArray(ifMatch) && !ifMatch.includes(current.revision ?? 0)) throw precondition();
  if (current.status === 'cancelled') throw invalidState('A cancelled event cannot be changed');

  const updated = await transaction(deps, async (session) => {
    const revision = Array.isArray(ifMatch) ? { $in: ifMatch } : undefined;
    const event = await claimSales(deps, { _id: current._id, ...(revision ? { revision } : {}) }, session);
    if (!event) {
      // Changed (or deleted) between our read and this transaction.
      throw (await deps.models.Event.exists({ _id: current._id }).session(session)) ? precondition() : notFound('Event');
    }
    if (event.status === 'cancelled') throw invalidState('A cancelled event cannot be changed');

    const startsAt = input.startsAt ?? event.startsAt;
    const endsAt = input.endsAt !== undefined ? input.endsAt : event.endsAt;
    if (endsAt && endsAt <= startsAt) {
      throw new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', {
        errors: [{ path: input.endsAt !== undefined ? 'endsAt' : 'startsAt', message: 'endsAt must be after startsAt' }],
      });
    }
    if (event.venueId && input.totalTickets !== undefined && input.totalTickets !== event.totalTickets) {
      throw new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', {
        errors: [{ path: 'totalTickets', message: 'a seated event offers the seats of its ticket types\' sections: change those instead' }],
      });
    }
    if (input.totalTickets !== undefined && input.totalTickets < event.totalTickets) {
      const { confirmedTickets, heldTickets, taken } = takenTickets(deps, event);
      if (input.totalTickets < taken) {
        throw new AppError(409, 'CAPACITY_BELOW_SOLD', `totalTickets cannot go below the ${taken} tickets sold or held`, {
          extra: { confirmedTickets, heldTickets, minimumTotalTickets: taken },
        });
      }
    }
    // `price` of an event with one type is that type's price; with several, each type has its own.
    // The listing's projection follows a new capacity (listing-projection.ts).
    const set: Record<string, unknown> = { ...input, ...listedFieldsOf({ ...event, totalTickets: input.totalTickets ?? event.totalTickets }, deps.clock.now()) };
    if (input.price !== undefined) {
      if (event.ticketTypes.length > 1) {
        throw new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', {
          errors: [{ path: 'price', message: 'this event has several ticket types: change their prices instead' }],
        });
      }
      if (event.ticketTypes.length === 1) set['ticketTypes.0.price'] = input.price;
    }
    const saved = await deps.models.Event.findOneAndUpdate(
      { _id: event._id },
      { $set: set, $inc: { revision: 1 } },
      { session, new: true, runValidators: true },
    ).lean<EventFields>();
    // A raised capacity frees tickets: the waitlist gets them in this transaction (DESIGN.md 10).
    return saved && serveAfterChange(servingOf(deps), saved, session, deps.clock.now());
  });
  if (!updated) throw notFound('Event');
  await invalidateEventCache(deps.kv, updated._id, deps.log);
  return answer(deps, updated);
}

export async function publishEvent(deps: EventDeps, eventId: string, actor: Actor | undefined): Promise<EventAnswer> {
  const current = await loadManageable(deps, eventId, actor);
  const published = await deps.models.Event.findOneAndUpdate(
    { _id: current._id, status: 'draft' },
    { $set: { status: 'published' }, $inc: { revision: 1 } },
    { new: true },
  ).lean();
  if (!published) {
    const now = await deps.models.Event.findById(current._id, { status: 1 }).lean();
    if (!now) throw notFound('Event');
    throw invalidState(`Only a draft can be published; this event is ${now.status}`);
  }
  // A venue plan change that checked "no published event here" before this publish must not land:
  // it writes only if the venue's revision is still the one it read (src/venues/service.ts).
  if (published.venueId) await deps.models.Venue.updateOne({ _id: published.venueId }, { $inc: { revision: 1 } });
  await invalidateEventCache(deps.kv, published._id, deps.log);
  return answer(deps, published);
}

/**
 * Cancels the event and, in the same transaction, every booking that still counts: confirmed ones
 * and live holds. Expired holds stay as they are (they read as expired and the TTL index removes
 * them). Cancelling a cancelled event answers it unchanged.
 */
export async function cancelEvent(deps: EventDeps, eventId: string, actor: Actor | undefined): Promise<EventAnswer> {
  const current = await loadManageable(deps, eventId, actor);
  if (current.status === 'cancelled') return answer(deps, current);

  const cancelled = await transaction(deps, async (session) => {
    const event = await claimSales(deps, { _id: current._id }, session);
    if (!event) throw notFound('Event');
    if (event.status === 'cancelled') return event;
    const now = deps.clock.now();
    await deps.models.Booking.updateMany(
      { eventId: event._id, $or: [{ status: 'confirmed' }, { status: 'pending', expiresAt: { $gt: now } }] },
      { $set: { status: 'cancelled', cancelledAt: now } },
      { session },
    );
    // Announced in this transaction; cancelledAt names the bookings this cancelled (their emails,
    // notifications/emails.ts).
    await deps.outbox.enqueue(session, eventCancelledMessage(event, now));
    // The queue closes with the event: open entries (waiting, or holding an offer whose booking was
    // just cancelled) leave it. Nothing is read when the event never had a waitlist.
    if ((event.waitlist?.joined ?? 0) > 0) {
      await deps.models.WaitlistEntry.updateMany(
        { eventId: event._id, status: { $in: ['waiting', 'offered'] } },
        { $set: { status: 'left', closedAt: now, updatedAt: now } },
        { session, timestamps: false },
      );
    }
    // Every booking that counted is cancelled: nothing is sold or held any more.
    const ledger = new SalesLedger(event, now);
    ledger.clear();
    const cleared = ledger.update().$set as Record<string, unknown>;
    // Paid bookings are refunded: durable refund jobs, queued in this transaction (src/payments).
    await deps.payments?.eventCancelled(event._id, session);
    return deps.models.Event.findOneAndUpdate(
      { _id: event._id },
      // Every coupon redemption went with its booking (coupons/ledger.ts); the queue is closed.
      { $set: { ...cleared, couponLedger: [], status: 'cancelled', ...(event.waitlist ? { 'waitlist.waiting': 0 } : {}) }, $inc: { revision: 1 } },
      { session, new: true },
    ).lean();
  });
  if (!cancelled) throw notFound('Event');
  await invalidateEventCache(deps.kv, cancelled._id, deps.log);
  return answer(deps, cancelled);
}

/** Deletes a draft, or an event nobody holds or owns tickets of; never one with live sales. */
export async function deleteEvent(deps: EventDeps, eventId: string, actor: Actor | undefined): Promise<void> {
  const current = await loadManageable(deps, eventId, actor);
  await transaction(deps, async (session) => {
    const event = await claimSales(deps, { _id: current._id }, session);
    if (!event) throw notFound('Event');
    if (event.status !== 'draft') {
      const { confirmedTickets, heldTickets, taken } = takenTickets(deps, event);
      if (taken > 0) {
        throw new AppError(409, 'EVENT_HAS_BOOKINGS', 'The event has pending or confirmed bookings; cancel it instead', {
          extra: { confirmedTickets, heldTickets },
        });
      }
    }
    await deps.models.Event.deleteOne({ _id: event._id }, { session });
  });
  await invalidateEventCache(deps.kv, current._id, deps.log);
}
