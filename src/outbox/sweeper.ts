import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import { Types } from 'mongoose';
import type { BookingFields } from '../bookings/booking.model.js';
import { openSales, saveLedger } from '../bookings/sales.js';
import type { Clock } from '../lib/clock.js';
import { runTransaction } from '../lib/transaction.js';
import type { Models } from '../models.js';
import { serveWaitlist } from '../waitlist/serve.js';
import { bookingMessage } from './booking-messages.js';
import type { Outbox } from './outbox.js';

/**
 * Holds expire silently at query time (DESIGN.md 2); nothing is written at that instant. The
 * sweeper is what notices afterwards: it marks each expired hold announced (`expiryAnnouncedAt`)
 * and writes its `booking.expired` message in the same transaction, and it sends the "expiring
 * soon" reminder ahead of time. The TTL index removes a hold only once it has been announced
 * (booking.model.ts), so none disappears unannounced, however long the sweeper was away.
 */

export interface SweeperDeps {
  db: Models['Booking']['db'];
  models: Pick<Models, 'Booking' | 'Event' | 'WaitlistEntry' | 'Venue'>;
  outbox: Outbox;
  /** WAITLIST_OFFER_SECONDS in ms: how long the offers made for freed tickets are held. */
  waitlistOfferMs: number;
  clock: Clock;
  log: FastifyBaseLogger;
  /** HOLD_REMINDER_SECONDS in ms; 0 sends no reminders. */
  reminderLeadMs: number;
  txTimeoutMs: number;
}

/** Holds read per query; a run goes on for up to MAX_BATCHES of them, the next run takes the rest. */
const BATCH = 500;
const MAX_BATCHES = 20;

const transaction = <T>(deps: SweeperDeps, work: Parameters<typeof runTransaction<T>>[1]) =>
  runTransaction(deps.db, work, { deadline: performance.now() + deps.txTimeoutMs });

/** Announces the expired holds of one event, in one transaction ordered against its sales. */
async function announceForEvent(deps: SweeperDeps, eventId: Types.ObjectId, ids: Types.ObjectId[]): Promise<number> {
  return transaction(deps, async (session) => {
    const now = deps.clock.now();
    // Claims the event like every sales transaction (DESIGN.md 1): freed tickets are handed on to
    // the waitlist (DESIGN.md 10) in this same transaction, never raced by a sale. An expiry itself
    // changes no availability: the ledger's hold group already stopped counting at expiresAt; only
    // its run-out groups are pruned, as any sale does, and offers made here are held in it.
    const sales = await openSales(deps, eventId, session, now);
    const messages = [];
    for (const id of ids) {
      const booking = await deps.models.Booking.findOneAndUpdate(
        { _id: id, status: 'pending', expiresAt: { $lte: now }, expiryAnnouncedAt: null },
        { $set: { expiryAnnouncedAt: now } },
        { session, new: true, timestamps: false },
      ).lean<BookingFields>();
      if (booking) messages.push(bookingMessage('booking.expired', booking, 'expired'));
    }
    await deps.outbox.enqueue(session, messages);
    if (sales) {
      // Cheap when nobody waits (the claimed event's summary says so): nothing more is read.
      if (messages.length > 0) await serveWaitlist(deps, sales, session, now);
      await saveLedger(deps, sales, session);
    }
    return messages.length;
  });
}

/** Announces one batch of expired, unannounced holds (oldest first); answers how many it found and announced. */
async function sweepBatch(deps: SweeperDeps): Promise<{ found: number; announced: number }> {
  const now = deps.clock.now();
  const expired = await deps.models.Booking.find(
    { status: 'pending', expiresAt: { $lte: now }, expiryAnnouncedAt: null },
    { _id: 1, eventId: 1 },
  )
    .sort({ expiresAt: 1 })
    .limit(BATCH)
    .lean();
  const byEvent = new Map<string, Types.ObjectId[]>();
  for (const b of expired) {
    const key = String(b.eventId);
    byEvent.set(key, [...(byEvent.get(key) ?? []), b._id]);
  }
  let announced = 0;
  for (const [eventId, ids] of byEvent) announced += await announceForEvent(deps, new Types.ObjectId(eventId), ids);
  return { found: expired.length, announced };
}

/** Finds holds that expired and were not announced yet, and announces them, batch by batch. */
export async function sweepExpiredHolds(deps: SweeperDeps): Promise<number> {
  let total = 0;
  for (let round = 0; round < MAX_BATCHES; round++) {
    const { found, announced } = await sweepBatch(deps);
    total += announced;
    if (found < BATCH) break;
  }
  return total;
}

/** Sends "your hold expires soon" once per hold, HOLD_REMINDER_SECONDS before it ends. */
export async function sendHoldReminders(deps: SweeperDeps): Promise<number> {
  if (deps.reminderLeadMs <= 0) return 0;
  const now = deps.clock.now();
  const due = await deps.models.Booking.find(
    { status: 'pending', expiresAt: { $gt: now, $lte: new Date(now.getTime() + deps.reminderLeadMs) }, expiryReminderAt: null },
    { _id: 1 },
  )
    .limit(BATCH)
    .lean();
  if (due.length === 0) return 0;
  return transaction(deps, async (session) => {
    const at = deps.clock.now();
    const messages = [];
    for (const { _id } of due) {
      // Still pending and still live: a hold confirmed or cancelled meanwhile gets no reminder.
      const booking = await deps.models.Booking.findOneAndUpdate(
        { _id, status: 'pending', expiresAt: { $gt: at }, expiryReminderAt: null },
        { $set: { expiryReminderAt: at } },
        { session, new: true, timestamps: false },
      ).lean<BookingFields>();
      if (booking) messages.push(bookingMessage('booking.expiring', booking));
    }
    await deps.outbox.enqueue(session, messages);
    return messages.length;
  });
}

/** One run of the sweeper: reminders first (they concern live holds), then the expired ones. */
export async function sweepHolds(deps: SweeperDeps): Promise<{ reminded: number; expired: number }> {
  const reminded = await sendHoldReminders(deps);
  const expired = await sweepExpiredHolds(deps);
  if (reminded + expired > 0) deps.log.info({ reminded, expired }, 'hold sweep');
  return { reminded, expired };
}
