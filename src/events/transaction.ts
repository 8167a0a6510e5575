import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoError } from 'mongodb';
import type { ClientSession, Connection } from 'mongoose';
import { serviceUnavailable } from '../lib/errors.js';

const transient = (err: unknown) =>
  err instanceof MongoError && (err.hasErrorLabel('TransientTransactionError') || err.code === 112);

/**
 * Runs `work` in one snapshot transaction, retrying write conflicts with a short jittered backoff
 * until `timeoutMs`, then 503. The driver's withTransaction would retry for up to 120 s without
 * pause, which an event contended by a sale rush does not deserve.
 * (The bookings service has its own runner; the two can merge once its interface settles.)
 */
export async function inTransaction<T>(
  conn: Connection,
  work: (session: ClientSession) => Promise<T>,
  timeoutMs: number,
): Promise<T> {
  // Operational time, not business time: the app clock may stand still in tests.
  const deadline = performance.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    const session = await conn.startSession();
    try {
      session.startTransaction({ readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' } });
      const result = await work(session);
      await session.commitTransaction();
      return result;
    } catch (err) {
      if (session.inTransaction()) await session.abortTransaction().catch(() => undefined);
      if (!transient(err)) throw err;
      const pause = 1 + Math.random() * Math.min(50, 2 ** attempt);
      if (performance.now() + pause >= deadline) throw serviceUnavailable('The event is busy selling right now; retry shortly');
      await sleep(pause);
    } finally {
      await session.endSession().catch(() => undefined);
    }
  }
}
