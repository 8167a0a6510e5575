import type { FilterQuery, SortOrder } from 'mongoose';
import { eventCounts } from '../bookings/availability.js';
import { type BookingFields, bookingStatusFilter } from '../bookings/booking.model.js';
import { notFound } from '../lib/errors.js';
import { type Actor, assertManageable, type EventDeps } from './access.js';
import type { EventFields } from './event.model.js';
import type { PaymentView } from '../payments/schemas.js';
import { eventView, toEventBookingDto, toEventDto } from './presenter.js';
import type { EventBookingDto, EventBookingsQuery, EventDto, EventSort, ListEventsQuery } from './schemas.js';

export interface Page<T> {
  data: T[];
  total: number;
}

/** Makes user text match itself literally: no regex syntax, so no injection and no catastrophic backtracking. */
export const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

export function listFilter(query: ListEventsQuery): FilterQuery<EventFields> {
  const filter: FilterQuery<EventFields> = { status: 'published' };
  if (query.q) {
    const pattern = { $regex: escapeRegex(query.q), $options: 'i' };
    filter.$or = [{ name: pattern }, { venue: pattern }, { description: pattern }];
  }
  if (query.from || query.to) {
    filter.startsAt = {
      ...(query.from ? { $gte: query.from.at } : {}),
      ...(query.to ? { [query.to.inclusive ? '$lte' : '$lt']: query.to.at } : {}),
    };
  }
  if (query.category) filter.category = query.category;
  if (query.availableOnly) filter.listedAvailable = { $gt: 0 };
  return filter;
}

// `_id` last everywhere: equal keys still page in one fixed order. Availability orders read the
// listing's projection (listing-projection.ts), ties by startsAt: one index walk like the others.
const SORTS: Record<EventSort, Record<string, SortOrder>> = {
  startsAt: { startsAt: 1, _id: 1 },
  '-startsAt': { startsAt: -1, _id: 1 },
  name: { name: 1, _id: 1 },
  price: { price: 1, _id: 1 },
  '-price': { price: -1, _id: 1 },
  availableTickets: { listedAvailable: 1, startsAt: 1, _id: 1 },
  '-availableTickets': { listedAvailable: -1, startsAt: 1, _id: 1 },
};

/**
 * Published events, filtered, sorted and paged; availability of the page from its ledgers.
 * `availableOnly` and the availability sorts filter and order by the indexed projection, which
 * lags the truth only after a hold runs out until it is refreshed, and then only ever downwards
 * (listing-projection.ts): an event is never listed as available when it is sold out. The
 * `availableTickets` of each event sent is exact, computed from its own ledger now.
 */
export async function listEvents(deps: EventDeps, query: ListEventsQuery): Promise<Page<EventDto>> {
  const filter = listFilter(query);
  const { Event, Booking } = deps.models;
  const [docs, total] = await Promise.all([
    Event.find(filter)
      .sort(SORTS[query.sort])
      .skip((query.page - 1) * query.limit)
      .limit(query.limit)
      .lean<EventFields[]>(),
    Event.countDocuments(filter),
  ]);
  const now = deps.clock.now();
  const counts = await eventCounts(Booking, docs, now);
  return { data: docs.map((d) => toEventDto(eventView(d), counts.get(String(d._id)), now)), total };
}

/** An event's bookings for its organizer or an admin, newest first, each with its buyer. */
export async function listEventBookings(
  deps: EventDeps,
  eventId: string,
  actor: Actor | undefined,
  query: EventBookingsQuery,
): Promise<Page<EventBookingDto>> {
  const { Event, Booking, User } = deps.models;
  const event = await Event.findById(eventId, { status: 1, organizerId: 1 }).lean();
  if (!event) throw notFound('Event');
  assertManageable(actor, { status: event.status ?? 'draft', organizerId: String(event.organizerId) });

  const now = deps.clock.now();
  const filter: FilterQuery<BookingFields> = { eventId: event._id, ...bookingStatusFilter(query.status, now) };
  const [bookings, total] = await Promise.all([
    Booking.find(filter)
      .sort({ createdAt: -1, _id: -1 })
      .skip((query.page - 1) * query.limit)
      .limit(query.limit)
      .lean(),
    Booking.countDocuments(filter),
  ]);
  // One batched read for every buyer on the page, not one per booking.
  const userIds = [...new Set(bookings.map((b) => String(b.userId)))];
  const users = userIds.length
    ? await User.find({ _id: { $in: userIds } }, { email: 1, name: 1 }).lean()
    : [];
  const byId = new Map(users.map((u) => [String(u._id), u]));
  // Each booking's latest payment, in one more batched read (none without a payment provider).
  const payments = deps.payments ? await deps.payments.forBookings.latestOf(bookings, actor?.userId ?? '') : new Map<string, PaymentView>();
  return {
    data: bookings.map((b) => toEventBookingDto(b, byId.get(String(b.userId)), now, payments.get(String(b._id)) ?? null)),
    total,
  };
}
