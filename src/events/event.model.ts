import { type Connection, type HydratedDocument, type InferSchemaType, Schema, type Types } from 'mongoose';

export const EVENT_STATUSES = ['draft', 'published', 'cancelled'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

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
    /** Bumped on every change an organizer makes; the ETag of the event. */
    revision: { type: Number, default: 0 },
  },
  { timestamps: true, versionKey: false },
);

// The public listing filters on status and sorts by one of these fields (events/queries.ts);
// `_id` is the tie-breaker that keeps pages stable.
eventSchema.index({ status: 1, startsAt: 1, _id: 1 });
eventSchema.index({ status: 1, category: 1, startsAt: 1 });
eventSchema.index({ status: 1, name: 1, _id: 1 });
eventSchema.index({ status: 1, price: 1, _id: 1 });
// An organizer's own events.
eventSchema.index({ organizerId: 1, createdAt: -1 });

export type EventFields = InferSchemaType<typeof eventSchema> & { _id: Types.ObjectId };
export type EventDocument = HydratedDocument<EventFields>;

export function eventModel(conn: Connection) {
  return conn.model<EventFields>('Event', eventSchema);
}
export type EventModel = ReturnType<typeof eventModel>;
