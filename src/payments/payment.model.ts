import { type Connection, type InferSchemaType, Schema, type Types } from 'mongoose';
import { PAYMENT_STATUSES } from './provider.js';

/** One attempt to pay for a booking (API.md Payments): its own document with a state machine. */
const paymentSchema = new Schema(
  {
    bookingId: { type: Schema.Types.ObjectId, ref: 'Booking', required: true },
    eventId: { type: Schema.Types.ObjectId, ref: 'Event', required: true },
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    provider: { type: String, required: true },
    /** Null until the provider answered the create call (a 503 leaves it null; a retry fills it). */
    providerPaymentId: { type: String, default: null },
    amount: { type: Number, required: true, min: 1 },
    currency: { type: String, required: true },
    status: { type: String, enum: PAYMENT_STATUSES, required: true },
    clientSecret: { type: String, default: null },
    failureReason: { type: String, default: null },
    refundedAmount: { type: Number, default: 0 },
    paymentMethod: { type: String, default: null },
    /** The caller's Idempotency-Key and request fingerprint (layer 3 of DESIGN.md 3 for payments). */
    idempotencyKey: { type: String, required: true },
    requestFingerprint: { type: String, required: true },
  },
  { timestamps: true, versionKey: false },
);
// One payment per booking and key: a retried POST finds it and asks the provider with the same key.
paymentSchema.index({ bookingId: 1, idempotencyKey: 1 }, { unique: true });
paymentSchema.index({ provider: 1, providerPaymentId: 1 }, { unique: true, partialFilterExpression: { providerPaymentId: { $type: 'string' } } });
paymentSchema.index({ eventId: 1, status: 1 });
paymentSchema.index({ bookingId: 1, createdAt: -1 });

export type PaymentFields = InferSchemaType<typeof paymentSchema> & {
  _id: Types.ObjectId;
  createdAt: Date;
  updatedAt: Date;
};

export function paymentModel(conn: Connection) {
  return conn.model<PaymentFields>('Payment', paymentSchema);
}

/** Provider events already applied, by `${provider}:${eventId}`: a redelivery finds its record and changes nothing. */
const providerEventSchema = new Schema(
  {
    _id: { type: String, required: true },
    paymentId: { type: Schema.Types.ObjectId, default: null },
    status: { type: String, default: null },
    receivedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export function providerEventModel(conn: Connection) {
  return conn.model('PaymentProviderEvent', providerEventSchema);
}

/**
 * Durable background work of payments: refunds. Written in the transaction that decides them
 * (a cancel, an event cancel, a payment that came too late), run by refunds.ts under a lease, so a
 * crash between deciding and refunding only delays the refund. The shape (one message per id,
 * at-least-once, receivers deduplicate by id) is an outbox message's, so it can move onto the
 * outbox of DESIGN.md 9 without changing its meaning.
 */
const paymentJobSchema = new Schema(
  {
    /** `refund:<paymentId>`: at most one refund job per payment, so a payment is refunded once. */
    _id: { type: String, required: true },
    kind: { type: String, enum: ['refund'], required: true },
    paymentId: { type: Schema.Types.ObjectId, required: true },
    reason: { type: String, required: true },
    state: { type: String, enum: ['queued', 'done', 'failed'], required: true },
    attempts: { type: Number, default: 0 },
    /** When the job may next run: also its lease (a claimed job is pushed out by the lease). */
    runAt: { type: Date, required: true },
    lastError: { type: String, default: null },
    createdAt: { type: Date, required: true },
    doneAt: { type: Date, default: null },
  },
  { versionKey: false },
);
paymentJobSchema.index({ state: 1, runAt: 1 });

export function paymentJobModel(conn: Connection) {
  return conn.model('PaymentJob', paymentJobSchema);
}
