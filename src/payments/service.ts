import { MongoServerError } from 'mongodb';
import { type ClientSession, Types } from 'mongoose';
import { keyReused, holdExpired } from '../bookings/problems.js';
import { statusAt } from '../bookings/schemas.js';
import type { BookingPayments } from '../bookings/types.js';
import type { Role } from '../auth/user.model.js';
import { forbidden, notFound } from '../lib/errors.js';
import type { BookingFields } from '../bookings/booking.model.js';
import type { PaymentFields } from './payment.model.js';
import { notPayable, paymentRequired } from './problems.js';
import { applyInTransaction, applyReport, queueRefund } from './settle.js';
import { type PaymentView, toPaymentView } from './schemas.js';
import type { PaymentsDeps } from './types.js';

export interface Actor {
  userId: string;
  role: Role;
}

export interface PaymentStamp {
  key: string;
  fingerprint: string;
}

export interface CreatePaymentInput {
  paymentMethod?: string;
}

export interface PaymentOutcome {
  payment: PaymentFields;
  replayed: boolean;
}

/** The booking if the actor may see it (owner, the event's organizer, admin); 404 otherwise. */
async function visibleBooking(deps: PaymentsDeps, actor: Actor, bookingId: string): Promise<BookingFields> {
  const booking = await deps.models.Booking.findById(bookingId).lean<BookingFields>();
  if (!booking) throw notFound('Booking');
  if (actor.role === 'admin' || String(booking.userId) === actor.userId) return booking;
  const event = await deps.models.Event.findById(booking.eventId, { organizerId: 1 }).lean();
  if (event?.organizerId == null || String(event.organizerId) !== actor.userId) throw notFound('Booking');
  return booking;
}

/** The payment this key already made for the booking: a replay, or 422 if the request differs. */
function judgeEarlier(earlier: PaymentFields, stamp: PaymentStamp): PaymentFields {
  if (earlier.requestFingerprint !== stamp.fingerprint) throw keyReused();
  return earlier;
}

/**
 * Starts paying for a pending hold: a payment document first (so the provider call has an id and
 * an idempotency key of ours), then the provider's payment through the circuit breaker, then what
 * it answered, applied in a transaction. A retry with the same Idempotency-Key finds the same
 * document and asks the provider with the same key, so it never charges twice; a 503 changes
 * nothing but leaves that document to be completed by the retry.
 */
export async function createPayment(
  deps: PaymentsDeps,
  actor: Actor,
  bookingId: string,
  input: CreatePaymentInput,
  stamp: PaymentStamp,
): Promise<PaymentOutcome> {
  const booking = await visibleBooking(deps, actor, bookingId);
  if (String(booking.userId) !== actor.userId) throw forbidden('Only the owner can pay for a booking');
  const provider = deps.provider;
  if (!provider) throw notPayable('payments are not taken online here (PAYMENT_PROVIDER=none); confirm the booking instead');

  let payment = await deps.models.Payment.findOne({ bookingId: booking._id, idempotencyKey: stamp.key }).lean<PaymentFields>();
  if (payment) {
    judgeEarlier(payment, stamp);
    if (payment.providerPaymentId) return { payment, replayed: true };
  }
  // A first request, or the retry of one the provider never answered (a 503): the hold must still
  // be there before the provider is asked.
  const status = statusAt(booking, deps.clock.now());
  if (status === 'expired') throw holdExpired();
  if (status !== 'pending') throw notPayable(`it is ${status}`);
  if (booking.totalPrice <= 0) throw notPayable('it costs nothing');
  payment ??= await insertPayment(deps, booking, provider.name, input, stamp);

  const created = payment;
  const answer = await deps.breaker.run(() =>
    provider.createPayment(
      {
        paymentId: String(created._id),
        bookingId: String(booking._id),
        amount: created.amount,
        currency: created.currency,
        paymentMethod: created.paymentMethod ?? undefined,
      },
      `pay_${String(created._id)}`,
    ),
  );
  await applyInTransaction(deps, (session) => applyReport(deps, created._id, answer, session));
  const fresh = await deps.models.Payment.findById(created._id).lean<PaymentFields>();
  return { payment: fresh ?? created, replayed: false };
}

