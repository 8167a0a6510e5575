import { z } from 'zod';
import { envelope } from '../lib/http.js';

export const SEAT_STATUSES = ['available', 'held', 'sold'] as const;

const mapSeat = z.object({ id: z.string(), label: z.string(), status: z.enum(SEAT_STATUSES), ticketTypeId: z.string() });

/** GET /events/:id/seats: the seats the event sells, by section and row, each with its status now. */
export const seatMapSchema = z.object({
  eventId: z.string(),
  venueId: z.string(),
  sections: z.array(
    z.object({ id: z.string(), name: z.string(), rows: z.array(z.object({ label: z.string(), seats: z.array(mapSeat) })) }),
  ),
  available: z.number().int(),
  held: z.number().int(),
  sold: z.number().int(),
  asOf: z.string(),
});
export type SeatMapDto = z.infer<typeof seatMapSchema>;
export const seatMapAnswer = envelope(seatMapSchema);
