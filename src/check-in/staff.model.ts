import { type Connection, type InferSchemaType, Schema, type Types } from 'mongoose';

/**
 * Door staff of one event: users an organizer allowed to check tickets in there. Being staff
 * grants nothing else (API.md Tickets and check-in), so it is a record of its own, never a role.
 */
const eventStaffSchema = new Schema(
  {
    eventId: { type: Schema.Types.ObjectId, ref: 'Event', required: true },
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    addedBy: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);

// One record per person and event (adding twice changes nothing); the check-in guard asks by both.
eventStaffSchema.index({ eventId: 1, userId: 1 }, { unique: true });

export type EventStaffFields = InferSchemaType<typeof eventStaffSchema> & { _id: Types.ObjectId };

export function eventStaffModel(conn: Connection) {
  return conn.model<EventStaffFields>('EventStaff', eventStaffSchema, 'event_staff');
}
export type EventStaffModel = ReturnType<typeof eventStaffModel>;
