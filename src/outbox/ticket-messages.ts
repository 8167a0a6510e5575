import type { CheckedIn } from '../check-in/service.js';
import type { OutboxMessageInput } from './types.js';

/** ticket.checked_in: which ticket of which booking was let in, when, and by whom. */
export function checkedInMessage(c: CheckedIn, ticketNumber: string): OutboxMessageInput {
  return {
    type: 'ticket.checked_in',
    eventId: c.eventId,
    data: {
      ticket: {
        id: c.ticketId,
        number: ticketNumber,
        bookingId: c.bookingId,
        eventId: c.eventId,
        checkedInAt: c.checkedInAt.toISOString(),
        checkedInBy: c.checkedInBy,
      },
    },
  };
}
