import type { Types } from 'mongoose';
import { issueTickets } from '../tickets/issue.js';
import type { TicketFields } from '../tickets/ticket.schema.js';
import type { BookingSettings } from './types.js';

/**
 * Ticket issuance for a booking that becomes confirmed (a confirm, or a free order): the one place
 * bookings call into src/tickets. One ticket per unit of each order line, carrying that line's
 * ticket type (and, on a seated event, one of its seats), each with an id, a number unique across
 * the lines and a signed code.
 */
export function issueTicketsFor(
  deps: Pick<BookingSettings, 'ticketKeys'>,
  eventId: Types.ObjectId,
  lines: readonly { typeId: Types.ObjectId; quantity: number; seats?: string[] }[],
): Promise<TicketFields[]> {
  return issueTickets(deps.ticketKeys, {
    eventId,
    lines: lines.map((line) => ({ ticketTypeId: line.typeId, quantity: line.quantity, seats: line.seats })),
  });
}
