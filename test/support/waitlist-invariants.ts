import type { FastifyInstance } from 'fastify';
import { Types } from 'mongoose';
import { expect } from 'vitest';
import { compare, recount } from '../../src/bookings/ledger-audit.js';
import { SalesLedger } from '../../src/bookings/ledger.js';
import { isOnSale } from '../../src/bookings/order.js';
import type { EventFields } from '../../src/events/event.model.js';
import { entryStatusAt } from '../../src/waitlist/entry.model.js';

/**
 * What must hold for an event with a waitlist after any sequence of requests (DESIGN.md 10):
 * - never oversold: confirmed + live holds within the event's total and each type's capacity, and
 *   the ledger equals a recount from the bookings;
 * - never tickets for sale while a waiting entry they fit is owed them;
 * - every offer is its own pending (or, once taken, confirmed) booking of the entry's user, of the
 *   entry's quantity and type: nothing offered twice, nothing both offered and sold to another;
 * - the event's summary of waiting entries equals the queue.
 * Reads the database directly; returns the figures for further checks.
 */
export async function expectWaitlistInvariants(
  app: FastifyInstance,
  eventId: string,
  now: Date,
  /** false right after the clock moved, before any serving transaction: expired holds free tickets silently. */
  options: { servedSinceFreed?: boolean } = {},
) {
  const event = await app.models.Event.findById(eventId).lean<EventFields>();
  if (!event) throw new Error('no event');
  const counted = await recount(app.models, event, now);
  expect(compare(event, counted, now), 'ledger equals the bookings').toEqual([]);
  const ledger = new SalesLedger(event, now);
  expect(ledger.eventAvailable()).toBeGreaterThanOrEqual(0);
  let taken = 0;
  for (const n of counted.confirmed.values()) taken += n;
  for (const n of counted.holds.values()) taken += n;
  expect(taken, 'never oversold').toBeLessThanOrEqual(event.totalTickets);
  for (const type of event.ticketTypes) {
    if (type.capacity === null || type.capacity === undefined) continue;
    let own = counted.confirmed.get(String(type._id)) ?? 0;
    for (const [key, n] of counted.holds) if (key.startsWith(`${String(type._id)}|`)) own += n;
    expect(own, `type ${type.name} within capacity`).toBeLessThanOrEqual(type.capacity);
  }

  const entries = await app.models.WaitlistEntry.find({ eventId: new Types.ObjectId(eventId) }).sort({ seq: 1 }).lean();
  const waiting = entries.filter((e) => e.status === 'waiting');
  expect(event.waitlist?.waiting ?? 0, 'summary of waiting entries').toBe(waiting.length);
  const selling = event.status === 'published' && new Date(event.startsAt).getTime() > now.getTime();
  if (selling && options.servedSinceFreed !== false) {
    for (const entry of waiting) {
      const type = event.ticketTypes.find((t) => t._id.equals(entry.ticketTypeId));
      if (!type || !isOnSale(type, event, now)) continue;
      const fits = ledger.shortfall([{ typeId: type._id, quantity: entry.quantity }]) === null;
      expect(fits, `tickets for sale that waiting entry #${entry.seq} (${entry.quantity}) fits`).toBe(false);
    }
  }

  const offers = entries.filter((e) => e.offer);
  const bookingIds = offers.map((e) => String(e.offer?.bookingId));
  expect(new Set(bookingIds).size, 'no booking offered twice').toBe(bookingIds.length);
  const bookings = await app.models.Booking.find({ _id: { $in: offers.map((e) => e.offer?.bookingId) } }).lean();
  const byId = new Map(bookings.map((b) => [String(b._id), b]));
  let liveOffers = 0;
  for (const entry of offers) {
    const status = entryStatusAt(entry, now);
    const booking = byId.get(String(entry.offer?.bookingId));
    if (status === 'offered') {
      liveOffers++;
      expect(booking, 'a live offer has its booking').toBeDefined();
      expect(booking).toMatchObject({ status: 'pending', quantity: entry.quantity });
      expect(String(booking?.userId)).toBe(String(entry.userId));
      expect(String(booking?.items?.[0]?.ticketTypeId)).toBe(String(entry.ticketTypeId));
    }
    if (status === 'accepted') expect(booking?.status).toBe('confirmed');
  }
  return { event, entries, waiting: waiting.length, liveOffers, available: ledger.eventAvailable(), taken };
}
