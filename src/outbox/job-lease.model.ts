import { type Connection, Schema } from 'mongoose';

/** One row per periodic job: who runs it now and until when (see job-lease.ts). */
const jobLeaseSchema = new Schema(
  {
    _id: { type: String, required: true },
    owner: { type: String, required: true },
    until: { type: Date, required: true },
  },
  { versionKey: false, collection: 'job_leases' },
);

export interface JobLeaseFields {
  _id: string;
  owner: string;
  until: Date;
}

export function jobLeaseModel(conn: Connection) {
  return conn.model<JobLeaseFields>('JobLease', jobLeaseSchema);
}
export type JobLeaseModel = ReturnType<typeof jobLeaseModel>;
