import { type Connection, type HydratedDocument, type InferSchemaType, Schema, type Types } from 'mongoose';

export const EVENT_STATUSES = ['draft', 'published', 'cancelled'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/**
 * A kind of ticket of the event (API.md Ticket types). Embedded in the event: the event document is
 * the one conflict point of every sale (DESIGN.md 1, 7), so the types, their ledger and the event's
 * quota are read and written together in each sales transaction.
 */
const ticketTypeSchema = new Schema(
  {
    name: { type: String, required: true, trim: true },
    description: { type: String, default: '' },
    price: { type: Number, required: true, min: 0 },
    /** null: the event's whole capacity (the default type of an event created the old way). */
    capacity: { type: Number, default: null, min: 0 },
    /** null: the event's maxTicketsPerBooking. */
    maxPerBooking: { type: Number, default: null, min: 1 },
    salesStartAt: { type: Date, default: null },
    salesEndAt: { type: Date, default: null },
    hidden: { type: Boolean, default: false },
    position: { type: Number, default: 0 },
    /**
     * Seated events (src/seats): the venue sections this type sells, none shared with another type
     * of the event; its capacity is then the number of seats in them, kept in `capacity`.
     */
    sectionIds: { type: [String], default: [] },
    /**
     * Ledger (DESIGN.md 12): confirmed tickets of this type, changed only inside the transactions
     * that change a booking's status, so it equals the sum over its confirmed bookings by construction.
     */
    confirmed: { type: Number, default: 0, min: 0 },
  },
  { _id: true, versionKey: false },
);

/**
 * Ledger of live holds: held tickets grouped by type and expiry. Bookings made in one transaction
 * share their expiry, so this stays small (bounded by live holds, never by history); a group stops
 * counting at its `expiresAt` and is pruned by the next sales transaction.
 */
const holdSchema = new Schema(
  {
    typeId: { type: Schema.Types.ObjectId, required: true },
    expiresAt: { type: Date, required: true },
    quantity: { type: Number, required: true, min: 0 },
  },
  { _id: false, versionKey: false },
);

/**
 * Ledger of a coupon's redemptions (coupons/ledger.ts): confirmed bookings using it, and live
 * pending ones grouped by expiry exactly like ticket holds, so a redemption is given back at the
 * instant its hold expires. Changed only by the sales transactions; recounted by the audit.
 */
const couponHoldSchema = new Schema(
  { expiresAt: { type: Date, required: true }, count: { type: Number, required: true, min: 0 } },
  { _id: false, versionKey: false },
);
const couponEntrySchema = new Schema(
  {
    couponId: { type: Schema.Types.ObjectId, required: true },
    confirmed: { type: Number, default: 0, min: 0 },
    holds: { type: [couponHoldSchema], default: [] },
  },
  { _id: false, versionKey: false },
);

/**
 * Ledger of seats (seated events, src/seats): one claim per taken seat, `expiresAt` null when sold
 * or the hold's expiry. A seat is taken while it has a claim that is sold or not yet expired, so an
 * expired hold's seat is free at that instant, like its tickets; the sales transactions prune the
 * rest. Bounded by the venue's seats, never by history.
 */
const seatClaimSchema = new Schema(
  { seatId: { type: String, required: true }, expiresAt: { type: Date, default: null } },
  { _id: false, versionKey: false },
);

/** Events with ticket types and the ledger have this version; older documents get it from `npm run db:migrate`. */
export const LEDGER_VERSION = 1;

const eventSchema = new Schema(
  {
    name: { type: String, required: true, trim: true },
    description: { type: String, default: '' },
    venue: { type: String, required: true, trim: true },
    category: { type: String, default: 'general', trim: true, lowercase: true },
    startsAt: { type: Date, required: true },
    endsAt: { type: Date, default: null },
    totalTickets: { type: Number, required: true, min: 0 },
    price: { type: Number, required: true, min: 0 },
    currency: { type: String, required: true, uppercase: true },
    maxTicketsPerBooking: { type: Number, default: 10, min: 1, max: 100 },
    status: { type: String, enum: EVENT_STATUSES, default: 'draft' },
    organizerId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    /**
     * Bumped as the first write of every booking transaction of this event, so competing
     * transactions conflict instead of overselling (DESIGN.md 1). Never read as availability.
     */
    salesVersion: { type: Number, default: 0 },
    ticketTypes: { type: [ticketTypeSchema], default: [] },
    holds: { type: [holdSchema], default: [] },
    couponLedger: { type: [couponEntrySchema], default: [] },
    /** Reserved seating (API.md Venues and seats): the venue whose seats this event sells, or null. */
    venueId: { type: Schema.Types.ObjectId, ref: 'Venue', default: null },
    seatClaims: { type: [seatClaimSchema], default: [] },
    /** Absent on events made before ticket types: their figures come from a recount until migrated. */
    ledgerVersion: { type: Number },
    /**
     * The listing's availability projection (events/listing-projection.ts): tickets left as of the
     * last ledger write, and when that figure stops being exact (its earliest live hold runs out;
     * null: exact until the next write). Only for ordering and filtering listings, never shown and
     * never deciding a sale. Absent on events stored before it: `npm run db:migrate` fills it.
     */
    listedAvailable: { type: Number },
    listedUntil: { type: Date, default: null },
    /** Bumped on every change an organizer makes; the ETag of the event. */
    revision: { type: Number, default: 0 },
    /**
     * Waitlist summary (src/waitlist): `waiting` entries now and `joined` ever (the queue's order
     * counter). Read with the claim every sale makes anyway, so a sale of an event with nobody
     * waiting never touches the queue (DESIGN.md 12).
     */
    waitlist: {
      waiting: { type: Number, default: 0, min: 0 },
      joined: { type: Number, default: 0, min: 0 },
    },
  },
  { timestamps: true, versionKey: false },
);

// The public listing filters on status and sorts by one of these fields (events/queries.ts);
// `_id` is the tie-breaker that keeps pages stable.
eventSchema.index({ status: 1, startsAt: 1, _id: 1 });
eventSchema.index({ status: 1, category: 1, startsAt: 1 });
eventSchema.index({ status: 1, name: 1, _id: 1 });
eventSchema.index({ status: 1, price: 1, _id: 1 });
// sort=availableTickets / -availableTickets and availableOnly=true read the projection in its
// order (ties by startsAt, then _id, as every listing order); one index per direction, since the
// tie-breakers stay ascending.
eventSchema.index({ status: 1, listedAvailable: 1, startsAt: 1, _id: 1 });
eventSchema.index({ status: 1, listedAvailable: -1, startsAt: 1, _id: 1 });
// The refresh of projections whose holds ran out (events/listing-refresh.ts): only events with a
// live hold have a date here (the others null, which a date range never reaches), so the pass
// reads the entries due and nothing else.
eventSchema.index({ listedUntil: 1 });
// An organizer's own events.
eventSchema.index({ organizerId: 1, createdAt: -1 });
// A venue's events: the venue may only gain seats while a published event uses it (src/venues).
eventSchema.index({ venueId: 1, status: 1 }, { partialFilterExpression: { venueId: { $type: 'objectId' } } });
// The waitlist sweeper's pass: events somebody waits for (src/waitlist/sweeper.ts).
eventSchema.index({ 'waitlist.waiting': 1 });

export type TicketTypeFields = InferSchemaType<typeof ticketTypeSchema> & { _id: Types.ObjectId };
export type HoldFields = InferSchemaType<typeof holdSchema>;
export interface SeatClaimFields {
  seatId: string;
  expiresAt: Date | null;
}
/** A plain entry of the coupon ledger (lean reads), not Mongoose's nested document arrays. */
export interface CouponEntryFields {
  couponId: Types.ObjectId;
  confirmed: number;
  holds: { expiresAt: Date; count: number }[];
}
// Plain arrays (what lean reads give), not Mongoose's document arrays.
export type EventFields = Omit<InferSchemaType<typeof eventSchema>, 'ticketTypes' | 'holds' | 'couponLedger' | 'seatClaims'> & {
  _id: Types.ObjectId;
  ticketTypes: TicketTypeFields[];
  holds: HoldFields[];
  /** Absent on events stored before coupons (read as empty). */
  couponLedger?: CouponEntryFields[];
  /** Absent on events stored before seats (read as empty). */
  seatClaims?: SeatClaimFields[];
};
export type EventDocument = HydratedDocument<EventFields>;

export function eventModel(conn: Connection) {
  return conn.model<EventFields>('Event', eventSchema);
}
export type EventModel = ReturnType<typeof eventModel>;
