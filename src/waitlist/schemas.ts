import { z } from 'zod';
import { MAX_QUANTITY } from '../bookings/schemas.js';
import { objectId, pagination, problemSchema } from '../lib/http.js';
import { entryStatusAt, WAITLIST_STATUSES, type WaitlistEntryFields } from './entry.model.js';

/** The per-type and per-event limits are checked by the service, like a booking's; this is a sanity bound. */
export const joinWaitlistBody = z
  .object({
    quantity: z.number().int().min(1).max(MAX_QUANTITY),
    ticketTypeId: objectId.transform((id) => id.toLowerCase()).optional(),
  })
  .strict();
export type JoinWaitlistBody = z.infer<typeof joinWaitlistBody>;

export const listWaitlistQuery = z.object({ ...pagination }).strict();

export const waitlistEntrySchema = z.object({
  id: z.string(),
  eventId: z.string(),
  ticketTypeId: z.string(),
  userId: z.string(),
  quantity: z.number().int(),
  status: z.enum(WAITLIST_STATUSES),
  /** 1 = next in line; null once the entry no longer waits. */
  position: z.number().int().nullable(),
  offer: z.object({ bookingId: z.string(), expiresAt: z.string() }).nullable(),
  createdAt: z.string(),
});
export type WaitlistEntryView = z.infer<typeof waitlistEntrySchema>;

/** The organizer's figures on GET /events/:id/availability. */
export const waitlistFiguresSchema = z.object({
  waiting: z.number().int().describe('Entries waiting for tickets'),
  offered: z.number().int().describe('Entries holding an offer that has not run out'),
});
export type WaitlistFigures = z.infer<typeof waitlistFiguresSchema>;

export const waitlistProblem = problemSchema
  .extend({ availableTickets: z.number().int().optional(), ticketTypeId: z.string().optional() })
  .loose();

type StoredEntry = WaitlistEntryFields & { createdAt?: Date };

export function toEntryView(entry: StoredEntry, position: number | null, now: Date): WaitlistEntryView {
  const status = entryStatusAt(entry, now);
  return {
    id: String(entry._id),
    eventId: String(entry.eventId),
    ticketTypeId: String(entry.ticketTypeId),
    userId: String(entry.userId),
    quantity: entry.quantity,
    status,
    position: status === 'waiting' ? position : null,
    offer: entry.offer ? { bookingId: String(entry.offer.bookingId), expiresAt: new Date(entry.offer.expiresAt).toISOString() } : null,
    createdAt: entry.createdAt ? entry.createdAt.toISOString() : '',
  };
}
