import { type Connection, Schema } from 'mongoose';

/**
 * A named lease: whoever holds an unexpired one runs the job it names, so a periodic job runs on
 * one instance at a time however many are deployed (waitlist/sweeper.ts).
 */
const leaseSchema = new Schema(
  {
    _id: { type: String, required: true },
    holder: { type: String, required: true },
    until: { type: Date, required: true },
  },
  { versionKey: false },
);

export interface LeaseFields {
  _id: string;
  holder: string;
  until: Date;
}

export function leaseModel(conn: Connection) {
  return conn.model<LeaseFields>('Lease', leaseSchema);
}
