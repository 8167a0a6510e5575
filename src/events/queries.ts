import type { FilterQuery, PipelineStage, SortOrder } from 'mongoose';
import { countTickets } from '../bookings/availability.js';
import type { BookingFields } from '../bookings/booking.model.js';
import { notFound } from '../lib/errors.js';
import { type Actor, assertManageable, type EventDeps } from './access.js';
import type { EventFields } from './event.model.js';
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
const SORTS: Record<EventSort, Record<string, SortOrder>> = {
  startsAt: { startsAt: 1, _id: 1 },
  '-startsAt': { startsAt: -1, _id: 1 },
  name: { name: 1, _id: 1 },
  price: { price: 1, _id: 1 },
  '-price': { price: -1, _id: 1 },
  availableTickets: { availableTickets: 1, startsAt: 1, _id: 1 },
  '-availableTickets': { availableTickets: -1, startsAt: 1, _id: 1 },
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
      .lean(),
    Event.countDocuments(filter),
  ]);
  const counts = await countTickets(
    Booking,
    docs.map((d) => d._id),
    deps.clock.now(),
  );
  return { data: docs.map((d) => toEventDto(eventView(d), counts.get(String(d._id)))), total };
}

/**
 * Filtering or sorting on availability needs it for the whole filtered set, not one page, so the
 * database computes it per event ($lookup into bookings, the index on (eventId, status)) before
 * sorting and paging. The expression is availability.ts countTickets/availabilityOf, in
 * aggregation form: confirmed plus holds whose expiresAt is still in the future.
 */
async function listByAvailability(
  deps: EventDeps,
  filter: FilterQuery<EventFields>,
  query: ListEventsQuery,
): Promise<Page<EventDto>> {
  const { Event, Booking } = deps.models;
  const now = deps.clock.now();
  const pipeline: PipelineStage[] = [
    { $match: filter },
    {
      $lookup: {
        from: Booking.collection.collectionName,
        // let + $expr $eq: uses the (eventId, status) index on MongoDB 5+, like localField would.
        let: { eventId: '$_id' },
        pipeline: [
          {
            $match: {
              $expr: { $eq: ['$eventId', '$$eventId'] },
              $or: [{ status: 'confirmed' }, { status: 'pending', expiresAt: { $gt: now } }],
            },
          },
          { $group: { _id: null, taken: { $sum: '$quantity' } } },
        ],
        as: 'sold',
      },
    },
    {
      $addFields: {
        availableTickets: {
          $max: [0, { $subtract: ['$totalTickets', { $ifNull: [{ $arrayElemAt: ['$sold.taken', 0] }, 0] }] }],
        },
      },
    },
    ...(query.availableOnly ? [{ $match: { availableTickets: { $gt: 0 } } }] : []),
    {
      $facet: {
        data: [
          { $sort: SORTS[query.sort] as Record<string, 1 | -1> },
          { $skip: (query.page - 1) * query.limit },
          { $limit: query.limit },
          { $project: { sold: 0 } },
        ],
        total: [{ $count: 'n' }],
      },
    },
  ];
  const [result] = await Event.aggregate<{ data: (EventFields & { availableTickets: number })[]; total: { n: number }[] }>(
    pipeline,
  );
  const data = (result?.data ?? []).map((d) => ({ ...toEventDto(eventView(d)), availableTickets: d.availableTickets }));
  return { data, total: result?.total[0]?.n ?? 0 };
}

function bookingStatusFilter(status: EventBookingsQuery['status'], now: Date): FilterQuery<BookingFields> {
  switch (status) {
    case undefined:
      return {};
    case 'pending':
      return { status: 'pending', expiresAt: { $gt: now } };
    case 'expired':
      return { status: 'pending', expiresAt: { $not: { $gt: now } } };
    default:
      return { status };
  }
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
  return { data: bookings.map((b) => toEventBookingDto(b, byId.get(String(b.userId)), now)), total };
}
