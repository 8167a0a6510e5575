import type { ClientSession, Types } from 'mongoose';
import type { BookingFields } from '../bookings/booking.model.js';
import { SalesLedger } from '../bookings/ledger.js';
import { CouponLedger } from '../coupons/ledger.js';
import { isOnSale, type OrderLine } from '../bookings/order.js';
import { loadSeatPlan } from '../seats/plan.js';
import { seatsForLines } from '../seats/order.js';
import type { OpenSales } from '../bookings/sales.js';
import type { EventFields } from '../events/event.model.js';
import type { Models } from '../models.js';
import type { Outbox } from '../outbox/outbox.js';
import { announceWaitlistOffers, type OfferMade } from './announce.js';
import type { WaitlistEntryFields } from './entry.model.js';

/**
 * Promotion (DESIGN.md 10): free tickets go to the waiting entries, in queue order, first that
 * fits, inside the sales transaction that is already running on the event (the caller opened it
 * with openSales, so the event is claimed and nothing can buy in between). Each offer is a pending
 * booking held for WAITLIST_OFFER_SECONDS: it is a hold in the ledger like any other, so public
 * availability already excludes it, and its expiry frees the tickets for the next entry.
 */

export interface WaitlistServing {
  models: Pick<Models, 'Event' | 'Booking' | 'WaitlistEntry' | 'Venue'>;
  /** Where the `waitlist.offered` messages go, in the offering transaction. */
  outbox: Pick<Outbox, 'enqueue'>;
  /** WAITLIST_OFFER_SECONDS in ms. */
  waitlistOfferMs: number;
}

/** Entries read per round trip while looking for ones that fit. */
const PAGE = 50;

type Entry = Pick<WaitlistEntryFields, '_id' | 'userId' | 'ticketTypeId' | 'quantity' | 'seq'>;

/** Whether the event's summary says anyone waits (free: the claimed event document carries it). */
export const hasWaiting = (sales: OpenSales) => (sales.event.waitlist?.waiting ?? 0) > 0;

/**
 * Offers what is free to the queue. Returns the number of offers made; the ledger holds them and
 * the caller's saveLedger writes it. Costs nothing when nobody waits or nothing is free; otherwise
 * reads the waiting entries in order by an index, only those small enough for what is free.
 */
export async function serveWaitlist(deps: WaitlistServing, sales: OpenSales, session: ClientSession, now: Date): Promise<number> {
  const { event, ledger } = sales;
  if (!hasWaiting(sales) || event.status !== 'published' || new Date(event.startsAt).getTime() <= now.getTime()) return 0;
  if (ledger.eventAvailable() <= 0) return 0;

  const expiresAt = new Date(now.getTime() + deps.waitlistOfferMs);
  const offers: OfferMade[] = [];
  const bookings: BookingFields[] = [];
  let after = 0;
  for (;;) {
    const free = ledger.eventAvailable();
    if (free <= 0) break;
    const page = await deps.models.WaitlistEntry.find(
      { eventId: event._id, status: 'waiting', seq: { $gt: after }, quantity: { $lte: free } },
      { userId: 1, ticketTypeId: 1, quantity: 1, seq: 1 },
    )
      .sort({ seq: 1 })
      .limit(PAGE)
      .session(session)
      .lean<Entry[]>();
    for (const entry of page) {
      after = entry.seq;
      const type = event.ticketTypes.find((t) => t._id.equals(entry.ticketTypeId));
      // A type taken off sale keeps its queue until it is on sale again.
      if (!type || !isOnSale(type, event, now)) continue;
      // First that fits: an entry too big for what is free waits, the ones behind it may be served.
      if (ledger.shortfall([{ typeId: type._id, quantity: entry.quantity }])) continue;
      // A seated event offers the best available seats of the type (src/seats/pick.ts).
      const asked: OrderLine[] = [{ typeId: type._id, quantity: entry.quantity, name: type.name, unitPrice: type.price }];
      const lines = seatsForLines(sales.plan, ledger, asked);
      if (!lines) continue;
      ledger.hold(lines, expiresAt);
      const booking = offerBooking(deps, event._id, entry, { name: type.name, price: type.price, currency: event.currency, seats: lines[0].seats }, expiresAt, now);
      bookings.push(booking);
      offers.push({
        eventId: event._id,
        entryId: entry._id,
        userId: entry.userId,
        bookingId: booking._id,
        ticketTypeId: type._id,
        quantity: entry.quantity,
        expiresAt,
        booking,
      });
      if (ledger.eventAvailable() <= 0) break;
    }
    if (page.length < PAGE) break;
  }
  if (offers.length === 0) return 0;

  await deps.models.Booking.insertMany(bookings, { session, ordered: true });
  await deps.models.WaitlistEntry.bulkWrite(
    offers.map((o) => ({
      updateOne: {
        filter: { _id: o.entryId, status: 'waiting' },
        update: { $set: { status: 'offered', offer: { bookingId: o.bookingId, expiresAt }, offeredAt: now, updatedAt: now } },
      },
    })),
    { session, ordered: true },
  );
  await deps.models.Event.updateOne({ _id: event._id }, { $inc: { 'waitlist.waiting': -offers.length } }, { session, timestamps: false });
  // The snapshot stays true for the rest of this transaction.
  event.waitlist = { waiting: (event.waitlist?.waiting ?? 0) - offers.length, joined: event.waitlist?.joined ?? 0 };
  await announceWaitlistOffers(deps.outbox, session, offers);
  return offers.length;
}

