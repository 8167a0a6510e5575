import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { availability } from '../fixtures/bookings.js';

export interface SalesTotals {
  totalTickets: number;
  confirmed: number;
  held: number;
  bookings: number;
}

interface StoredBooking {
  _id: unknown;
  userId: unknown;
  quantity: number;
  status: string;
  expiresAt: Date | null;
  tickets?: { number: string }[];
  idempotencyKey?: string | null;
}

/**
 * What must hold for an event whatever failed on the way (API.md Bookings, DESIGN.md 1-3, 6):
 * confirmed + held never exceed the total, the availability endpoint says total - confirmed - held,
 * no idempotency key made two bookings, and every booking is whole (a confirmed one has exactly
 * one unique ticket per seat, a pending one none).
 */
export async function expectSalesConsistent(app: FastifyInstance, eventId: string): Promise<SalesTotals> {
  const event = await app.models.Event.findById(eventId).lean();
  if (!event) throw new Error(`no event ${eventId}`);
  const bookings = await app.models.Booking.find({ eventId }).lean<StoredBooking[]>();
  const now = app.clock.now().getTime();

  let confirmed = 0;
  let held = 0;
  const tickets = new Set<string>();
  for (const b of bookings) {
    const numbers = (b.tickets ?? []).map((x) => x.number);
    if (b.status === 'confirmed') {
      confirmed += b.quantity;
      expect(numbers, `confirmed booking ${String(b._id)} has one ticket per seat`).toHaveLength(b.quantity);
    } else {
      expect(numbers, `${b.status} booking ${String(b._id)} has no tickets`).toHaveLength(0);
    }
    if (b.status === 'pending') {
      expect(b.expiresAt, `pending booking ${String(b._id)} has an expiry`).toBeInstanceOf(Date);
      if ((b.expiresAt as Date).getTime() > now) held += b.quantity;
    }
    for (const n of numbers) {
      expect(tickets.has(n), `ticket ${n} issued twice`).toBe(false);
      tickets.add(n);
    }
  }

  const keys = bookings.filter((b) => b.idempotencyKey).map((b) => `${String(b.userId)}:${b.idempotencyKey}`);
  expect(new Set(keys).size, 'an idempotency key made two bookings').toBe(keys.length);

  expect(confirmed + held).toBeLessThanOrEqual(event.totalTickets);
  const shown = await availability(app, eventId);
  expect(shown).toMatchObject({
    totalTickets: event.totalTickets,
    confirmedTickets: confirmed,
    heldTickets: held,
    availableTickets: event.totalTickets - confirmed - held,
  });
  return { totalTickets: event.totalTickets, confirmed, held, bookings: bookings.length };
}
