import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import type { Types } from 'mongoose';
import { openSales } from '../bookings/sales.js';
import type { Clock } from '../lib/clock.js';
import { runTransaction } from '../lib/transaction.js';
import type { Models } from '../models.js';

export interface ListingRefreshDeps {
  db: Models['Event']['db'];
  models: Pick<Models, 'Event' | 'Booking' | 'Venue'>;
  clock: Clock;
  log: FastifyBaseLogger;
  txTimeoutMs: number;
}

/** Events refreshed per pass: a pass is bounded, the next one carries on from the oldest left. */
const EVENTS_PER_PASS = 200;

/**
 * One pass of the refresh: the events whose projection went stale (a hold ran out at or before
 * now, `listedUntil` indexed) get it written again from their ledger. The work follows the holds
 * that ran out since the last pass, never the number of events. Each event is claimed like a sale
 * (DESIGN.md 1), so the figure written cannot overtake a sale committed meanwhile; the write also
 * prunes the hold groups that ran out, as every sale does. (The emulator uses indexes only for
 * equalities, so there the `$lte` is a scan of the events; mongod reads the index range.)
 * Returns the events refreshed.
 */
export async function refreshListedAvailability(deps: ListingRefreshDeps): Promise<number> {
  const due = await deps.models.Event.find({ listedUntil: { $lte: deps.clock.now() } }, { _id: 1 })
    .sort({ listedUntil: 1 })
    .limit(EVENTS_PER_PASS)
    .lean<{ _id: Types.ObjectId }[]>();
  let refreshed = 0;
  for (const { _id } of due) {
    const wrote = await runTransaction(
      deps.db,
      async (session) => {
        const now = deps.clock.now();
        const sales = await openSales(deps, _id, session, now);
        // Written meanwhile (by a sale, or an earlier pass): nothing left to do.
        if (!sales || !sales.event.listedUntil || new Date(sales.event.listedUntil) > now) return false;
        await deps.models.Event.updateOne({ _id }, sales.ledger.update(), { session, timestamps: false });
        return true;
      },
      { deadline: performance.now() + deps.txTimeoutMs },
    );
    if (wrote) refreshed++;
  }
  if (refreshed > 0) deps.log.debug({ refreshed }, 'listing availability refreshed after holds ran out');
  return refreshed;
}
