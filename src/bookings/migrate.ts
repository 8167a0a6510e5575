import { performance } from 'node:perf_hooks';
import type { ClientSession, Connection } from 'mongoose';
import { type EventFields, LEDGER_VERSION } from '../events/event.model.js';
import { listedFieldsOf } from '../events/listing-projection.js';
import { runTransaction } from '../lib/transaction.js';
import type { Models } from '../models.js';
import { migrateEvent } from './ledger-audit.js';

/**
 * `npm run db:migrate`: data made before ticket types gets what the code now expects.
 * - every event without the ledger: its default "General admission" type (when it has none) and
 *   its ledger from a recount, in a transaction that claims the event like a sale (exact even
 *   while the service sells);
 * - every event without the listing's availability projection: it, from the event's ledger;
 * - every booking without items: one item of its event's default type at its unit price, its
 *   subtotal, and the type on each of its tickets.
 * Idempotent: what is migrated is skipped, so a second run changes nothing.
 */
export interface MigrationReport {
  events: number;
  /** Events given only the listing's availability projection (events/listing-projection.ts). */
  listings: number;
  bookings: number;
}

const BATCH = 500;

/**
 * Runs `work` on each event matching `still` (what still needs migrating), each in a transaction
 * that first claims the event like a sale (DESIGN.md 1), so no sale can overtake the change.
 * Returns how many events were visited.
 */
async function eachClaimed(
  db: Connection,
  models: Pick<Models, 'Event'>,
  still: Record<string, unknown>,
  work: (event: EventFields, session: ClientSession) => Promise<unknown>,
): Promise<number> {
  const pending = await models.Event.find(still, { _id: 1 }).lean();
  for (const { _id } of pending) {
    await runTransaction(
      db,
      async (session) => {
        const event = await models.Event.findOneAndUpdate(
          { _id, ...still },
          { $inc: { salesVersion: 1 } },
          { new: true, session, timestamps: false },
        ).lean<EventFields>();
        if (event) await work(event, session);
      },
      { deadline: performance.now() + 60_000 },
    );
  }
  return pending.length;
}

export async function migrateAll(db: Connection, models: Pick<Models, 'Event' | 'Booking'>, now: () => Date): Promise<MigrationReport> {
  const events = await eachClaimed(db, models, { ledgerVersion: { $ne: LEDGER_VERSION } }, (event, session) =>
    migrateEvent(models, event, now(), session),
  );
  // Events with the ledger but stored before the listing's projection: it is written from their ledger.
  const listings = await eachClaimed(db, models, { listedAvailable: { $exists: false } }, (event, session) =>
    models.Event.updateOne({ _id: event._id }, { $set: listedFieldsOf(event, now()) }, { session, timestamps: false }),
  );

  let bookings = 0;
  const defaults = new Map<string, { _id: unknown; name: string } | null>();
  const cursor = models.Booking.find({ items: { $exists: false } }, { eventId: 1, quantity: 1, unitPrice: 1, totalPrice: 1 })
    .lean()
    .cursor();
  let ops: Parameters<typeof models.Booking.bulkWrite>[0] = [];
  const flush = async () => {
    if (ops.length > 0) await models.Booking.bulkWrite(ops, { ordered: false, timestamps: false });
    ops = [];
  };
  for await (const b of cursor) {
    const eventId = String(b.eventId);
    if (!defaults.has(eventId)) {
      const event = await models.Event.findById(b.eventId, { ticketTypes: 1 }).lean<EventFields>();
      const first = event?.ticketTypes?.[0];
      defaults.set(eventId, first ? { _id: first._id, name: first.name } : null);
    }
    const type = defaults.get(eventId);
    if (!type) continue; // A booking of a deleted event: nothing to attribute it to.
    ops.push({
      updateOne: {
        filter: { _id: b._id, items: { $exists: false } },
        update: {
          $set: {
            items: [{ ticketTypeId: type._id, name: type.name, quantity: b.quantity, unitPrice: b.unitPrice }],
            subtotal: b.totalPrice,
            discount: 0,
            // Each ticket's type in place: rewriting the array would drop its id, signed code and
            // check-in (src/tickets), and could undo a check-in made while this runs.
            'tickets.$[].ticketTypeId': type._id,
          },
        },
      },
    });
    bookings++;
    if (ops.length >= BATCH) await flush();
  }
  await flush();
  return { events, listings, bookings };
}
