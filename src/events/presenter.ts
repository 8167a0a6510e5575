import type { Types } from 'mongoose';
import { type TicketCounts, availabilityOf } from '../bookings/availability.js';
import type { BookingFields, BookingStatus } from '../bookings/booking.model.js';
import type { EventFields } from './event.model.js';
import type { AvailabilityDto, EventBookingDto, EventDto } from './schemas.js';

/** An event as the API shows it, minus the computed availability (plus its revision, for the ETag). */
export type EventView = Omit<EventDto, 'availableTickets'> & { revision: number };

/** The stored event plus its ticket counts at one instant: everything a read needs. */
export interface EventSnapshot {
  event: EventView;
  counts: TicketCounts;
  /** Clock time the counts were taken (ISO 8601). */
  asOf: string;
}

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export function eventView(doc: EventFields): EventView {
  return {
    id: String(doc._id),
    name: doc.name,
    description: doc.description ?? '',
    venue: doc.venue,
    category: doc.category ?? 'general',
    startsAt: new Date(doc.startsAt).toISOString(),
    endsAt: iso(doc.endsAt),
    totalTickets: doc.totalTickets,
    price: doc.price,
    currency: doc.currency,
    maxTicketsPerBooking: doc.maxTicketsPerBooking ?? 10,
    status: doc.status ?? 'draft',
    organizerId: String(doc.organizerId),
    createdAt: iso(doc.createdAt) ?? new Date(0).toISOString(),
    updatedAt: iso(doc.updatedAt) ?? new Date(0).toISOString(),
    revision: doc.revision ?? 0,
  };
}

export function toEventDto(view: EventView, counts?: TicketCounts): EventDto {
  const { revision: _revision, ...event } = view;
  return { ...event, availableTickets: availabilityOf(view.totalTickets, counts).availableTickets };
}

export function toAvailabilityDto(snapshot: EventSnapshot): AvailabilityDto {
  return {
    eventId: snapshot.event.id,
    ...availabilityOf(snapshot.event.totalTickets, snapshot.counts),
    asOf: snapshot.asOf,
  };
}

/** Strong validator of one event version: changes whenever an organizer changes the event. */
export const etagOf = (view: { id: string; revision: number }) => `"${view.id}-${view.revision}"`;

/** `expired` is derived, never stored: a pending booking whose hold has run out (DESIGN.md 2). */
export function bookingStatusAt(booking: Pick<BookingFields, 'status' | 'expiresAt'>, now: Date): BookingStatus {
  // Same test as availability.ts: a hold counts only while expiresAt > now.
  if (booking.status === 'pending' && !(booking.expiresAt && new Date(booking.expiresAt) > now)) return 'expired';
  return booking.status;
}

export interface BookingUser {
  _id: Types.ObjectId;
  email: string;
  name: string;
}

export function toEventBookingDto(booking: BookingFields, user: BookingUser | undefined, now: Date): EventBookingDto {
  return {
    id: String(booking._id),
    eventId: String(booking.eventId),
    userId: String(booking.userId),
    user: user ? { id: String(user._id), email: user.email, name: user.name } : null,
    quantity: booking.quantity,
    status: bookingStatusAt(booking, now),
    unitPrice: booking.unitPrice,
    totalPrice: booking.totalPrice,
    currency: booking.currency,
    expiresAt: iso(booking.expiresAt),
    tickets: (booking.tickets ?? []).map((t) => ({ number: t.number })),
    failureReason: booking.failureReason ?? null,
    createdAt: iso(booking.createdAt) ?? new Date(0).toISOString(),
    updatedAt: iso(booking.updatedAt) ?? new Date(0).toISOString(),
  };
}
