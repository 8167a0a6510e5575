import { Types } from 'mongoose';
import type { EventFields, TicketTypeFields } from '../events/event.model.js';
import { type CouponTerms, discountFor } from '../coupons/pricing.js';
import { notFound } from '../lib/errors.js';
import type { Line } from './ledger.js';
import { lineOutOfRange, notOnSale, quantityOutOfRange, ticketTypeRequired } from './problems.js';
import type { CreateBookingInput } from './types.js';

/**
 * What an order asks for, checked against the event's ticket types as they are in the sales
 * transaction's snapshot, and priced. Pure functions: the transaction (sales.ts) calls them in
 * this order, then asks the ledger whether the lines fit:
 *
 *   resolveOrder (which types, how many, on sale, limits) -> priceOrder (unit prices, subtotal,
 *   discount) -> ledger.shortfall (per-type and event availability)
 *
 * Coupons plug into priceOrder (the discount, decided on the same snapshot), seats into the lines
 * (which seats each line takes); neither needs a second conflict point.
 */

export interface OrderLine extends Line {
  name: string;
  unitPrice: number;
}

export interface PricedOrder {
  lines: OrderLine[];
  quantity: number;
  subtotal: number;
  discount: number;
  totalPrice: number;
}

type SaleEvent = Pick<EventFields, 'status' | 'ticketTypes' | 'maxTicketsPerBooking'>;

/** Why a type is not on sale at `now`, or null while it is (API.md Ticket types, `onSale`). */
export function notOnSaleReason(type: TicketTypeFields, event: Pick<EventFields, 'status'>, now: Date): string | null {
  if (event.status !== 'published') return `the event is ${event.status}`;
  if (type.hidden) return `"${type.name}" is not offered`;
  if (type.salesStartAt && now.getTime() < new Date(type.salesStartAt).getTime()) {
    return `sales of "${type.name}" start at ${new Date(type.salesStartAt).toISOString()}`;
  }
  if (type.salesEndAt && now.getTime() >= new Date(type.salesEndAt).getTime()) {
    return `sales of "${type.name}" ended at ${new Date(type.salesEndAt).toISOString()}`;
  }
  return null;
}

export const isOnSale = (type: TicketTypeFields, event: Pick<EventFields, 'status'>, now: Date) =>
  notOnSaleReason(type, event, now) === null;

/** A type's own limit per booking, within the event's. */
export const maxPerBookingOf = (type: Pick<TicketTypeFields, 'maxPerBooking'>, event: Pick<EventFields, 'maxTicketsPerBooking'>) =>
  Math.min(type.maxPerBooking ?? Number.MAX_SAFE_INTEGER, event.maxTicketsPerBooking ?? 10);

/** `{ quantity }` without items: the event's only on-sale type (API.md Bookings). */
function defaultType(event: SaleEvent, now: Date): TicketTypeFields {
  const types = event.ticketTypes ?? [];
  const onSale = types.filter((t) => isOnSale(t, event, now));
  if (onSale.length === 1) return onSale[0];
  if (onSale.length > 1) throw ticketTypeRequired();
  // None on sale: with one visible type, say why that one is not; otherwise there is nothing to buy.
  const visible = types.filter((t) => !t.hidden);
  if (visible.length === 1) return visible[0];
  throw notOnSale('no ticket type is on sale');
}

/** The order's lines against the event's types: 404 unknown type, 409 not on sale, 400 over a limit. */
export function resolveOrder(event: SaleEvent, input: CreateBookingInput, now: Date): OrderLine[] {
  const asked = input.items?.map((i) => ({ ticketTypeId: i.ticketTypeId, quantity: i.quantity })) ?? [
    { ticketTypeId: String(defaultType(event, now)._id), quantity: input.quantity ?? 0 },
  ];
  const total = asked.reduce((sum, line) => sum + line.quantity, 0);
  const eventMax = event.maxTicketsPerBooking ?? 10;
  if (total > eventMax) {
    throw input.items ? lineOutOfRange('items', eventMax, 'the tickets of one booking of this event') : quantityOutOfRange(eventMax);
  }
  return asked.map((line, i) => {
    const type = event.ticketTypes.find((t) => String(t._id) === line.ticketTypeId);
    if (!type) throw notFound('Ticket type');
    const why = notOnSaleReason(type, { status: 'published' }, now);
    if (why) throw notOnSale(why);
    const max = maxPerBookingOf(type, event);
    if (line.quantity > max) {
      throw input.items ? lineOutOfRange(`items.${i}.quantity`, max, `"${type.name}"`) : quantityOutOfRange(max);
    }
    return { typeId: new Types.ObjectId(String(type._id)), name: type.name, quantity: line.quantity, unitPrice: type.price };
  });
}

/** Prices the lines at the types' current prices, less the coupon's discount (coupons/pricing.ts). */
export function priceOrder(lines: OrderLine[], coupon?: CouponTerms | null): PricedOrder {
  const subtotal = lines.reduce((sum, l) => sum + l.unitPrice * l.quantity, 0);
  const discount = coupon ? Math.min(subtotal, discountFor(coupon, lines)) : 0;
  return {
    lines,
    quantity: lines.reduce((sum, l) => sum + l.quantity, 0),
    subtotal,
    discount,
    totalPrice: Math.max(0, subtotal - discount),
  };
}
