import type { FilterQuery, SortOrder, Types } from 'mongoose';
import { availabilityOf, eventCounts } from '../bookings/availability.js';
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
  return filter;
}

// `_id` last everywhere: equal keys still page in one fixed order.
// Availability sorts are ranked in memory (rankOrder), never here.
const SORTS: Record<Exclude<EventSort, 'availableTickets' | '-availableTickets'>, Record<string, SortOrder>> = {
  startsAt: { startsAt: 1, _id: 1 },
  '-startsAt': { startsAt: -1, _id: 1 },
  name: { name: 1, _id: 1 },
  price: { price: 1, _id: 1 },
  '-price': { price: -1, _id: 1 },
};

/** Published events, filtered, sorted and paged; availability of the page in one aggregation. */
export async function listEvents(deps: EventDeps, query: ListEventsQuery): Promise<Page<EventDto>> {
  const filter = listFilter(query);
  if (query.availableOnly || query.sort === 'availableTickets' || query.sort === '-availableTickets') {
    return listByAvailability(deps, filter, query);
  }
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

interface Ranked {
  _id: Types.ObjectId;
  name: string;
  price: number;
  startsAt: Date;
  availableTickets: number;
}

const compare = (a: string | number | Date, b: string | number | Date) => (a < b ? -1 : a > b ? 1 : 0);

/** The same orders as SORTS, for events ranked in memory. */
function rankOrder(sort: EventSort): (a: Ranked, b: Ranked) => number {
  const [key, direction] = sort.startsWith('-') ? [sort.slice(1), -1] : [sort, 1];
  const field = key as 'name' | 'price' | 'startsAt' | 'availableTickets';
  return (a, b) =>
    direction * compare(a[field], b[field]) ||
    (field === 'availableTickets' ? compare(a.startsAt, b.startsAt) : 0) ||
    compare(String(a._id), String(b._id));
}

/**
 * Filtering or sorting on availability needs it for the whole filtered set, not one page: read the
 * set's sort keys (a covered, projected find), count tickets for all of it in ONE aggregation with
 * the one availability definition (availability.ts), rank and page here, then load the page.
 * Three queries whatever the page; memory is a few dozen bytes per matching event.
 */
async function listByAvailability(
  deps: EventDeps,
  filter: FilterQuery<EventFields>,
  query: ListEventsQuery,
): Promise<Page<EventDto>> {
  const { Event, Booking } = deps.models;
  // The ledger's few fields come with the sort keys: no booking is read (DESIGN.md 12).
  const rows = await Event.find(filter, {
    name: 1,
    price: 1,
    startsAt: 1,
    totalTickets: 1,
    'ticketTypes._id': 1,
    'ticketTypes.confirmed': 1,
    holds: 1,
    ledgerVersion: 1,
  }).lean<EventFields[]>();
  const now = deps.clock.now();
  const counts = await eventCounts(Booking, rows, now);
  let ranked: Ranked[] = rows.map((r) => ({
    _id: r._id,
    name: r.name,
    price: r.price,
    startsAt: r.startsAt,
    availableTickets: availabilityOf(r.totalTickets, counts.get(String(r._id))).availableTickets,
  }));
  if (query.availableOnly) ranked = ranked.filter((r) => r.availableTickets > 0);
  ranked.sort(rankOrder(query.sort));

  const page = ranked.slice((query.page - 1) * query.limit, query.page * query.limit);
  const docs = page.length ? await Event.find({ _id: { $in: page.map((r) => r._id) } }).lean<EventFields[]>() : [];
  const byId = new Map(docs.map((d) => [String(d._id), d]));
  const data = page.flatMap((r) => {
    const doc = byId.get(String(r._id));
    return doc ? [toEventDto(eventView(doc), counts.get(String(r._id)), now)] : [];
  });
  return { data, total: ranked.length };
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
