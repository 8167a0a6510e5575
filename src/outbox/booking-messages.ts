import type { BookingFields } from '../bookings/booking.model.js';
import type { Json, MessageType, OutboxMessageInput } from './types.js';

/** The booking statuses a message may report (`expired` is never stored, DESIGN.md 2). */
export type AnnouncedStatus = 'pending' | 'confirmed' | 'cancelled' | 'expired' | 'refunded';

const iso = (d: Date | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

/** The booking as a message carries it: the public booking fields at the moment of the change. */
export function bookingData(booking: BookingFields, status: AnnouncedStatus = booking.status): { [key: string]: Json } {
  return {
    id: String(booking._id),
    eventId: String(booking.eventId),
    userId: String(booking.userId),
    status,
    quantity: booking.quantity,
    // The order's lines by ticket type (bookings made before ticket types have none stored).
    items: (booking.items ?? []).map((i) => ({ ticketTypeId: String(i.ticketTypeId), name: i.name, quantity: i.quantity, unitPrice: i.unitPrice })),
    unitPrice: booking.unitPrice,
    subtotal: booking.subtotal ?? booking.totalPrice,
    discount: booking.discount ?? 0,
    totalPrice: booking.totalPrice,
    currency: booking.currency,
    expiresAt: iso(booking.expiresAt),
    tickets: (booking.tickets ?? []).map((t) => ({ number: t.number })),
    createdAt: iso(booking.createdAt),
    updatedAt: iso(booking.updatedAt),
  };
}

/** A booking.* message for `enqueue` (src/bookings and the sweeper call this). */
export function bookingMessage(type: MessageType, booking: BookingFields, status?: AnnouncedStatus): OutboxMessageInput {
  return { type, eventId: String(booking.eventId), data: { booking: bookingData(booking, status) } };
}
