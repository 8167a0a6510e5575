import type { Types } from 'mongoose';
import type { PaymentView } from '../payments/schemas.js';
import { type TicketCounts, availabilityOf } from '../bookings/availability.js';
import { type LedgerCounts, typeAvailable } from '../bookings/ledger.js';
import type { TicketTypeDto } from '../ticket-types/schemas.js';
import type { BookingFields, BookingStatus } from '../bookings/booking.model.js';
import { itemsView, ticketsView } from '../bookings/schemas.js';
import type { EventFields, TicketTypeFields } from './event.model.js';
import type { AvailabilityDto, EventBookingDto, EventDto } from './schemas.js';

/** A ticket type as stored, ready for a read (its counts come from the snapshot). */
export interface TypeView {
  id: string;
  name: string;
  description: string;
  price: number;
  /** null: the event's whole capacity. */
  capacity: number | null;
  /** null: the event's maxTicketsPerBooking. */
  maxPerBooking: number | null;
  salesStartAt: string | null;
  salesEndAt: string | null;
  hidden: boolean;
  position: number;
  /** Seated events: the venue sections the type sells. */
  sectionIds: string[];
}

/** An event as the API shows it, minus what is computed at read time (plus its revision, for the ETag). */
export type EventView = Omit<EventDto, 'availableTickets' | 'ticketTypes'> & { revision: number; types: TypeView[] };

/** The stored event plus its ticket counts at one instant: everything a read needs. */
export interface EventSnapshot {
  event: EventView;
  counts: LedgerCounts;
  /** Clock time the counts were taken (ISO 8601). */
  asOf: string;
}

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export const NO_COUNTS: LedgerCounts = { confirmedTickets: 0, heldTickets: 0, byType: new Map() };

export function typeView(type: TicketTypeFields): TypeView {
  return {
    id: String(type._id),
    name: type.name,
    description: type.description ?? '',
    price: type.price,
    capacity: type.capacity ?? null,
    maxPerBooking: type.maxPerBooking ?? null,
    salesStartAt: iso(type.salesStartAt),
    salesEndAt: iso(type.salesEndAt),
    hidden: type.hidden ?? false,
    position: type.position ?? 0,
    sectionIds: [...(type.sectionIds ?? [])],
  };
}

const byPosition = (a: TypeView, b: TypeView) => a.position - b.position || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function eventView(doc: EventFields): EventView {
  return {
    id: String(doc._id),
    name: doc.name,
    description: doc.description ?? '',
    venue: doc.venue,
    venueId: doc.venueId ? String(doc.venueId) : null,
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
    types: (doc.ticketTypes ?? []).map(typeView).sort(byPosition),
  };
}

/** API.md Ticket types `onSale`: the event published, the type not hidden, now within its window. */
export function typeOnSale(type: TypeView, event: Pick<EventView, 'status'>, now: Date): boolean {
  const t = now.getTime();
  return (
    event.status === 'published' &&
    !type.hidden &&
    (!type.salesStartAt || t >= Date.parse(type.salesStartAt)) &&
    (!type.salesEndAt || t < Date.parse(type.salesEndAt))
  );
}

/** The next instant a type goes on or off sale (read answers stay true until then), or null. */
export function nextWindowChange(view: EventView, now: Date): Date | null {
  let next: number | null = null;
  for (const type of view.types) {
    for (const at of [type.salesStartAt, type.salesEndAt]) {
      const ms = at ? Date.parse(at) : NaN;
      if (ms > now.getTime() && (next === null || ms < next)) next = ms;
    }
  }
  return next === null ? null : new Date(next);
}

const NONE: TicketCounts = { confirmedTickets: 0, heldTickets: 0 };

/** One type's figures in a snapshot. */
export function typeFigures(view: EventView, type: TypeView, counts: LedgerCounts, now: Date) {
  const own = counts.byType.get(type.id) ?? NONE;
  const capacity = type.capacity ?? view.totalTickets;
  const eventLeft = availabilityOf(view.totalTickets, counts).availableTickets;
  return {
    capacity,
    confirmedTickets: own.confirmedTickets,
    heldTickets: own.heldTickets,
    availableTickets: typeAvailable(capacity, own, eventLeft),
    onSale: typeOnSale(type, view, now),
  };
}

export function toTicketTypeDto(view: EventView, type: TypeView, counts: LedgerCounts, now: Date): TicketTypeDto {
  const { capacity, availableTickets, onSale } = typeFigures(view, type, counts, now);
  return {
    ...type,
    eventId: view.id,
    currency: view.currency,
    capacity,
    maxPerBooking: Math.min(type.maxPerBooking ?? view.maxTicketsPerBooking, view.maxTicketsPerBooking),
    availableTickets,
    onSale,
  };
}

/** Public reads show the types that are offered; hidden ones only to the organizer (ticket-types routes). */
const publicTypes = (view: EventView) => view.types.filter((t) => !t.hidden);

export function toEventDto(view: EventView, counts: LedgerCounts = NO_COUNTS, now: Date = new Date()): EventDto {
  const { revision: _revision, types: _types, ...event } = view;
  const onSalePrices = view.types.filter((t) => typeOnSale(t, view, now)).map((t) => t.price);
  return {
    ...event,
    // What a listing shows as "from": the lowest on-sale price, else the stored one.
    price: onSalePrices.length > 0 ? Math.min(...onSalePrices) : view.price,
    availableTickets: availabilityOf(view.totalTickets, counts).availableTickets,
    ticketTypes: publicTypes(view).map((t) => toTicketTypeDto(view, t, counts, now)),
  };
}

export function toAvailabilityDto(snapshot: EventSnapshot): AvailabilityDto {
  const now = new Date(snapshot.asOf);
  const { event, counts } = snapshot;
  return {
    eventId: event.id,
    ...availabilityOf(event.totalTickets, counts),
    ticketTypes: publicTypes(event).map((t) => {
      const { capacity, availableTickets, confirmedTickets, heldTickets, onSale } = typeFigures(event, t, counts, now);
      return { ticketTypeId: t.id, name: t.name, capacity, availableTickets, confirmedTickets, heldTickets, onSale };
    }),
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

export function toEventBookingDto(
  booking: BookingFields,
  user: BookingUser | undefined,
  now: Date,
  payment: PaymentView | null = null,
): EventBookingDto {
  return {
    id: String(booking._id),
    eventId: String(booking.eventId),
    userId: String(booking.userId),
    user: user ? { id: String(user._id), email: user.email, name: user.name } : null,
    quantity: booking.quantity,
    items: itemsView(booking),
    status: bookingStatusAt(booking, now),
    unitPrice: booking.unitPrice,
    subtotal: booking.subtotal ?? booking.totalPrice,
    discount: booking.discount ?? 0,
    totalPrice: booking.totalPrice,
    currency: booking.currency,
    couponCode: booking.couponCode ?? null,
    expiresAt: iso(booking.expiresAt),
    tickets: ticketsView(booking),
    failureReason: booking.failureReason ?? null,
    payment,
    createdAt: iso(booking.createdAt) ?? new Date(0).toISOString(),
    updatedAt: iso(booking.updatedAt) ?? new Date(0).toISOString(),
  };
}
