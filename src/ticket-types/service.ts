import { performance } from 'node:perf_hooks';
import { type ClientSession, Types } from 'mongoose';
import { eventCounts } from '../bookings/availability.js';
import { ledgerCounts } from '../bookings/ledger.js';
import { canManage, assertManageable, assertVisible, type Actor, type EventDeps } from '../events/access.js';
import { invalidateEventCache } from '../events/cache.js';
import type { EventFields, TicketTypeFields } from '../events/event.model.js';
import { etagOf, eventView, NO_COUNTS, toTicketTypeDto } from '../events/presenter.js';
import { claimSales, type IfMatch } from '../events/service.js';
import { AppError, notFound } from '../lib/errors.js';
import { runTransaction } from '../lib/transaction.js';
import { serveAfterChange, servingOf } from '../waitlist/serve.js';
import { seatsIn } from '../seats/plan.js';
import { checkSections, claimedSeatsIn, venueFor } from '../seats/seating.js';
import { type CreateTicketTypeInput, MAX_TICKET_TYPES, type TicketTypeDto, type UpdateTicketTypeInput } from './schemas.js';
import { listedFieldsOf } from '../events/listing-projection.js';

/**
 * Ticket types live inside their event's document (event.model.ts): every change is a change of
 * the event (its revision, so its ETag, moves) made in a transaction that claims the event first,
 * like a sale (DESIGN.md 1, 7). A capacity check therefore sees every sale that committed before
 * it, and no sale can slip in between the check and the change.
 */

export interface TicketTypeAnswer {
  ticketType: TicketTypeDto;
  /** The event's new ETag: the event's validator covers its types. */
  etag: string;
}

const precondition = () =>
  new AppError(412, 'PRECONDITION_FAILED', 'The event changed since you read it; fetch it again and retry with the new ETag');

const transaction = <T>(deps: EventDeps, work: (session: ClientSession) => Promise<T>) =>
  runTransaction(deps.db, work, { deadline: performance.now() + deps.config.BOOKING_TX_TIMEOUT_MS });

/** The price a listing sorts by: the lowest price of the types on offer (all of them if every one is hidden). */
function storedPrice(types: Pick<TicketTypeFields, 'price' | 'hidden'>[], fallback: number): number {
  const offered = types.filter((t) => !t.hidden);
  const pool = offered.length > 0 ? offered : types;
  return pool.length > 0 ? Math.min(...pool.map((t) => t.price)) : fallback;
}

async function dto(deps: EventDeps, event: EventFields, typeId: string): Promise<TicketTypeAnswer> {
  const view = eventView(event);
  const type = view.types.find((t) => t.id === typeId);
  if (!type) throw notFound('Ticket type');
  const now = deps.clock.now();
  const counts = (await eventCounts(deps.models.Booking, [event], now)).get(view.id) ?? NO_COUNTS;
  return { ticketType: toTicketTypeDto(view, type, counts, now), etag: etagOf(view) };
}

/** The event's types for a reader: hidden ones only for its organizer and admins. */
export async function listTicketTypes(deps: EventDeps, eventId: string, actor: Actor | undefined): Promise<TicketTypeDto[]> {
  const event = await deps.models.Event.findById(eventId).lean<EventFields>();
  if (!event) throw notFound('Event');
  const view = eventView(event);
  assertVisible(actor, view);
  const now = deps.clock.now();
  const counts = (await eventCounts(deps.models.Booking, [event], now)).get(view.id) ?? NO_COUNTS;
  const all = canManage(actor, view);
  return view.types.filter((t) => all || !t.hidden).map((t) => toTicketTypeDto(view, t, counts, now));
}

/**
 * Claims the manageable event for a change of its types: 404/403 as for the event, 412 when
 * If-Match names another revision, 409 once cancelled. Runs `change` in the same transaction.
 */
