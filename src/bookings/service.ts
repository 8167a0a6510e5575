import { MongoServerError } from 'mongodb';
import { type ClientSession, type Connection, Types } from 'mongoose';
import type { Role } from '../auth/user.model.js';
import type { Clock } from '../lib/clock.js';
import { forbidden, notFound } from '../lib/errors.js';
import type { Models } from '../models.js';
import { availabilityFor } from './availability.js';
import type { BookingFields, BookingStatus } from './booking.model.js';
import { holdExpired, invalidState, keyReused, notOnSale, quantityOutOfRange, soldOut } from './problems.js';
import { statusAt } from './schemas.js';
import { issueTickets } from './tickets.js';
import { runTransaction } from './transaction.js';

export interface BookingDeps {
  db: Connection;
  models: Pick<Models, 'Event' | 'Booking'>;
  clock: Clock;
  holdTtlMs: number;
  txTimeoutMs: number;
  /** Runs after every committed change to what an event has sold or held (read-cache invalidation). */
  salesChanged(eventId: string): Promise<void>;
}

export interface Actor {
  userId: string;
  role: Role;
}

/** Layer 3 of idempotency (DESIGN.md 3): the key and the request's fingerprint, recorded on the booking. */
export interface IdempotencyStamp {
  key: string;
  fingerprint: string;
}

export interface BookingOutcome {
  booking: BookingFields;
  /** True when an earlier request with the same key made this booking (or confirm) and this is its answer again. */
  replayed: boolean;
}

// How often a write that lost on a unique index is re-run (ticket-number collision, or a
// same-key request that committed between our check and our insert).
const UNIQUE_RETRIES = 3;

type DuplicateOn = 'idempotencyKey' | 'confirmIdempotencyKey' | 'tickets' | null;
function duplicateOn(err: unknown): DuplicateOn {
  if (!(err instanceof MongoServerError) || err.code !== 11000) return null;
  const fields = Object.keys((err.keyPattern as Record<string, unknown> | undefined) ?? {});
  if (fields.includes('idempotencyKey')) return 'idempotencyKey';
  if (fields.includes('confirmIdempotencyKey')) return 'confirmIdempotencyKey';
  if (fields.includes('tickets.number')) return 'tickets';
  return null;
}

/**
 * What an earlier request with this key (if any) means for this one: the same request again ->
 * its booking; the key used for anything else (another body, path, or the other endpoint) -> 422.
 */
async function earlierUseOfKey(
  deps: BookingDeps,
  userId: string,
  stamp: IdempotencyStamp,
  use: 'create' | 'confirm',
  session?: ClientSession,
): Promise<BookingFields | null> {
  const earlier = await deps.models.Booking.findOne({
    userId,
    $or: [{ idempotencyKey: stamp.key }, { confirmIdempotencyKey: stamp.key }],
  })
    .session(session ?? null)
    .lean<BookingFields>();
  if (!earlier) return null;
  const sameUse = use === 'create' ? earlier.idempotencyKey === stamp.key : earlier.confirmIdempotencyKey === stamp.key;
  const fingerprint = use === 'create' ? earlier.requestFingerprint : earlier.confirmFingerprint;
  if (sameUse && fingerprint === stamp.fingerprint) return earlier;
  throw keyReused();
}

/** The first write of every booking transaction: the point all competing transactions conflict on (DESIGN.md 1). */
function claimEvent(deps: BookingDeps, eventId: Types.ObjectId, session: ClientSession) {
  return deps.models.Event.findOneAndUpdate(
    { _id: eventId },
    { $inc: { salesVersion: 1 } },
    // A sale is not an edit of the event: its updatedAt and ETag revision stay as they are.
    { new: true, session, timestamps: false },
  ).lean();
}

async function notify(deps: BookingDeps, eventId: Types.ObjectId | string): Promise<void> {
  try {
    await deps.salesChanged(String(eventId));
  } catch {
    // A stale read cache heals itself within EVENT_CACHE_TTL_SECONDS; never fail a committed sale for it.
  }
}

export interface CreateBookingInput {
  eventId: string;
  quantity: number;
}

/**
 * Books `quantity` tickets: a pending hold for a paid event, a confirmed booking with tickets for a
 * free one. The decision runs in one transaction that first writes the event document, then counts
 * inside the same snapshot, then inserts; concurrent buyers conflict and are retried instead of
 * overselling.
 */
