import { type Connection, type InferSchemaType, Schema, type Types } from 'mongoose';

/**
 * A venue's seating plan (API.md Venues and seats): sections of rows of seats, each with a stable
 * id. Order carries meaning: a section's rows are listed from the best (nearest the stage) back, and
 * a row's seats in their physical order, so neighbours in the array sit side by side. The
 * best-available choice (src/seats) relies on both.
 */
const seatSchema = new Schema({ id: { type: String, required: true }, label: { type: String, required: true } }, { _id: false, versionKey: false });
const rowSchema = new Schema({ label: { type: String, required: true }, seats: { type: [seatSchema], default: [] } }, { _id: false, versionKey: false });
const sectionSchema = new Schema(
  { id: { type: String, required: true }, name: { type: String, required: true }, rows: { type: [rowSchema], default: [] } },
  { _id: false, versionKey: false },
);

const venueSchema = new Schema(
  {
    name: { type: String, required: true, trim: true },
    address: { type: String, default: '', trim: true },
    sections: { type: [sectionSchema], default: [] },
    /** The number of seats, kept with the plan it is computed from. */
    capacity: { type: Number, required: true, min: 0 },
    organizerId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    /**
     * Bumped by every change of the venue, which is written only if this is still what was read
     * (venues/service.ts): a change decided on an older plan is retried on the newer one. A writer
     * elsewhere that must not pass a plan change unseen (publishing an event at the venue) can bump
     * it in its own transaction to be ordered against every change the same way.
     */
    revision: { type: Number, default: 0 },
  },
  { timestamps: true, versionKey: false },
);

venueSchema.index({ createdAt: -1, _id: -1 });

export interface SeatFields {
  id: string;
  label: string;
}
export interface RowFields {
  label: string;
  seats: SeatFields[];
}
export interface SectionFields {
  id: string;
  name: string;
  rows: RowFields[];
}
export type VenueFields = Omit<InferSchemaType<typeof venueSchema>, 'sections'> & { _id: Types.ObjectId; sections: SectionFields[] };

export function venueModel(conn: Connection) {
  return conn.model<VenueFields>('Venue', venueSchema);
}
export type VenueModel = ReturnType<typeof venueModel>;