async function insertPayment(
  deps: PaymentsDeps,
  booking: BookingFields,
  provider: string,
  input: CreatePaymentInput,
  stamp: PaymentStamp,
): Promise<PaymentFields> {
  const now = deps.clock.now();
  try {
    const [doc] = await deps.models.Payment.create([
      {
        bookingId: booking._id,
        eventId: booking.eventId,
        userId: booking.userId,
        provider,
        amount: booking.totalPrice,
        currency: booking.currency,
        status: 'requires_payment_method',
        paymentMethod: input.paymentMethod ?? null,
        idempotencyKey: stamp.key,
        requestFingerprint: stamp.fingerprint,
        createdAt: now,
        updatedAt: now,
      },
    ]);
    return doc.toObject<PaymentFields>();
  } catch (err) {
    // The same key raced us from elsewhere: continue with its document (or 422 if it differs).
    if (!(err instanceof MongoServerError) || err.code !== 11000) throw err;
    const earlier = await deps.models.Payment.findOne({ bookingId: booking._id, idempotencyKey: stamp.key }).lean<PaymentFields>();
    if (!earlier) throw err;
    return judgeEarlier(earlier, stamp);
  }
}

/** The booking's payments, newest first (its owner, the event's organizer, admin). */
export async function listPayments(
  deps: PaymentsDeps,
  actor: Actor,
  bookingId: string,
  page: number,
  limit: number,
): Promise<{ items: PaymentFields[]; total: number; owner: boolean }> {
  const booking = await visibleBooking(deps, actor, bookingId);
  const filter = { bookingId: booking._id };
  const [items, total] = await Promise.all([
    deps.models.Payment.find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .skip((page - 1) * limit)
      .limit(limit)
      .lean<PaymentFields[]>(),
    deps.models.Payment.countDocuments(filter),
  ]);
  return { items, total, owner: String(booking.userId) === actor.userId };
}

async function refundSucceeded(deps: PaymentsDeps, filter: Record<string, unknown>, reason: string, session: ClientSession) {
  const paid = await deps.models.Payment.find({ ...filter, status: 'succeeded' }, { _id: 1 }).session(session).lean<PaymentFields[]>();
  for (const payment of paid) await queueRefund(deps, payment, reason, session);
  return paid.length;
}

/** What bookings ask of payments (bookings/types.ts BookingPayments). */
export function bookingPayments(deps: PaymentsDeps): BookingPayments {
  return {
    async requireSucceededPayment(bookingId, session) {
      const paid = await deps.models.Payment.findOne({ bookingId, status: 'succeeded' }).session(session).lean<PaymentFields>();
      if (!paid) throw paymentRequired();
      return paid.providerPaymentId ?? String(paid._id);
    },
    async bookingCancelled(bookingId, session) {
      // Woken a little later as well: this runs before the cancel commits.
      if ((await refundSucceeded(deps, { bookingId }, 'The booking was cancelled', session)) > 0) wakeAfterCommit(deps);
    },
    async latestOf(bookings, viewerId) {
      const latest = new Map<string, PaymentView>();
      if (bookings.length === 0) return latest;
      const owners = new Map(bookings.map((b) => [String(b._id), String(b.userId)]));
      // Newest first, so the first one seen per booking is its latest.
      const payments = await deps.models.Payment.find({ bookingId: { $in: bookings.map((b) => b._id) } })
        .sort({ createdAt: -1, _id: -1 })
        .lean<PaymentFields[]>();
      for (const p of payments) {
        const id = String(p.bookingId);
        // The client secret is for the booking's owner only, as on GET /bookings/:id/payments.
        if (!latest.has(id)) latest.set(id, toPaymentView(p, owners.get(id) === viewerId));
      }
      return latest;
    },
  };
}

/** An event was cancelled (events/service.ts): queue the refund of every succeeded payment of it. */
export async function eventCancelled(deps: PaymentsDeps, eventId: Types.ObjectId | string, session: ClientSession): Promise<void> {
  const queued = await refundSucceeded(deps, { eventId: new Types.ObjectId(String(eventId)) }, 'The event was cancelled', session);
  if (queued > 0) wakeAfterCommit(deps);
}

/** The refund is queued inside an uncommitted transaction: wake the worker once it has likely committed (the poll covers the rest). */
function wakeAfterCommit(deps: PaymentsDeps): void {
  setTimeout(() => deps.refundQueued(), 50).unref();
}
