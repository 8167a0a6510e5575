import { Schema, type Types } from 'mongoose';

/**
 * A ticket, stored inside its booking (tickets are subdocuments; README "Tickets" says why).
 * Its status is not stored: it is `void` whenever its booking is not confirmed (cancelled,
 * refunded, or an event cancellation), and `checked_in` once `checkedInAt` is set. So every path
 * that ends a booking voids its tickets without knowing about them, and a check-in (one conditional
 * write on the booking, `status: 'confirmed'` in its filter) can never admit a void ticket.
 */
export const ticketSubschema = new Schema(
  {
    number: { type: String, required: true },
    /** The ticket type it was sold as; null until bookings carry ticket types. */
    ticketTypeId: { type: Schema.Types.ObjectId, default: null },
    /** Its seat; null until events have reserved seating. */
    seat: { type: String, default: null },
    /** The signed code (codes.ts), fixed at issue so the printed QR never changes. */
    code: { type: String, default: null },
    checkedInAt: { type: Date, default: null },
  },
  { _id: true },
);

export interface TicketFields {
  _id: Types.ObjectId;
  number: string;
  ticketTypeId: Types.ObjectId | null;
  seat: string | null;
  code: string | null;
  checkedInAt: Date | null;
}

export const TICKET_STATUSES = ['valid', 'checked_in', 'void'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

/** A ticket's status, derived from its booking's stored status and its own check-in. */
export function ticketStatus(bookingStatus: string, ticket: Pick<TicketFields, 'checkedInAt'>): TicketStatus {
  if (bookingStatus !== 'confirmed') return 'void';
  return ticket.checkedInAt ? 'checked_in' : 'valid';
}