async function changeTypes(
  deps: EventDeps,
  eventId: string,
  actor: Actor | undefined,
  ifMatch: IfMatch,
  change: (event: EventFields, session: ClientSession) => Promise<{ set?: Record<string, unknown>; pull?: Types.ObjectId; push?: Record<string, unknown> }>,
): Promise<EventFields> {
  const current = await deps.models.Event.findById(eventId).lean<EventFields>();
  if (!current) throw notFound('Event');
  assertManageable(actor, eventView(current));
  if (Array.isArray(ifMatch) && !ifMatch.includes(current.revision ?? 0)) throw precondition();

  const updated = await transaction(deps, async (session) => {
    const revision = Array.isArray(ifMatch) ? { revision: { $in: ifMatch } } : {};
    const event = await claimSales(deps, { _id: current._id, ...revision }, session);
    if (!event) {
      throw (await deps.models.Event.exists({ _id: current._id }).session(session)) ? precondition() : notFound('Event');
    }
    if (event.status === 'cancelled') throw new AppError(409, 'INVALID_STATE', 'A cancelled event cannot be changed');
    const { set = {}, pull, push } = await change(event, session);
    // The price a listing sorts by follows the types (the read shows the lowest on-sale one).
    let types = event.ticketTypes.map((t, i) => ({
      ...t,
      price: (set[`ticketTypes.${i}.price`] as number | undefined) ?? t.price,
      hidden: (set[`ticketTypes.${i}.hidden`] as boolean | undefined) ?? t.hidden,
    }));
    if (pull) types = types.filter((t) => !t._id.equals(pull));
    if (push) types.push(push as unknown as (typeof types)[number]);
    const update: Record<string, unknown> = {
      // The listing's projection follows the types' ledger (a type removed or added) and a seated
      // event's new totalTickets.
      $set: {
        ...set,
        price: storedPrice(types, event.price),
        ...listedFieldsOf({ ...event, ticketTypes: types, totalTickets: (set.totalTickets as number | undefined) ?? event.totalTickets }, deps.clock.now()),
      },
      $inc: { revision: 1 },
    };
    if (pull) update.$pull = { ticketTypes: { _id: pull } };
    if (push) update.$push = { ticketTypes: push };
    const saved = await deps.models.Event.findOneAndUpdate({ _id: event._id }, update, { session, new: true, runValidators: true }).lean<EventFields>();
    // A raised capacity or a type back on sale frees tickets: the waitlist gets them here (DESIGN.md 10).
    return saved && serveAfterChange(servingOf(deps), saved, session, deps.clock.now());
  });
  if (!updated) throw notFound('Event');
  await invalidateEventCache(deps.kv, updated._id, deps.log);
  return updated;
}

function findType(event: EventFields, typeId: string): { type: TicketTypeFields; index: number } {
  const index = event.ticketTypes.findIndex((t) => String(t._id) === typeId);
  if (index < 0) throw notFound('Ticket type');
  return { type: event.ticketTypes[index], index };
}

const invalid = (path: string, message: string) =>
  new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', { errors: [{ path, message }] });

/**
 * A type's seats on a seated event (src/seats/seating.ts): its sections checked against the venue
 * and the other types, its capacity their number of seats, and the event's new totalTickets. On an
 * unseated event: the capacity asked for (required), and no sections.
 */
async function seatedType(
  deps: EventDeps,
  event: EventFields,
  type: TicketTypeFields | null,
  input: { capacity?: number; sectionIds?: string[] },
): Promise<{ capacity: number; set: Record<string, unknown> }> {
  if (!event.venueId) {
    if (input.sectionIds !== undefined) throw invalid('sectionIds', 'this event has no reserved seating (no venueId)');
    if (input.capacity === undefined) throw invalid('capacity', 'required');
    return { capacity: input.capacity, set: {} };
  }
  if (input.capacity !== undefined) throw invalid('capacity', 'a seated ticket type has the seats of its sections: send sectionIds instead');
  const sectionIds = input.sectionIds ?? type?.sectionIds ?? [];
  const venue = await venueFor(deps.models, event.venueId);
  checkSections(venue, event.ticketTypes, type?._id ?? null, sectionIds);
  if (type) {
    // Decided on the claimed snapshot: a section may go only while none of its seats is sold or held.
    const dropped = (type.sectionIds ?? []).filter((id) => !sectionIds.includes(id));
    const taken = claimedSeatsIn(venue, event, dropped, deps.clock.now());
    if (taken.length > 0) {
      throw new AppError(409, 'CAPACITY_BELOW_SOLD', `Seats of the sections left out are sold or held: ${taken.slice(0, 20).join(', ')}`, {
        extra: { seats: taken },
      });
    }
  }
  const others = event.ticketTypes.filter((t) => !type || !t._id.equals(type._id));
  return {
    capacity: seatsIn(venue, sectionIds),
    set: { totalTickets: seatsIn(venue, [...others.flatMap((t) => t.sectionIds ?? []), ...sectionIds]) },
  };
}

function windowError(path: 'salesStartAt' | 'salesEndAt') {
  return new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', {
    errors: [{ path, message: 'salesEndAt must be after salesStartAt' }],
  });
}

