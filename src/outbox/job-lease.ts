import { MongoServerError } from 'mongodb';
import type { JobLeaseModel } from './job-lease.model.js';

/**
 * Takes (or renews) the lease of a periodic job, so that across instances one runs it at a time.
 * One atomic upsert: it matches the job's row only when the lease is free or already ours; when
 * someone else holds it, the upsert tries to insert a second row with the same _id and the unique
 * _id refuses it (11000), which means "not ours".
 */
export async function acquireJobLease(model: JobLeaseModel, job: string, owner: string, now: Date, ms: number): Promise<boolean> {
  try {
    await model.findOneAndUpdate(
      { _id: job, $or: [{ until: { $lte: now } }, { owner }] },
      { $set: { owner, until: new Date(now.getTime() + ms) } },
      { upsert: true },
    );
    return true;
  } catch (err) {
    if (err instanceof MongoServerError && err.code === 11000) return false;
    throw err;
  }
}

/** Gives the lease back early (a clean stop), so another instance need not wait for it to run out. */
export async function releaseJobLease(model: JobLeaseModel, job: string, owner: string, now: Date): Promise<void> {
  await model.updateOne({ _id: job, owner }, { $set: { until: now } });
}
