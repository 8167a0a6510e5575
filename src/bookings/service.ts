import { performance } from 'node:perf_hooks';
import { Types } from 'mongoose';
import { forbidden, notFound } from '../lib/errors.js';
import { type BookingFields, type BookingStatus, bookingStatusFilter } from './booking.model.js';
import { holdExpired, invalidState, keyReused } from './problems.js';
import { linesOf } from './ledger-audit.js';
import { duplicateOn, earlierUseOfKey, exclusiveSalesTransaction, notify, openSales, processCreates, saveLedger } from './sales.js';
import { SalesDesk } from './sales-desk.js';
import { statusAt } from './schemas.js';
import { issueTicketsFor } from './tickets.js';
import { tooBusy, transactionStats } from '../lib/transaction.js';
import { offerAnswered, serveWaitlist } from '../waitlist/serve.js';
import type {
  Actor,
  BookingDeps,
  BookingOutcome,
  BookingSettings,
  CreateBookingInput,
  CreateJob,
  IdempotencyStamp,
} from './types.js';

export type { Actor, BookingDeps, BookingOutcome, CreateBookingInput, IdempotencyStamp } from './types.js';

/** The booking service of one app: its settings plus the sales desk that orders its transactions. */
export function createBookingDeps(settings: BookingSettings): BookingDeps {
  const deps: BookingDeps = {
    ...settings,
    desk: new SalesDesk<CreateJob, BookingOutcome>({
      processBatch: (eventId, items) => processCreates(deps, eventId, items),
      timeoutError: () => {
        transactionStats.exhausted++;
        return tooBusy();
      },
    }),
  };
  return deps;
}

/**
 * Books `quantity` tickets: a pending hold for a paid event, a confirmed booking with tickets for a
 * free one. Decided in one transaction that first writes the event document, then counts inside the
 * same snapshot, then inserts (sales.ts); concurrent buyers never oversell.
 */
export function createBooking(
  deps: BookingDeps,
  actor: Actor,
  input: CreateBookingInput,
  stamp?: IdempotencyStamp,
): Promise<BookingOutcome> {
  return deps.desk.submit(input.eventId, { actor, input, stamp }, performance.now() + deps.txTimeoutMs);
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

// A ticket-number collision (about one in 10^17) is retried with fresh numbers this many times.
const TICKET_RETRIES = 3;

/** Turns the owner's live hold into a confirmed booking with one unique ticket number per ticket. */
export async function confirmBooking(
  deps: BookingDeps,
  actor: Actor,
  bookingId: string,
  input: ConfirmBookingInput,
  stamp?: IdempotencyStamp,
): Promise<BookingOutcome> {
  const found = await visibleBooking(deps, actor, bookingId);
  // The organizer and admins may see the booking, but paying for it is the owner's act.
  if (String(found.userId) !== actor.userId) throw forbidden('Only the owner can confirm a booking');

  for (let round = 1; ; round++) {
    try {
      const outcome = await exclusiveSalesTransaction(deps, found.eventId, async (session): Promise<BookingOutcome> => {
        const now = deps.clock.now();
        // Confirming turns held into sold: it is ordered against every other sale of the event.
        const sales = await openSales(deps, found.eventId, session, now);
        if (stamp) {
          const earlier = await earlierUseOfKey(deps, actor.userId, stamp, 'confirm', session);
          if (earlier) return { booking: earlier, replayed: true };
        }
        const current = await deps.models.Booking.findById(found._id).session(session).lean<BookingFields>();
        if (!current) throw notFound('Booking');
        const status = statusAt(current, now);
        if (status === 'expired') throw holdExpired();
        if (status !== 'pending') throw invalidState(status);
        if (!sales) throw notFound('Event');
        const lines = linesOf(current, sales.event.ticketTypes[0]?._id);

        const confirmed = await deps.models.Booking.findOneAndUpdate(
          { _id: current._id, status: 'pending' },
          {
            $set: {
              status: 'confirmed',
              tickets: issueTicketsFor(lines),
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
        // Still live (checked above in this snapshot): its hold group exists until expiresAt.
        sales.ledger.confirmHold(lines, current.expiresAt as Date);
        // A waitlist offer taken: its entry is accepted.
        await offerAnswered(deps, sales, current._id, 'accepted', session, now);
        await saveLedger(deps, sales, session);
        // Hook: tickets issuance and outbox messages of a confirmation belong here, in this transaction.
        return { booking: confirmed, replayed: false };
      });
      if (!outcome.replayed) await notify(deps, found.eventId);
      return outcome;
    } catch (err) {
      const dup = duplicateOn(err);
      // The key already confirmed another of this user's bookings (and Redis forgot it).
      if (dup === 'confirmIdempotencyKey') throw keyReused();
      if (dup === 'tickets' && round < TICKET_RETRIES) continue;
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
  const found = await visibleBooking(deps, actor, bookingId);
  if (!holdsTickets(found, deps.clock.now())) return found;

  const outcome = await exclusiveSalesTransaction(deps, found.eventId, async (session) => {
    const now = deps.clock.now();
    const sales = await openSales(deps, found.eventId, session, now);
    // The document as it was (new: false): what it held is what goes back.
    const before = await deps.models.Booking.findOneAndUpdate(
      { _id: found._id, $or: [{ status: 'confirmed' }, { status: 'pending', expiresAt: { $gt: now } }] },
      { $set: { status: 'cancelled', cancelledAt: now, updatedAt: now } },
      { new: false, session, timestamps: false },
    ).lean<BookingFields>();
    if (before) {
      if (sales) {
        const lines = linesOf(before, sales.event.ticketTypes[0]?._id);
        if (before.status === 'confirmed') sales.ledger.refund(lines);
        else sales.ledger.releaseHold(lines, before.expiresAt as Date);
        // The waitlist (DESIGN.md 10): a declined offer leaves the list, and the freed tickets
        // are offered to the queue in this same transaction, before any buyer can take them.
        if (before.status === 'pending') await offerAnswered(deps, sales, before._id, 'left', session, now);
        await serveWaitlist(deps, sales, session, now);
        await saveLedger(deps, sales, session);
      }
      // Hook: outbox messages (booking.cancelled, refunds) and ticket voiding belong here.
      const cancelled: BookingFields = { ...before, status: 'cancelled', cancelledAt: now, updatedAt: now };
      return { booking: cancelled, changed: true };
    }
    // Cancelled (or expired, or its event cancelled) while we waited: the same answer as a repeat.
    const current = await deps.models.Booking.findById(found._id).session(session).lean<BookingFields>();
    if (!current) throw notFound('Booking');
    return { booking: current, changed: false };
  });
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

/** The caller's own bookings, newest first. */
export async function listBookings(
  deps: BookingDeps,
  actor: Actor,
  input: ListBookingsInput,
): Promise<{ items: BookingFields[]; total: number }> {
  const filter = { userId: new Types.ObjectId(actor.userId), ...bookingStatusFilter(input.status, deps.clock.now()) };
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
