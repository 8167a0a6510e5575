import type { EventFields } from '../events/event.model.js';
import type { SalesLedger } from '../bookings/ledger.js';
import { maxPerBookingOf, type OrderLine, resolveOrder } from '../bookings/order.js';
import { seatsInvalid, seatsNotOffered, seatUnavailable } from '../bookings/problems.js';
import type { CreateBookingInput } from '../bookings/types.js';
import { bestAvailable } from './pick.js';
import type { SeatPlan } from './plan.js';

/**
 * Seats in an order, decided in the sales transaction on the ledger's snapshot (DESIGN.md 7): a
 * seat sold or held by a live hold there is taken, whatever any cache said. Two steps around the
 * count checks of sales.ts:
 *
 *   resolveSeatedOrder (named seats -> lines with seats, 409 SEAT_UNAVAILABLE) -> price, shortfall
 *   -> seatsForLines (best available for lines without named seats)
 */

type SaleEvent = Pick<EventFields, 'status' | 'ticketTypes' | 'maxTicketsPerBooking'>;

/** The order's lines; on a seated event with `seats`, each line carries the named seats of its type. */
export function resolveSeatedOrder(
  event: SaleEvent,
  plan: SeatPlan | null,
  ledger: SalesLedger,
  input: CreateBookingInput,
  now: Date,
): OrderLine[] {
  if (!input.seats) return resolveOrder(event, input, now);
  if (!plan) throw seatsInvalid('seats', 'this event has no reserved seating: send items or quantity');
  const unknown = input.seats.filter((id) => !plan.seats.has(id));
  if (unknown.length > 0) throw seatsNotOffered(unknown);
  const max = event.maxTicketsPerBooking ?? 10;
  if (input.seats.length > max) throw seatsInvalid('seats', `at most ${max} seats per booking of this event`);

  const byType = new Map<string, string[]>();
  for (const id of input.seats) {
    const typeId = String(plan.seats.get(id)?.typeId);
    byType.set(typeId, [...(byType.get(typeId) ?? []), id]);
  }
  for (const [typeId, seats] of byType) {
    const type = event.ticketTypes.find((t) => String(t._id) === typeId);
    const typeMax = type ? maxPerBookingOf(type, event) : max;
    if (type && seats.length > typeMax) throw seatsInvalid('seats', `at most ${typeMax} seats of "${type.name}" per booking`);
  }
  const items = [...byType].map(([ticketTypeId, seats]) => ({ ticketTypeId, quantity: seats.length }));
  if (input.items) {
    const asked = new Map(input.items.map((i) => [i.ticketTypeId, i.quantity]));
    const agree = asked.size === items.length && items.every((i) => asked.get(i.ticketTypeId) === i.quantity);
    if (!agree) {
      const want = items.map((i) => `${i.quantity} of ${i.ticketTypeId}`).join(', ');
      throw seatsInvalid('items', `must match the seats named (${want}), or be left out`);
    }
  }
  const lines = resolveOrder(event, { eventId: input.eventId, items }, now).map((line) => ({
    ...line,
    seats: byType.get(String(line.typeId)) ?? [],
  }));
  const taken = ledger.takenSeats(lines);
  if (taken.length > 0) throw seatUnavailable(taken);
  return lines;
}

/**
 * Lines with their seats: named seats stay, other lines of a seated event get the best available
 * seats of their type. Null when a line cannot be seated (the caller answers SOLD_OUT); unchanged
 * lines on an unseated event.
 */
export function seatsForLines<T extends OrderLine>(plan: SeatPlan | null, ledger: SalesLedger, lines: T[]): T[] | null {
  if (!plan) return lines;
  const chosen = new Set<string>();
  const seated: T[] = [];
  for (const line of lines) {
    if (line.seats && line.seats.length === line.quantity) {
      seated.push(line);
      continue;
    }
    const rows = plan.rowsByType.get(String(line.typeId)) ?? [];
    const seats = bestAvailable(rows, line.quantity, (id) => chosen.has(id) || ledger.seatTaken(id));
    if (!seats) return null;
    for (const s of seats) chosen.add(s.id);
    seated.push({ ...line, seats: seats.map((s) => s.id) });
  }
  return seated;
}
