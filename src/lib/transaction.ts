import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoError, MongoServerError } from 'mongodb';
import type { ClientSession, Connection } from 'mongoose';
import { AppError } from './errors.js';

/**
 * Counters of the booking transactions of this process, so load tests and the concurrency test
 * can report how hard the event documents were contended (DESIGN.md 1).
 */
export interface TransactionStats {
  /** Transactions asked for (one per booking decision, confirm or cancel). */
  transactions: number;
  /** Times a transaction body was started (first tries plus retries). */
  attempts: number;
  /** Attempts that failed with a transient error (WriteConflict 112 and friends) and were retried. */
  conflicts: number;
  /** Commits re-sent after UnknownTransactionCommitResult. */
  commitRetries: number;
  /** Transactions given up on at the deadline (answered 503), queued or retrying. */
  exhausted: number;
}

export const transactionStats: TransactionStats = {
  transactions: 0,
  attempts: 0,
  conflicts: 0,
  commitRetries: 0,
  exhausted: 0,
};

export function snapshotStats(): TransactionStats {
  return { ...transactionStats };
}

export interface TransactionOptions {
  /**
   * performance.now() time by which the transaction, retries included, must be done
   * (start + BOOKING_TX_TIMEOUT_MS). Operational time, not business time: the app clock may be
   * frozen in tests.
   */
  deadline: number;
}

/**
 * Fair turns between processes contending for the same document (bookings/sales-turns.ts).
 * Scheduling only: the transaction decides whatever the order.
 */
export interface TurnTaking {
  /** Before each attempt. */
  before(): Promise<void>;
  /** After a lost conflict: true when this process has the next turn (it then retries soon). */
  lost(): Promise<boolean>;
  /** Once the transaction is over, whatever its outcome. */
  done(): Promise<void>;
}

export interface RunOptions<T> extends TransactionOptions {
  /** When it answers false for a result, the attempt is aborted instead of committed: nothing worth writing. */
  commitIf?: (result: T) => boolean;
  turns?: TurnTaking;
}

const hasLabel = (err: unknown, label: string) => err instanceof MongoError && err.hasErrorLabel(label);

/** A retry of the whole transaction is safe: nothing of the failed attempt was committed. */
function isTransient(err: unknown): boolean {
  return hasLabel(err, 'TransientTransactionError') || (err instanceof MongoError && err.code === 112);
}

// Full jitter on an exponential ramp: hundreds of buyers that just lost the same write conflict
// must not all come back at the same instant, or they collide again (and burn the CPU doing so).
const BACKOFF_BASE_MS = 2;
const BACKOFF_CAP_MS = 60;
function backoffMs(attempt: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 8));
  return 1 + Math.random() * ceiling;
}

const KILL_WAIT_MS = 500;

export const tooBusy = (detail = 'Too many concurrent purchases for this event right now; retry shortly') =>
  new AppError(503, 'SERVICE_UNAVAILABLE', detail, { headers: { 'retry-after': '1' } });

/**
 * Ends the server side of a transaction we could not finish cleanly (the connection failed, or the
 * commit's outcome is unknown). Otherwise its write on the event document would make every other
 * sale of the event conflict until the server's transaction lifetime limit (60 s by default).
 * Harmless if the transaction did commit: killing a session never undoes a commit.
 */
async function killServerSession(conn: Connection, session: ClientSession): Promise<void> {
  const id = session.id;
  if (!id) return;
  const kill = conn
    .getClient()
    .db('admin')
    .command({ killSessions: [id] })
    .catch(() => undefined); // Best effort: the lifetime limit still ends the transaction eventually.
  // While the database is unreachable this cannot succeed; do not make the caller wait for it.
  await Promise.race([kill, sleep(KILL_WAIT_MS)]);
}

async function commit(session: ClientSession, deadline: number): Promise<void> {
  for (;;) {
    try {
      await session.commitTransaction();
      return;
    } catch (err) {
      // The commit may or may not have happened; only the commit itself may be re-sent (the
      // driver makes that safe), never the whole transaction.
      if (hasLabel(err, 'UnknownTransactionCommitResult') && performance.now() < deadline) {
        transactionStats.commitRetries++;
        await sleep(backoffMs(1));
        continue;
      }
      throw err;
    }
  }
}

/**
 * Runs `work` in one multi-document transaction (snapshot reads, majority writes) and commits it,
 * retrying transient failures with jittered backoff until `deadline`; then answers 503
 * with Retry-After. A failed attempt is aborted, so no half-made booking can remain.
 * We drive the retries ourselves rather than through the driver's `withTransaction` because
 * that one retries for up to 120 s without any backoff.
 */
export async function runTransaction<T>(
  conn: Connection,
  work: (session: ClientSession) => Promise<T>,
  options: RunOptions<T>,
): Promise<T> {
  try {
    return await attemptTransaction(conn, work, options);
  } finally {
    await options.turns?.done();
  }
}

async function attemptTransaction<T>(
  conn: Connection,
  work: (session: ClientSession) => Promise<T>,
  options: RunOptions<T>,
): Promise<T> {
  const { deadline, turns } = options;
  transactionStats.transactions++;
  for (let attempt = 1; ; attempt++) {
    await turns?.before();
    transactionStats.attempts++;
    const session = await conn.startSession();
    try {
      session.startTransaction({ readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' } });
      const result = await work(session);
      if (options.commitIf && !options.commitIf(result)) await session.abortTransaction();
      else await commit(session, deadline);
      return result;
    } catch (err) {
      if (session.inTransaction()) await session.abortTransaction().catch(() => undefined);
      // A server-reported error means the server knows the transaction's fate (it aborts it on a
      // write conflict); after a lost connection or an unknown commit result it may still be open.
      const fateUnknown =
        hasLabel(err, 'UnknownTransactionCommitResult') || (err instanceof MongoError && !(err instanceof MongoServerError));
      if (fateUnknown) await killServerSession(conn, session);
      if (hasLabel(err, 'UnknownTransactionCommitResult')) {
        // Out of time with the outcome unknown. Safe to answer "retry": a retry with the same
        // Idempotency-Key finds the booking if it was committed (DESIGN.md 3).
        transactionStats.exhausted++;
        throw tooBusy('The outcome could not be confirmed in time; retry the same request (same Idempotency-Key)');
      }
      if (!isTransient(err)) throw err;
      transactionStats.conflicts++;
      // With the next turn, the others wait for this one: a short pause, not the growing one.
      const pause = (await turns?.lost()) ? backoffMs(1) : backoffMs(attempt);
      if (performance.now() + pause >= deadline) {
        transactionStats.exhausted++;
        throw tooBusy();
      }
      await sleep(pause);
    } finally {
      await session.endSession().catch(() => undefined);
    }
  }
}