function offerBooking(
  deps: WaitlistServing,
  eventId: Types.ObjectId,
  entry: Entry,
  type: { name: string; price: number; currency: string; seats?: string[] },
  expiresAt: Date,
  now: Date,
): BookingFields {
  const doc = new deps.models.Booking({
    eventId,
    userId: entry.userId,
    quantity: entry.quantity,
    items: [{ ticketTypeId: entry.ticketTypeId, name: type.name, quantity: entry.quantity, unitPrice: type.price, seats: type.seats }],
    // Always a hold, even when the type is free: the entry takes the offer by confirming it.
    status: 'pending',
    unitPrice: type.price,
    subtotal: type.price * entry.quantity,
    discount: 0,
    totalPrice: type.price * entry.quantity,
    currency: type.currency,
    expiresAt,
    tickets: [],
    createdAt: now,
    updatedAt: now,
  });
  return doc.toObject<BookingFields>();
}

/**
 * A booking changed status inside its sales transaction: if it was an offer, its entry follows
 * (confirmed: accepted; cancelled while pending: the entry leaves the list). Cheap when the event
 * never had a waitlist: nothing is read.
 */
export async function offerAnswered(
  deps: Pick<WaitlistServing, 'models'>,
  sales: OpenSales,
  bookingId: Types.ObjectId,
  outcome: 'accepted' | 'left',
  session: ClientSession,
  now: Date,
): Promise<void> {
  if ((sales.event.waitlist?.joined ?? 0) === 0) return;
  await deps.models.WaitlistEntry.updateOne(
    { 'offer.bookingId': bookingId, status: 'offered' },
    { $set: { status: outcome, closedAt: now, updatedAt: now } },
    { session, timestamps: false },
  );
}

/** The serving deps of an app (events and ticket types call this; bookings carry their own). */
export const servingOf = (app: {
  models: WaitlistServing['models'];
  outbox: WaitlistServing['outbox'];
  config: { WAITLIST_OFFER_SECONDS: number };
}): WaitlistServing => ({
  models: app.models,
  outbox: app.outbox,
  waitlistOfferMs: app.config.WAITLIST_OFFER_SECONDS * 1000,
});

/**
 * After an organizer's change written in a transaction that claimed the event (a raised capacity,
 * a type back on sale): serves the waitlist in that same transaction. Returns the event as it is
 * now (re-read only when offers were made).
 */
export async function serveAfterChange(
  deps: WaitlistServing,
  event: EventFields,
  session: ClientSession,
  now: Date,
): Promise<EventFields | null> {
  // Offers never touch coupons; the coupon ledger is opened only to make the sale whole.
  if ((event.waitlist?.waiting ?? 0) === 0) return event;
  const sales: OpenSales = {
    event,
    ledger: new SalesLedger(event, now),
    coupons: new CouponLedger(event.couponLedger, now),
    plan: await loadSeatPlan(deps.models, event),
  };
  const offered = await serveWaitlist(deps, sales, session, now);
  if (offered === 0) return event;
  await deps.models.Event.updateOne({ _id: event._id }, sales.ledger.update(), { session, timestamps: false });
  return deps.models.Event.findById(event._id).session(session).lean<EventFields>();
}