export async function createTicketType(
  deps: EventDeps,
  eventId: string,
  actor: Actor | undefined,
  input: CreateTicketTypeInput,
  ifMatch: IfMatch,
): Promise<TicketTypeAnswer> {
  const id = new Types.ObjectId();
  const updated = await changeTypes(deps, eventId, actor, ifMatch, async (event) => {
    if (event.ticketTypes.length >= MAX_TICKET_TYPES) {
      throw new AppError(409, 'INVALID_STATE', `An event may have at most ${MAX_TICKET_TYPES} ticket types`);
    }
    const last = Math.max(-1, ...event.ticketTypes.map((t) => t.position ?? 0));
    const seating = await seatedType(deps, event, null, input);
    return {
      set: seating.set,
      push: {
        _id: id,
        name: input.name,
        description: input.description ?? '',
        price: input.price,
        capacity: seating.capacity,
        sectionIds: input.sectionIds ?? [],
        maxPerBooking: input.maxPerBooking ?? null,
        salesStartAt: input.salesStartAt ?? null,
        salesEndAt: input.salesEndAt ?? null,
        hidden: input.hidden ?? false,
        position: input.position ?? last + 1,
        confirmed: 0,
      },
    };
  });
  return dto(deps, updated, String(id));
}

export async function updateTicketType(
  deps: EventDeps,
  eventId: string,
  typeId: string,
  actor: Actor | undefined,
  input: UpdateTicketTypeInput,
  ifMatch: IfMatch,
): Promise<TicketTypeAnswer> {
  const updated = await changeTypes(deps, eventId, actor, ifMatch, async (event) => {
    const { type, index } = findType(event, typeId);
    const start = input.salesStartAt !== undefined ? input.salesStartAt : type.salesStartAt;
    const end = input.salesEndAt !== undefined ? input.salesEndAt : type.salesEndAt;
    if (start && end && new Date(end) <= new Date(start)) throw windowError(input.salesEndAt !== undefined ? 'salesEndAt' : 'salesStartAt');
    if (input.capacity !== undefined) {
      // Decided on the claimed snapshot: no sale of this event can commit between this check and the change.
      const own = ledgerCounts(event, deps.clock.now()).byType.get(typeId) ?? { confirmedTickets: 0, heldTickets: 0 };
      const taken = own.confirmedTickets + own.heldTickets;
      if (input.capacity < taken) {
        throw new AppError(409, 'CAPACITY_BELOW_SOLD', `capacity cannot go below the ${taken} tickets of this type sold or held`, {
          extra: { confirmedTickets: own.confirmedTickets, heldTickets: own.heldTickets, minimumCapacity: taken },
        });
      }
    }
    const set: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(input)) {
      if (value !== undefined) set[`ticketTypes.${index}.${field}`] = value;
    }
    if (event.venueId && (input.sectionIds !== undefined || input.capacity !== undefined)) {
      const seating = await seatedType(deps, event, type, input);
      Object.assign(set, seating.set, { [`ticketTypes.${index}.capacity`]: seating.capacity });
    } else if (input.sectionIds !== undefined) {
      throw invalid('sectionIds', 'this event has no reserved seating (no venueId)');
    }
    return { set };
  });
  return dto(deps, updated, typeId);
}

/** Deletes a type nothing was ever sold or held of (hide it otherwise: its bookings name it). */
export async function deleteTicketType(
  deps: EventDeps,
  eventId: string,
  typeId: string,
  actor: Actor | undefined,
  ifMatch: IfMatch,
): Promise<string> {
  const updated = await changeTypes(deps, eventId, actor, ifMatch, async (event, session) => {
    const { type } = findType(event, typeId);
    const own = ledgerCounts(event, deps.clock.now()).byType.get(typeId) ?? { confirmedTickets: 0, heldTickets: 0 };
    // Any booking that ever named it, whatever its status now (an indexed lookup, not a count).
    const named = await deps.models.Booking.exists({ eventId: event._id, 'items.ticketTypeId': type._id }).session(session);
    if (own.confirmedTickets + own.heldTickets > 0 || named) {
      throw new AppError(409, 'TICKET_TYPE_HAS_BOOKINGS', 'Tickets of this type were sold or held; hide it instead', {
        extra: { confirmedTickets: own.confirmedTickets, heldTickets: own.heldTickets },
      });
    }
    // A seated event offers fewer seats without this type's sections.
    const rest = event.ticketTypes.filter((t) => !t._id.equals(type._id));
    const set = event.venueId ? { totalTickets: seatsIn(await venueFor(deps.models, event.venueId), rest.flatMap((t) => t.sectionIds ?? [])) } : {};
    return { pull: type._id, set };
  });
  return etagOf(eventView(updated));
}
