import type { ClientSession, Types } from 'mongoose';
import { type EventFields, LEDGER_VERSION } from '../events/event.model.js';
import type { BookingModel } from './booking.model.js';
import { type LedgerCounts, ledgerCounts } from './ledger.js';

export interface TicketCounts {
  confirmedTickets: number;
  heldTickets: number;
}

export interface Availability extends TicketCounts {
  totalTickets: number;
  availableTickets: number;
}

const NONE: TicketCounts = { confirmedTickets: 0, heldTickets: 0 };

/**
 * The counts of each event at `now`, from its ledger (ledger.ts): no work per booking. Events made
 * before ticket types and not yet migrated (`npm run db:migrate`) are counted from their bookings,
 * all in one aggregation, until their first sale migrates them.
 */
export async function eventCounts(
  Booking: BookingModel,
  events: Pick<EventFields, '_id' | 'ticketTypes' | 'holds' | 'ledgerVersion'>[],
  now: Date,
): Promise<Map<string, LedgerCounts>> {
  const counts = new Map<string, LedgerCounts>();
  const unmigrated: Types.ObjectId[] = [];
  for (const event of events) {
    if (event.ledgerVersion === LEDGER_VERSION) counts.set(String(event._id), ledgerCounts(event, now));
    else unmigrated.push(event._id);
  }
  if (unmigrated.length > 0) {
    const recounted = await countTickets(Booking, unmigrated, now);
    for (const id of unmigrated) counts.set(String(id), { ...(recounted.get(String(id)) ?? NONE), byType: new Map() });
  }
  return counts;
}

/**
 * Confirmed and held tickets per event, in one aggregation for any number of events: the recount
 * of bookings, for events without a ledger.
 * A hold counts only while its `expiresAt` is in the future (DESIGN.md 2), so a hold stops
 * counting at the instant it expires, whether or not the TTL monitor has removed it yet.
 */
export async function countTickets(
  Booking: BookingModel,
  eventIds: Types.ObjectId[],
  now: Date,
  session?: ClientSession,
): Promise<Map<string, TicketCounts>> {
  const counts = new Map<string, TicketCounts>();
  if (eventIds.length === 0) return counts;
  const match = eventIds.length === 1 ? { eventId: eventIds[0] } : { eventId: { $in: eventIds } };
  const rows = await Booking.aggregate<{ _id: Types.ObjectId } & TicketCounts>([
    { $match: { ...match, status: { $in: ['confirmed', 'pending'] } } },
    {
      $group: {
        _id: '$eventId',
        confirmedTickets: { $sum: { $cond: [{ $eq: ['$status', 'confirmed'] }, '$quantity', 0] } },
        heldTickets: {
          $sum: {
            $cond: [{ $and: [{ $eq: ['$status', 'pending'] }, { $gt: ['$expiresAt', now] }] }, '$quantity', 0],
          },
        },
      },
    },
  ]).session(session ?? null);
  for (const row of rows) {
    counts.set(String(row._id), { confirmedTickets: row.confirmedTickets, heldTickets: row.heldTickets });
  }
  return counts;
}

/** The one definition of tickets left: total minus confirmed minus live holds. */
export function availabilityOf(totalTickets: number, counts: TicketCounts = NONE): Availability {
  return {
    totalTickets,
    ...counts,
    availableTickets: Math.max(0, totalTickets - counts.confirmedTickets - counts.heldTickets),
  };
}
