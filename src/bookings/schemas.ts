import { z } from 'zod';
import { objectId, pagination, problemSchema } from '../lib/http.js';
import { BOOKING_STATUSES, type BookingFields, type BookingStatus } from './booking.model.js';

/** The per-event limit (maxTicketsPerBooking) is checked by the service; this is only a sanity bound. */
export const MAX_QUANTITY = 1000;

export const createBookingBody = z
  .object({
    eventId: objectId,
    quantity: z.number().int().min(1).max(MAX_QUANTITY),
  })
  .strict();
export type CreateBookingBody = z.infer<typeof createBookingBody>;

// A confirm without any body is allowed (Fastify hands us null then): the payment reference is optional.
export const confirmBookingBody = z
  .object({
    paymentReference: z.string().trim().min(1).max(200).optional(),
  })
  .strict()
  .nullish();
export type ConfirmBookingBody = z.infer<typeof confirmBookingBody>;

export const listBookingsQuery = z
  .object({
    status: z.enum(BOOKING_STATUSES).optional(),
    ...pagination,
  })
  .strict();
export type ListBookingsQuery = z.infer<typeof listBookingsQuery>;

export const bookingSchema = z.object({
  id: z.string(),
  eventId: z.string(),
  userId: z.string(),
  quantity: z.number().int(),
  status: z.enum(BOOKING_STATUSES),
  unitPrice: z.number().int(),
  totalPrice: z.number().int(),
  currency: z.string(),
  expiresAt: z.string().nullable(),
  tickets: z.array(z.object({ number: z.string() })),
  failureReason: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type BookingView = z.infer<typeof bookingSchema>;

/** Problems may carry extra members (SOLD_OUT has `availableTickets`); the serializer must keep them. */
export const bookingProblem = problemSchema.extend({ availableTickets: z.number().int().optional() }).loose();

/** What a stored booking reads as at `now`: a pending hold past its expiry is `expired`. */
export function statusAt(booking: Pick<BookingFields, 'status' | 'expiresAt'>, now: Date): BookingStatus {
  if (booking.status === 'pending' && booking.expiresAt && booking.expiresAt.getTime() <= now.getTime()) {
    return 'expired';
  }
  return booking.status as BookingStatus;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export function toBookingView(booking: BookingFields, now: Date): BookingView {
  const b = booking as BookingFields & { createdAt?: Date; updatedAt?: Date };
  return {
    id: String(b._id),
    eventId: String(b.eventId),
    userId: String(b.userId),
    quantity: b.quantity,
    status: statusAt(b, now),
    unitPrice: b.unitPrice,
    totalPrice: b.totalPrice,
    currency: b.currency,
    expiresAt: iso(b.expiresAt),
    tickets: (b.tickets ?? []).map((t) => ({ number: t.number })),
    failureReason: b.failureReason ?? null,
    createdAt: iso(b.createdAt) ?? '',
    updatedAt: iso(b.updatedAt ?? b.createdAt) ?? '',
  };
}