export async function createBooking(
  deps: BookingDeps,
  actor: Actor,
  input: CreateBookingInput,
  stamp?: IdempotencyStamp,
): Promise<BookingOutcome> {
  const now = deps.clock.now();
  const eventId = new Types.ObjectId(input.eventId);
  const userId = new Types.ObjectId(actor.userId);

  for (let round = 1; ; round++) {
    try {
      const outcome = await runTransaction(
        deps.db,
        async (session): Promise<BookingOutcome> => {
          const event = await claimEvent(deps, eventId, session);
          if (stamp) {
            const earlier = await earlierUseOfKey(deps, actor.userId, stamp, 'create', session);
            if (earlier) return { booking: earlier, replayed: true };
          }
          if (!event) throw notFound('Event');
          if (event.status !== 'published') throw notOnSale(`it is ${event.status}`);
          if (event.startsAt.getTime() <= now.getTime()) throw notOnSale('it has already started');
          if (input.quantity > event.maxTicketsPerBooking) throw quantityOutOfRange(event.maxTicketsPerBooking);

          const { availableTickets } = await availabilityFor(deps.models.Booking, event, now, session);
          if (availableTickets < input.quantity) throw soldOut(availableTickets);

          const free = event.price === 0;
          const booking = new deps.models.Booking({
            eventId,
            userId,
            quantity: input.quantity,
            status: free ? 'confirmed' : 'pending',
            unitPrice: event.price,
            totalPrice: event.price * input.quantity,
            currency: event.currency,
            expiresAt: free ? null : new Date(now.getTime() + deps.holdTtlMs),
            tickets: free ? issueTickets(input.quantity) : [],
            confirmedAt: free ? now : null,
            idempotencyKey: stamp?.key ?? null,
            requestFingerprint: stamp?.fingerprint ?? null,
            createdAt: now,
            updatedAt: now,
          });
          // Timestamps come from the app clock (tests move it), not from Mongoose's wall clock.
          await booking.save({ session, timestamps: false });
          return { booking: booking.toObject<BookingFields>(), replayed: false };
        },
        { timeoutMs: deps.txTimeoutMs },
      );
      if (!outcome.replayed) await notify(deps, eventId);
      return outcome;
    } catch (err) {
      const dup = duplicateOn(err);
      if (dup === 'idempotencyKey' && stamp) {
        // A request with the same key committed while ours ran: answer as the layer-3 check would.
        const earlier = await earlierUseOfKey(deps, actor.userId, stamp, 'create');
        if (earlier) return { booking: earlier, replayed: true };
      }
      if (dup !== null && round < UNIQUE_RETRIES) continue;
      throw err;
    }
  }
}

function canSee(actor: Actor, booking: Pick<BookingFields, 'userId'>, organizerId: unknown): boolean {
  return (
    actor.role === 'admin' ||
    String(booking.userId) === actor.userId ||
    (organizerId != null && String(organizerId) === actor.userId)
  );
}

/** The booking if the actor may see it (owner, the event's organizer, admin); 404 otherwise. */
async function visibleBooking(deps: BookingDeps, actor: Actor, bookingId: string): Promise<BookingFields> {
  const booking = await deps.models.Booking.findById(bookingId).lean<BookingFields>();
  if (!booking) throw notFound('Booking');
  if (actor.role === 'admin' || String(booking.userId) === actor.userId) return booking;
  const event = await deps.models.Event.findById(booking.eventId, { organizerId: 1 }).lean();
  if (!canSee(actor, booking, event?.organizerId)) throw notFound('Booking');
  return booking;
}

export function getBooking(deps: BookingDeps, actor: Actor, bookingId: string): Promise<BookingFields> {
  return visibleBooking(deps, actor, bookingId);
}

export interface ConfirmBookingInput {
  paymentReference?: string;
}

