import type { ClientSession, Types } from 'mongoose';
import type { BookingModel } from './booking.model.js';

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
 * Confirmed and held tickets per event, in one aggregation for any number of events.
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

export async function availabilityFor(
  Booking: BookingModel,
  event: { _id: Types.ObjectId; totalTickets: number },
  now: Date,
  session?: ClientSession,
): Promise<Availability> {
  const counts = await countTickets(Booking, [event._id], now, session);
  return availabilityOf(event.totalTickets, counts.get(String(event._id)));
}
