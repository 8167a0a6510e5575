import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { ledgerCounts } from '../bookings/ledger.js';
import { exclusiveSalesTransaction, notify, openSales, saveLedger } from '../bookings/sales.js';
import type { EventFields } from '../events/event.model.js';
import type { Models } from '../models.js';
import { acquireJobLease } from '../outbox/job-lease.js';
import type { WaitlistDeps } from './service.js';
import { serveWaitlist } from './serve.js';

/**
 * Holds free their tickets silently at their expiry (DESIGN.md 2). A sale, a cancellation or a
 * capacity change serves the queue itself; when none happens, this pass does: it looks at the
 * events somebody waits for (an index on the summary), and for those whose ledger shows free
 * tickets runs the same promotion in a sales transaction of the event. One instance at a time
 * runs it (a job lease in `job_leases`, as the hold sweeper); a second pass at once would find
 * nothing to do anyway, since each
 * promotion is decided on the claimed event.
 */

const LEASE = 'waitlist-sweeper';
/** Events looked at per pass: a pass is bounded, the next one carries on. */
const EVENTS_PER_PASS = 200;

/** Takes or renews the sweep's job lease for `ms`; false while another holder's lease runs. */
export const takeLease = (models: Pick<Models, 'JobLease'>, holder: string, now: Date, ms: number): Promise<boolean> =>
  acquireJobLease(models.JobLease, LEASE, holder, now, ms);

type Candidate = Pick<EventFields, '_id' | 'totalTickets' | 'ticketTypes' | 'holds'>;

/** One pass: serves the queue of every waited-for event with free tickets. Returns the offers made. */
export async function sweepWaitlists(deps: WaitlistDeps): Promise<number> {
  const now = deps.clock.now();
  const candidates = await deps.models.Event.find(
    { 'waitlist.waiting': { $gt: 0 }, status: 'published', startsAt: { $gt: now } },
    { totalTickets: 1, ticketTypes: 1, holds: 1 },
  )
    .limit(EVENTS_PER_PASS)
    .lean<Candidate[]>();
  let offers = 0;
  for (const candidate of candidates) {
    const { confirmedTickets, heldTickets } = ledgerCounts(candidate, now);
    if (candidate.totalTickets - confirmedTickets - heldTickets <= 0) continue;
    const made = await exclusiveSalesTransaction(deps, candidate._id, async (session) => {
      const at = deps.clock.now();
      const sales = await openSales(deps, candidate._id, session, at);
      if (!sales) return 0;
      const n = await serveWaitlist(deps, sales, session, at);
      await saveLedger(deps, sales, session);
      return n;
    });
    if (made > 0) await notify(deps, candidate._id);
    offers += made;
  }
  return offers;
}

/** Runs sweepWaitlists every `seconds` on whichever instance holds the lease; returns the stop. */
export function startWaitlistSweeper(deps: WaitlistDeps, models: Pick<Models, 'JobLease'>, seconds: number, log: FastifyBaseLogger): () => void {
  const holder = randomUUID();
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    // The lease outlives two periods, so a holder that stops is replaced within about that.
    takeLease(models, holder, deps.clock.now(), seconds * 2000)
      .then((mine) => (mine ? sweepWaitlists(deps) : 0))
      .then((offers) => {
        if (offers > 0) log.info({ offers }, 'waitlist offers made for tickets freed by expired holds');
      })
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'waitlist sweep failed; the next one retries'))
      .finally(() => {
        running = false;
      });
  }, seconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
