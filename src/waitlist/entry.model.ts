import { type Connection, type InferSchemaType, Schema, type Types } from 'mongoose';

/**
 * Stored states of a waitlist entry. `expired` is never stored: an `offered` entry whose offer ran
 * out reads as expired (its offer is a pending booking, whose hold frees itself at that instant,
 * DESIGN.md 2), so no job has to flip it for the tickets to go down the queue.
 */
export const STORED_WAITLIST_STATUSES = ['waiting', 'offered', 'accepted', 'left'] as const;
export const WAITLIST_STATUSES = ['waiting', 'offered', 'accepted', 'expired', 'left'] as const;
export type WaitlistStatus = (typeof WAITLIST_STATUSES)[number];

const offerSchema = new Schema(
  {
    /** The pending booking held for the entry: taking the offer is confirming it. */
    bookingId: { type: Schema.Types.ObjectId, required: true },
    expiresAt: { type: Date, required: true },
  },
  { _id: false },
);

const entrySchema = new Schema(
  {
    eventId: { type: Schema.Types.ObjectId, ref: 'Event', required: true },
    ticketTypeId: { type: Schema.Types.ObjectId, required: true },
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    quantity: { type: Number, required: true, min: 1 },
    status: { type: String, enum: STORED_WAITLIST_STATUSES, required: true },
    /** Queue order within the event: the event's join counter, taken in the join's transaction. */
    seq: { type: Number, required: true },
    offer: { type: offerSchema, default: null },
    /** Layer 3 of idempotency (DESIGN.md 3) for the join, as on bookings. */
    idempotencyKey: { type: String, default: null },
    requestFingerprint: { type: String, default: null },
    offeredAt: { type: Date, default: null },
    closedAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false },
);

// The queue read in order (promotion, position, the organizer's view).
entrySchema.index({ eventId: 1, status: 1, seq: 1 });
entrySchema.index({ eventId: 1, seq: 1 }, { unique: true });
// A user's own entry of an event.
entrySchema.index({ eventId: 1, userId: 1, createdAt: -1 });
// Confirming or cancelling a booking finds the offer it answers.
entrySchema.index({ 'offer.bookingId': 1 }, { partialFilterExpression: { 'offer.bookingId': { $exists: true } } });
entrySchema.index(
  { userId: 1, idempotencyKey: 1 },
  { unique: true, partialFilterExpression: { idempotencyKey: { $type: 'string' } } },
);

export type WaitlistEntryFields = InferSchemaType<typeof entrySchema> & { _id: Types.ObjectId };

export function waitlistEntryModel(conn: Connection) {
  return conn.model<WaitlistEntryFields>('WaitlistEntry', entrySchema);
}
export type WaitlistEntryModel = ReturnType<typeof waitlistEntryModel>;

/** The status as the API shows it at `now`. */
export function entryStatusAt(entry: Pick<WaitlistEntryFields, 'status' | 'offer'>, now: Date): WaitlistStatus {
  if (entry.status === 'offered' && entry.offer && new Date(entry.offer.expiresAt).getTime() <= now.getTime()) return 'expired';
  return entry.status;
}

/** Entries that still count as "on the list": waiting, or holding an offer that has not run out. */
export const openEntryFilter = (now: Date) => ({
  $or: [{ status: 'waiting' }, { status: 'offered', 'offer.expiresAt': { $gt: now } }],
});
