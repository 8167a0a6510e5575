import { z } from 'zod';
import { BOOKING_STATUSES } from '../bookings/booking.model.js';
import { bookingSchema } from '../bookings/schemas.js';
import { envelope, objectId, pagination, safeText } from '../lib/http.js';
import { ticketTypeSchema, typeAvailabilitySchema } from '../ticket-types/schemas.js';
import { waitlistFiguresSchema } from '../waitlist/schemas.js';
import { EVENT_STATUSES } from './event.model.js';

/** Longest `q` we search for: bounds the work a regex over three text fields can cost. */
export const MAX_QUERY_LENGTH = 100;

const isoDateTime = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2030-05-01T19:30:00Z' })
  .transform((v) => new Date(v));

const text = (max: number) => safeText(1, max);
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be 3 upper-case letters (ISO 4217), e.g. EUR');
/** Money is an integer in minor units (API.md Conventions). */
const price = z.number().int().min(0).max(1_000_000_000);
const maxTicketsPerBooking = z.number().int().min(1).max(100);
const category = safeText(1, 50).transform((c) => c.toLowerCase());

export const createEventBody = z
  .object({
    name: text(200),
    venue: text(200),
    startsAt: isoDateTime,
    /** Left out for a seated event: it is the number of the venue's seats. */
    totalTickets: z.number().int().min(1).max(1_000_000).optional(),
    price,
    currency,
    description: safeText(0, 5000).optional(),
    category: category.optional(),
    endsAt: isoDateTime.nullable().optional(),
    maxTicketsPerBooking: maxTicketsPerBooking.optional(),
    status: z.enum(['draft', 'published']).optional(),
    /** Reserved seating (API.md Venues and seats): the venue whose seats the event sells. */
    venueId: objectId.optional(),
  })
  .strict()
  .refine((b) => !b.endsAt || b.endsAt > b.startsAt, { message: 'must be after startsAt', path: ['endsAt'] })
  .refine((b) => b.totalTickets !== undefined || b.venueId !== undefined, {
    message: 'required (unless the event has a venueId: then it is the number of seats)',
    path: ['totalTickets'],
  });
export type CreateEventInput = z.output<typeof createEventBody>;

/**
 * Status is not patchable: publish and cancel are their own transitions. totalTickets may go down
 * to what is sold (even 0 to stop sales), never below it; dates are checked against the stored
 * values in the service, since either side of the pair may be the one that changes.
 */
export const updateEventBody = z
  .object({
    name: text(200),
    venue: text(200),
    startsAt: isoDateTime,
    endsAt: isoDateTime.nullable(),
    totalTickets: z.number().int().min(0).max(1_000_000),
    price,
    currency,
    description: safeText(0, 5000),
    category,
    maxTicketsPerBooking,
  })
  .partial()
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'send at least one field to change' });
export type UpdateEventInput = z.output<typeof updateEventBody>;

export const EVENT_SORTS = ['startsAt', '-startsAt', 'name', 'price', '-price', 'availableTickets', '-availableTickets'] as const;
export type EventSort = (typeof EVENT_SORTS)[number];

/** `from`/`to` also take a bare date; a bare `to` day is included whole. */
const dateBound = (end: boolean) =>
  z.union([
    z.iso.datetime({ offset: true }).transform((v) => ({ at: new Date(v), inclusive: true })),
    z.iso.date().transform((v) => {
      const day = new Date(`${v}T00:00:00.000Z`);
      return end ? { at: new Date(day.getTime() + 86_400_000), inclusive: false } : { at: day, inclusive: true };
    }),
  ]);

export const listEventsQuery = z
  .object({
    q: z.string().trim().max(MAX_QUERY_LENGTH).optional(),
    from: dateBound(false).optional(),
    to: dateBound(true).optional(),
    category: category.optional(),
    availableOnly: z
      .enum(['true', 'false'])
      .transform((v) => v === 'true')
      .optional(),
    sort: z.enum(EVENT_SORTS).default('startsAt'),
    ...pagination,
  })
  .strict()
  .refine((query) => !query.from || !query.to || query.from.at <= query.to.at, {
    message: 'must not be before from',
    path: ['to'],
  });
export type ListEventsQuery = z.output<typeof listEventsQuery>;

export const eventBookingsQuery = z
  .object({
    status: z.enum(BOOKING_STATUSES).optional(),
    ...pagination,
  })
  .strict();
export type EventBookingsQuery = z.output<typeof eventBookingsQuery>;

export const eventSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  venue: z.string(),
  venueId: z.string().nullable().describe('The venue whose seats the event sells (reserved seating), or null'),
  category: z.string(),
  startsAt: z.string(),
  endsAt: z.string().nullable(),
  totalTickets: z.number().int(),
  price: z.number().int(),
  currency: z.string(),
  maxTicketsPerBooking: z.number().int(),
  status: z.enum(EVENT_STATUSES),
  organizerId: z.string(),
  availableTickets: z.number().int(),
  ticketTypes: z.array(ticketTypeSchema),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type EventDto = z.infer<typeof eventSchema>;

export const availabilitySchema = z.object({
  eventId: z.string(),
  totalTickets: z.number().int(),
  availableTickets: z.number().int(),
  confirmedTickets: z.number().int(),
  heldTickets: z.number().int(),
  ticketTypes: z.array(typeAvailabilitySchema),
  asOf: z.string(),
  /** Only in its organizer's (and admins') answer. */
  waitlist: waitlistFiguresSchema.optional(),
});
export type AvailabilityDto = z.infer<typeof availabilitySchema>;

/** The 200 answers of GET /events/:id and /events/:id/availability (also serialized ahead, reads.ts). */
export const eventAnswer = envelope(eventSchema);
export const availabilityAnswer = envelope(availabilitySchema);

/** A booking as its event's organizer sees it: the booking plus who bought it. */
export const eventBookingSchema = bookingSchema.extend({
  user: z.object({ id: z.string(), email: z.string(), name: z.string() }).nullable(),
});
export type EventBookingDto = z.infer<typeof eventBookingSchema>;

export const ifMatchHeaders = z.object({ 'if-match': z.string().max(1024).optional() });
