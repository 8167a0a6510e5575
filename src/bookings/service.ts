import { performance } from 'node:perf_hooks';
import { type ClientSession, Types } from 'mongoose';
import { forbidden, notFound } from '../lib/errors.js';
import { type BookingFields, type BookingStatus, bookingStatusFilter } from './booking.model.js';
import { holdExpired, invalidState, keyReused } from './problems.js';
import { linesOf } from './ledger-audit.js';
import {
  duplicateOn,
  earlierUseOfKey,
  exclusiveSalesTransaction,
  notify,
  type OpenSales,
  openSales,
  processCreates,
  saveLedger,
} from './sales.js';
import { Desk } from '../lib/desk.js';
import { statusAt } from './schemas.js';
import { issueTicketsFor } from './tickets.js';
import { tooBusy, transactionStats } from '../lib/transaction.js';
import { bookingMessage } from '../outbox/booking-messages.js';
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
    desk: new Desk<CreateJob, BookingOutcome>({
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
              tickets: await issueTicketsFor(deps, current.eventId, lines),
              // With a payment provider, only a succeeded payment pays (402 PAYMENT_REQUIRED otherwise).
              paymentReference: deps.payments
                ? await deps.payments.requireSucceededPayment(current._id, session)
                : (input.paymentReference ?? null),
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
        sales.coupons.confirmed(current);
        // Announced in this transaction (DESIGN.md 9): the confirmed booking with its tickets.
        await deps.outbox.enqueue(session, bookingMessage('booking.confirmed', confirmed));
        // A waitlist offer taken: its entry is accepted.
        await offerAnswered(deps, sales, current._id, 'accepted', session, now);
        await saveLedger(deps, sales, session);
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

/** What a succeeded payment did to its booking (settlePaidBooking). */
export type PaidBookingOutcome =
  | { kind: 'confirmed'; booking: BookingFields }
  | { kind: 'unchanged' }
  | { kind: 'refund'; reason: string };

const TOO_LATE = 'The payment arrived after the hold expired and the tickets were no longer available; it is refunded';

/**
 * Payments' call site (src/payments/settle.ts): a payment succeeded, so its booking is confirmed with
 * its tickets, inside the caller's sales transaction of the event, opened with openSales (the claim
 * of the event, DESIGN.md 1); this writes the ledger back as the transaction's last event write.
 * A live hold turns into sold tickets (confirmHold). A hold that expired first has already left the
 * ledger, so it is sold again only if its lines still fit in this snapshot (shortfall, then sell);
 * otherwise, and for a booking cancelled or paid by another payment, the answer is `refund`, and a
 * hold that lost its tickets reads `refunded` with `failureReason` (DESIGN.md 8: no buyer is
 * charged without tickets).
 */
export async function settlePaidBooking(
  deps: Pick<BookingDeps, 'models' | 'clock' | 'ticketKeys' | 'outbox'>,
  sales: OpenSales | null,
  bookingId: Types.ObjectId,
  paymentReference: string,
  session: ClientSession,
): Promise<PaidBookingOutcome> {
  const now = deps.clock.now();
  const booking = await deps.models.Booking.findById(bookingId).session(session).lean<BookingFields>();
  if (!booking) return { kind: 'refund', reason: 'The booking no longer exists' };
  if (booking.status === 'confirmed') {
    return booking.paymentReference === paymentReference
      ? { kind: 'unchanged' }
      : { kind: 'refund', reason: 'The booking was already paid by another payment' };
  }
  if (booking.status !== 'pending') return { kind: 'refund', reason: `The booking was ${booking.status} before the payment succeeded` };

  const lines = sales ? linesOf(booking, sales.event.ticketTypes[0]?._id) : [];
  const live = statusAt(booking, now) === 'pending';
  const gone = !sales || lines.length === 0;
  // A late success must also fit its coupon's limit: the expired hold gave its redemption back.
  const couponFull = !gone && !live && (await couponLimitReached(deps, sales, booking, session));
  // On a seated event the expired hold's very seats must still be free: the tickets carry them.
  const seatsTaken = !gone && !live && sales.ledger.takenSeats(lines).length > 0;
  if (gone || (!live && (sales.event.status !== 'published' || sales.ledger.shortfall(lines) || seatsTaken || couponFull))) {
    const reason = gone ? 'The event no longer exists' : TOO_LATE;
    await deps.models.Booking.updateOne(
      { _id: booking._id, status: 'pending' },
      { $set: { status: 'refunded', failureReason: reason, expiresAt: null, updatedAt: now } },
      { session, timestamps: false },
    );
    return { kind: 'refund', reason };
  }
  const confirmed = await deps.models.Booking.findOneAndUpdate(
    { _id: booking._id, status: 'pending' },
    {
      $set: {
        status: 'confirmed',
        tickets: await issueTicketsFor(deps, booking.eventId, lines),
        paymentReference,
        confirmedAt: now,
        updatedAt: now,
        expiresAt: null,
      },
    },
    { new: true, session, timestamps: false },
  ).lean<BookingFields>();
  if (!confirmed) return { kind: 'refund', reason: 'The booking changed before the payment succeeded' };
  // A live hold's group is still in the ledger until expiresAt; an expired one is already gone.
  if (live) sales.ledger.confirmHold(lines, booking.expiresAt as Date);
  else sales.ledger.sell(lines);
  // The coupon's redemption moves from held to confirmed (live), or is taken again (late).
  if (live) sales.coupons.confirmed(booking);
  else if (booking.couponId) sales.coupons.redeem(booking.couponId, null);
  // Announced in the payment's transaction (DESIGN.md 9), before the ledger write (the last one).
  await deps.outbox.enqueue(session, bookingMessage('booking.confirmed', confirmed));
  // A paid waitlist offer is taken: its entry is accepted (a no-op for an ordinary booking).
  await offerAnswered(deps, sales, booking._id, 'accepted', session, now);
  await saveLedger(deps, sales, session);
  return { kind: 'confirmed', booking: confirmed };
}

/** Whether the booking's coupon has no redemption left for it (read in the sale's snapshot). */
async function couponLimitReached(
  deps: Pick<BookingDeps, 'models'>,
  sales: OpenSales,
  booking: BookingFields,
  session: ClientSession,
): Promise<boolean> {
  if (!booking.couponId) return false;
  const coupon = await deps.models.Coupon.findById(booking.couponId).session(session).lean();
  if (!coupon?.maxRedemptions) return false;
  return sales.coupons.redemptions(booking.couponId) >= coupon.maxRedemptions;
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
      const cancelled: BookingFields = { ...before, status: 'cancelled', cancelledAt: now, updatedAt: now };
      // Announced in this transaction (DESIGN.md 9), before the ledger write (the last one).
      await deps.outbox.enqueue(session, bookingMessage('booking.cancelled', cancelled));
      if (sales) {
        const lines = linesOf(before, sales.event.ticketTypes[0]?._id);
        if (before.status === 'confirmed') sales.ledger.refund(lines);
        else sales.ledger.releaseHold(lines, before.expiresAt as Date);
        sales.coupons.cancelled(before);
        // The waitlist (DESIGN.md 10): a declined offer leaves the list, and the freed tickets
        // are offered to the queue in this same transaction, before any buyer can take them.
        if (before.status === 'pending') await offerAnswered(deps, sales, before._id, 'left', session, now);
        await serveWaitlist(deps, sales, session, now);
        await saveLedger(deps, sales, session);
      }
      // A paid booking is refunded: the refund is queued in this transaction (src/payments).
      await deps.payments?.bookingCancelled(before._id, session);
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
