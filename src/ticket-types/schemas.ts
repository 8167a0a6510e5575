import { z } from 'zod';
import { objectId, safeText } from '../lib/http.js';

/** Most types one event may have: every sale reads them all, so they stay few. */
export const MAX_TICKET_TYPES = 50;

const isoDateTime = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2030-05-01T19:30:00Z' })
  .transform((v) => new Date(v));
/** Money is an integer in minor units (the event's currency). */
const price = z.number().int().min(0).max(1_000_000_000);
const capacity = z.number().int().min(0).max(1_000_000);
const maxPerBooking = z.number().int().min(1).max(100);
const position = z.number().int().min(0).max(10_000);
/** Seated events: venue section ids (src/venues); the type's capacity is their number of seats. */
const sectionIds = z.array(z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be a section id of the event\'s venue')).min(1).max(100);

const windowOk = (b: { salesStartAt?: Date | null; salesEndAt?: Date | null }) =>
  !b.salesStartAt || !b.salesEndAt || b.salesEndAt > b.salesStartAt;

export const createTicketTypeBody = z
  .object({
    name: safeText(1, 100),
    price,
    /** Required unless the event is seated (then it is the number of seats in sectionIds). */
    capacity: capacity.optional(),
    sectionIds: sectionIds.optional(),
    description: safeText(0, 2000).optional(),
    maxPerBooking: maxPerBooking.optional(),
    salesStartAt: isoDateTime.nullable().optional(),
    salesEndAt: isoDateTime.nullable().optional(),
    hidden: z.boolean().optional(),
    position: position.optional(),
  })
  .strict()
  .refine(windowOk, { message: 'must be after salesStartAt', path: ['salesEndAt'] });
export type CreateTicketTypeInput = z.output<typeof createTicketTypeBody>;

/** Every field may change; the sale window is checked against the stored values in the service. */
export const updateTicketTypeBody = z
  .object({
    name: safeText(1, 100),
    price,
    capacity,
    description: safeText(0, 2000),
    maxPerBooking: maxPerBooking.nullable(),
    salesStartAt: isoDateTime.nullable(),
    salesEndAt: isoDateTime.nullable(),
    hidden: z.boolean(),
    position,
    sectionIds,
  })
  .partial()
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'send at least one field to change' });
export type UpdateTicketTypeInput = z.output<typeof updateTicketTypeBody>;

export const ticketTypeParams = z.object({ id: objectId, typeId: objectId }).strict();

export const ticketTypeSchema = z.object({
  id: z.string(),
  eventId: z.string(),
  name: z.string(),
  description: z.string(),
  price: z.number().int(),
  currency: z.string(),
  capacity: z.number().int(),
  maxPerBooking: z.number().int(),
  salesStartAt: z.string().nullable(),
  salesEndAt: z.string().nullable(),
  hidden: z.boolean(),
  position: z.number().int(),
  sectionIds: z.array(z.string()).describe('Seated events: the venue sections this type sells (empty otherwise)'),
  availableTickets: z.number().int(),
  onSale: z.boolean(),
});
export type TicketTypeDto = z.infer<typeof ticketTypeSchema>;

export const typeAvailabilitySchema = z.object({
  ticketTypeId: z.string(),
  name: z.string(),
  capacity: z.number().int(),
  availableTickets: z.number().int(),
  confirmedTickets: z.number().int(),
  heldTickets: z.number().int(),
  onSale: z.boolean(),
});
export type TypeAvailabilityDto = z.infer<typeof typeAvailabilitySchema>;