/** Turns the owner's live hold into a confirmed booking with one unique ticket number per ticket. */
export async function confirmBooking(
  deps: BookingDeps,
  actor: Actor,
  bookingId: string,
  input: ConfirmBookingInput,
  stamp?: IdempotencyStamp,
): Promise<BookingOutcome> {
  const now = deps.clock.now();
  const found = await visibleBooking(deps, actor, bookingId);
  // The organizer and admins may see the booking, but paying for it is the owner's act.
  if (String(found.userId) !== actor.userId) throw forbidden('Only the owner can confirm a booking');

  for (let round = 1; ; round++) {
    try {
      const outcome = await runTransaction(
        deps.db,
        async (session): Promise<BookingOutcome> => {
          // Confirming changes held into sold: it competes with every other sale of the event.
          await claimEvent(deps, found.eventId, session);
          if (stamp) {
            const earlier = await earlierUseOfKey(deps, actor.userId, stamp, 'confirm', session);
            if (earlier) return { booking: earlier, replayed: true };
          }
          const current = await deps.models.Booking.findById(found._id).session(session).lean<BookingFields>();
          if (!current) throw notFound('Booking');
          const status = statusAt(current, now);
          if (status === 'expired') throw holdExpired();
          if (status !== 'pending') throw invalidState(status);

          const confirmed = await deps.models.Booking.findOneAndUpdate(
            { _id: current._id, status: 'pending' },
            {
              $set: {
                status: 'confirmed',
                tickets: issueTickets(current.quantity),
                paymentReference: input.paymentReference ?? null,
                confirmedAt: now,
                updatedAt: now,
                // Confirmed bookings never expire; the TTL index only looks at pending ones anyway.
                expiresAt: null,
                confirmIdempotencyKey: stamp?.key ?? null,
                confirmFingerprint: stamp?.fingerprint ?? null,
              },
            },
            { new: true, session, timestamps: false },
          ).lean<BookingFields>();
          if (!confirmed) throw invalidState('no longer pending');
          return { booking: confirmed, replayed: false };
        },
        { timeoutMs: deps.txTimeoutMs },
      );
      if (!outcome.replayed) await notify(deps, found.eventId);
      return outcome;
    } catch (err) {
      const dup = duplicateOn(err);
      // The key already confirmed another of this user's bookings (and Redis forgot it).
      if (dup === 'confirmIdempotencyKey') throw keyReused();
      if (dup === 'tickets' && round < UNIQUE_RETRIES) continue;
      throw err;
    }
  }
}

/**
 * Cancels a booking and gives its tickets back. Cancelling a booking that holds nothing any more
 * (already cancelled, or a hold that has expired) answers it unchanged: there is nothing left to
 * release, and the answer is the same however often it is asked.
 */
export async function cancelBooking(deps: BookingDeps, actor: Actor, bookingId: string): Promise<BookingFields> {
  const now = deps.clock.now();
  const found = await visibleBooking(deps, actor, bookingId);
  if (!holdsTickets(found, now)) return found;

  const outcome = await runTransaction(
    deps.db,
    async (session) => {
      await claimEvent(deps, found.eventId, session);
      const cancelled = await deps.models.Booking.findOneAndUpdate(
        { _id: found._id, $or: [{ status: 'confirmed' }, { status: 'pending', expiresAt: { $gt: now } }] },
        { $set: { status: 'cancelled', cancelledAt: now, updatedAt: now } },
        { new: true, session, timestamps: false },
      ).lean<BookingFields>();
      if (cancelled) return { booking: cancelled, changed: true };
      // Someone else cancelled it (or the event was cancelled) while we looked: same answer as a repeat.
      const current = await deps.models.Booking.findById(found._id).session(session).lean<BookingFields>();
      if (!current) throw notFound('Booking');
      return { booking: current, changed: false };
    },
    { timeoutMs: deps.txTimeoutMs },
  );
  if (outcome.changed) await notify(deps, found.eventId);
  return outcome.booking;
}

function holdsTickets(booking: Pick<BookingFields, 'status' | 'expiresAt'>, now: Date): boolean {
  const status = statusAt(booking, now);
  return status === 'pending' || status === 'confirmed';
}

export interface ListBookingsInput {
  status?: BookingStatus;
  page: number;
  limit: number;
}

/** Filter for a status as the API shows it (`pending` and `expired` split stored pending at `now`). */
function statusFilter(status: BookingStatus | undefined, now: Date): Record<string, unknown> {
  switch (status) {
    case undefined:
      return {};
    case 'pending':
      return { status: 'pending', expiresAt: { $gt: now } };
    case 'expired':
      return { status: 'pending', expiresAt: { $lte: now } };
    default:
      return { status };
  }
}

/** The caller's own bookings, newest first. */
export async function listBookings(
  deps: BookingDeps,
  actor: Actor,
  input: ListBookingsInput,
): Promise<{ items: BookingFields[]; total: number }> {
  const now = deps.clock.now();
  const filter = { userId: new Types.ObjectId(actor.userId), ...statusFilter(input.status, now) };
  const [items, total] = await Promise.all([
    deps.models.Booking.find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .skip((input.page - 1) * input.limit)
      .limit(input.limit)
      .lean<BookingFields[]>(),
    deps.models.Booking.countDocuments(filter),
  ]);
  return { items, total };
}
