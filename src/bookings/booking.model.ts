import { type Connection, type HydratedDocument, type InferSchemaType, Schema, type Types } from 'mongoose';
import { type TicketFields, ticketSubschema } from '../tickets/ticket.schema.js';

/** Stored states. `expired` is never stored: a pending booking past `expiresAt` reads as expired. */
// `refunded`: its payment was given back (a paid booking cancelled, or paid after its tickets were gone).
export const STORED_BOOKING_STATUSES = ['pending', 'confirmed', 'cancelled', 'refunded'] as const;
export const BOOKING_STATUSES = ['pending', 'confirmed', 'cancelled', 'expired', 'refunded'] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

/**
 * The stored-document filter for a status as the API shows it: `pending` and `expired` are both
 * stored as pending and split at `now` (a hold stops holding the instant it expires).
 */
export function bookingStatusFilter(status: BookingStatus | undefined, now: Date): Record<string, unknown> {
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

/**
 * One line of an order: so many tickets of one type at the unit price it had when sold (whatever
 * the organizer changes later). Coupons and seats add their own fields to a line later.
 */
const itemSchema = new Schema(
  {
    ticketTypeId: { type: Schema.Types.ObjectId, required: true },
    name: { type: String, required: true },
    quantity: { type: Number, required: true, min: 1 },
    unitPrice: { type: Number, required: true, min: 0 },
    /** Seated events: the seat ids of this line, one per ticket; absent otherwise. */
    seats: { type: [String], default: undefined },
  },
  { _id: false },
);

const bookingSchema = new Schema(
  {
    eventId: { type: Schema.Types.ObjectId, ref: 'Event', required: true },
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    /** The sum of the items' quantities. */
    quantity: { type: Number, required: true, min: 1 },
    items: { type: [itemSchema], default: undefined },
    status: { type: String, enum: STORED_BOOKING_STATUSES, required: true },
    /** The first item's unit price (kept for single-type clients). */
    unitPrice: { type: Number, required: true, min: 0 },
    /** Sum of the items at their unit prices; totalPrice = subtotal - discount. */
    subtotal: { type: Number, min: 0 },
    discount: { type: Number, default: 0, min: 0 },
    totalPrice: { type: Number, required: true, min: 0 },
    couponCode: { type: String, default: null },
    /** The coupon redeemed (coupons/): its redemptions are derived from bookings that still count. */
    couponId: { type: Schema.Types.ObjectId, default: null },
    currency: { type: String, required: true },
    /** When the hold lets go; only meaningful while pending. */
    expiresAt: { type: Date, default: null },
    tickets: { type: [ticketSubschema], default: [] },
    /** Layer 3 of idempotency (DESIGN.md 3): the key and request fingerprint that created it. */
    idempotencyKey: { type: String, default: null },
    requestFingerprint: { type: String, default: null },
    /** The same for the confirm request, so a confirm retried after Redis lost its key replays too. */
    confirmIdempotencyKey: { type: String, default: null },
    confirmFingerprint: { type: String, default: null },
    paymentReference: { type: String, default: null },
    confirmedAt: { type: Date, default: null },
    cancelledAt: { type: Date, default: null },
    /** Set by the hold sweeper (src/outbox/sweeper.ts) when it announces an expired hold, and when it reminds. */
    expiryAnnouncedAt: { type: Date, default: null },
    expiryReminderAt: { type: Date, default: null },
    /** Why a paid booking was refunded without being cancelled (src/payments: paid after its tickets were gone). */
    failureReason: { type: String, default: null },
  },
  { timestamps: true, versionKey: false },
);

// The audit and the recount of unmigrated events sum quantities per event and status (bookings/ledger-audit.ts).
bookingSchema.index({ eventId: 1, status: 1 });
// Whether a ticket type was ever sold or held (it may be deleted only if not).
bookingSchema.index({ eventId: 1, 'items.ticketTypeId': 1 });
bookingSchema.index({ userId: 1, createdAt: -1 });
// A buyer's redemptions of a coupon on an event (maxPerUser), and the coupon audit.
bookingSchema.index(
  { userId: 1, eventId: 1, couponId: 1 },
  { partialFilterExpression: { couponId: { $type: 'objectId' } } },
);
bookingSchema.index(
  { userId: 1, idempotencyKey: 1 },
  { unique: true, partialFilterExpression: { idempotencyKey: { $type: 'string' } } },
);
bookingSchema.index(
  { userId: 1, confirmIdempotencyKey: 1 },
  { unique: true, partialFilterExpression: { confirmIdempotencyKey: { $type: 'string' } } },
);
bookingSchema.index({ 'tickets.number': 1 }, { unique: true, partialFilterExpression: { 'tickets.number': { $type: 'string' } } });
// A ticket is found by its id (check-in, QR): src/tickets, src/check-in.
bookingSchema.index({ 'tickets._id': 1 });
// Removes expired holds eventually; correctness never waits for it (DESIGN.md 2). Keyed on the
// announcement, not on expiresAt, so that no hold is removed before the sweeper has sent its
// booking.expired (DESIGN.md 9); only expired pending holds ever get expiryAnnouncedAt.
bookingSchema.index({ expiryAnnouncedAt: 1 }, { expireAfterSeconds: 0, partialFilterExpression: { status: 'pending' } });
// The hold sweeper's scans: pending holds by expiry.
bookingSchema.index({ status: 1, expiresAt: 1 });

export type BookingFields = Omit<InferSchemaType<typeof bookingSchema>, 'tickets'> & { _id: Types.ObjectId; tickets: TicketFields[] };
export type BookingItem = InferSchemaType<typeof itemSchema>;
export type BookingDocument = HydratedDocument<BookingFields>;

export function bookingModel(conn: Connection) {
  return conn.model<BookingFields>('Booking', bookingSchema);
}
export type BookingModel = ReturnType<typeof bookingModel>;
