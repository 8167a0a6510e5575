import { z } from 'zod';
import { objectId, pagination, problemSchema } from '../lib/http.js';
import { paymentSchema, type PaymentView } from '../payments/schemas.js';
import { ticketSchema, toTicketView } from '../tickets/schemas.js';
import { couponCode } from '../coupons/schemas.js';
import { BOOKING_STATUSES, type BookingFields, type BookingStatus } from './booking.model.js';

/** The per-event limit (maxTicketsPerBooking) is checked by the service; this is only a sanity bound. */
export const MAX_QUANTITY = 1000;

/** Most lines one order may have (API.md Bookings: more than 20 is a 400). */
export const MAX_ITEMS = 20;

/** A seat id of a venue (src/venues): what a buyer names to take exactly that seat. */
const seatId = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be a seat id of the event\'s venue');

const orderItem = z
  .object({
    ticketTypeId: objectId,
    quantity: z.number().int().min(1).max(MAX_QUANTITY),
  })
  .strict();

/**
 * `items` (one line per ticket type), or `quantity` alone for the event's only on-sale type.
 * Lines are sorted by type id once valid: an order is a set of lines, so the same lines in another
 * order are the same request for idempotency (the fingerprint is taken from the parsed body).
 */
export const createBookingBody = z
  .object({
    eventId: objectId,
    quantity: z.number().int().min(1).max(MAX_QUANTITY).optional(),
    items: z.array(orderItem).min(1).max(MAX_ITEMS).optional(),
    couponCode: couponCode.optional(),
    /** Seated events: exactly these seats (their types follow from their sections; items, if sent, must agree). */
    seats: z.array(seatId).min(1).max(MAX_QUANTITY).optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.seats !== undefined && body.quantity !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['quantity'], message: 'send either seats or quantity: the seats say how many' });
    } else if (body.seats === undefined && (body.quantity === undefined) === (body.items === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['items'], message: 'send either items or quantity' });
    }
    const seatsSeen = new Set<string>();
    body.seats?.forEach((id, i) => {
      if (seatsSeen.has(id)) ctx.addIssue({ code: 'custom', path: ['seats', i], message: `seat ${id} is named twice` });
      seatsSeen.add(id);
    });
    const seen = new Set<string>();
    body.items?.forEach((item, i) => {
      const id = item.ticketTypeId.toLowerCase();
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: ['items', i, 'ticketTypeId'], message: 'each ticket type may appear once' });
      seen.add(id);
    });
  })
  .transform((body) =>
    // Seats are a set too: sorted, so the same seats in another order are the same request.
    ({ ...body, ...(body.seats ? { seats: [...body.seats].sort() } : {}) }),
  )
  .transform((body) =>
    body.items
      ? {
          ...body,
          items: body.items
            .map((i) => ({ ticketTypeId: i.ticketTypeId.toLowerCase(), quantity: i.quantity }))
            .sort((a, b) => (a.ticketTypeId < b.ticketTypeId ? -1 : a.ticketTypeId > b.ticketTypeId ? 1 : 0)),
        }
      : body,
  );
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

export const bookingItemSchema = z.object({
  ticketTypeId: z.string(),
  name: z.string(),
  quantity: z.number().int(),
  unitPrice: z.number().int(),
  seats: z.array(z.string()).optional().describe('Seated events: the seat ids of this line, one per ticket'),
});

export const bookingSchema = z.object({
  id: z.string(),
  eventId: z.string(),
  userId: z.string(),
  quantity: z.number().int(),
  items: z.array(bookingItemSchema),
  status: z.enum(BOOKING_STATUSES),
  unitPrice: z.number().int(),
  subtotal: z.number().int(),
  discount: z.number().int(),
  totalPrice: z.number().int(),
  currency: z.string(),
  couponCode: z.string().nullable(),
  expiresAt: z.string().nullable(),
  tickets: z.array(ticketSchema),
  failureReason: z.string().nullable(),
  payment: paymentSchema.nullable().describe('The latest payment of the booking; null without one (or with PAYMENT_PROVIDER=none)'),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type BookingView = z.infer<typeof bookingSchema>;

/** Problems may carry extra members (SOLD_OUT has `availableTickets`); the serializer must keep them. */
export const bookingProblem = problemSchema
  .extend({
    availableTickets: z.number().int().optional(),
    ticketTypeId: z.string().optional(),
    seats: z.array(z.string()).optional().describe('SEAT_UNAVAILABLE: the seats taken; 400: the seats not offered'),
  })
  .loose();

/** What a stored booking reads as at `now`: a pending hold past its expiry is `expired`. */
export function statusAt(booking: Pick<BookingFields, 'status' | 'expiresAt'>, now: Date): BookingStatus {
  if (booking.status === 'pending' && booking.expiresAt && booking.expiresAt.getTime() <= now.getTime()) {
    return 'expired';
  }
  return booking.status as BookingStatus;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** A booking's lines (a booking from before ticket types has none until `npm run db:migrate`). */
export const itemsView = (b: Pick<BookingFields, 'items'>) =>
  (b.items ?? []).map((i) => ({
    ticketTypeId: String(i.ticketTypeId),
    name: i.name,
    quantity: i.quantity,
    unitPrice: i.unitPrice,
    ...(i.seats && i.seats.length > 0 ? { seats: [...i.seats] } : {}),
  }));

/** A booking's tickets; their status follows the booking's stored status (void unless confirmed). */
export const ticketsView = (b: Pick<BookingFields, 'tickets' | 'status'>) => (b.tickets ?? []).map((t) => toTicketView(t, b.status));

export function toBookingView(booking: BookingFields, now: Date, payment: PaymentView | null = null): BookingView {
  const b = booking as BookingFields & { createdAt?: Date; updatedAt?: Date };
  return {
    id: String(b._id),
    eventId: String(b.eventId),
    userId: String(b.userId),
    quantity: b.quantity,
    items: itemsView(b),
    status: statusAt(b, now),
    unitPrice: b.unitPrice,
    subtotal: b.subtotal ?? b.totalPrice,
    discount: b.discount ?? 0,
    totalPrice: b.totalPrice,
    currency: b.currency,
    couponCode: b.couponCode ?? null,
    expiresAt: iso(b.expiresAt),
    tickets: ticketsView(b),
    failureReason: b.failureReason ?? null,
    payment,
    createdAt: iso(b.createdAt) ?? '',
    updatedAt: iso(b.updatedAt ?? b.createdAt) ?? '',
  };
}
