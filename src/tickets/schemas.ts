import { z } from 'zod';
import { TICKET_STATUSES, type TicketFields, ticketStatus } from './ticket.schema.js';

/** `ticket` of API.md Tickets and check-in. */
export const ticketSchema = z.object({
  id: z.string(),
  number: z.string(),
  ticketTypeId: z.string().nullable(),
  seat: z.string().nullable(),
  status: z.enum(TICKET_STATUSES),
  code: z.string().nullable().describe('Signed ticket code (EdDSA JWT); verify offline with GET /events/{id}/check-in-key'),
  checkedInAt: z.string().nullable(),
});
export type TicketView = z.infer<typeof ticketSchema>;

/** A ticket as the API shows it; `bookingStatus` is its booking's stored status. */
export function toTicketView(ticket: TicketFields, bookingStatus: string): TicketView {
  return {
    id: String(ticket._id),
    number: ticket.number,
    ticketTypeId: ticket.ticketTypeId ? String(ticket.ticketTypeId) : null,
    seat: ticket.seat ?? null,
    status: ticketStatus(bookingStatus, ticket),
    code: ticket.code ?? null,
    checkedInAt: ticket.checkedInAt ? ticket.checkedInAt.toISOString() : null,
  };
}

/** A ticket with where it belongs, for GET /tickets/:id. */
export const ticketDetailSchema = ticketSchema.extend({ bookingId: z.string(), eventId: z.string() });
