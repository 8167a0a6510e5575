import { type ClientSession, Types } from 'mongoose';
import type { BookingFields } from '../bookings/booking.model.js';
import { linesOf } from '../bookings/ledger-audit.js';
import { resolveOrder } from '../bookings/order.js';
import { keyReused, notOnSale } from '../bookings/problems.js';
import { duplicateOn, exclusiveSalesTransaction, notify, type OpenSales, openSales, saveLedger } from '../bookings/sales.js';
import type { Actor, BookingDeps, IdempotencyStamp } from '../bookings/types.js';
import { assertManageable, assertVisible } from '../events/access.js';
import type { EventFields } from '../events/event.model.js';
import { AppError, notFound } from '../lib/errors.js';
import { openEntryFilter, type WaitlistEntryFields } from './entry.model.js';
import type { WaitlistFigures } from './schemas.js';
import { serveWaitlist } from './serve.js';

/**
 * The waitlist of an event (API.md Waitlist, DESIGN.md 10). Joining and leaving change the queue
 * and the event's waitlist summary, so they run as sales transactions of the event (claimed first,
 * ordered with its sales by the desk); both serve the queue first, so what they decide on is the
 * state a buyer would see. The rules of promotion live in serve.ts.
 */

export type WaitlistDeps = BookingDeps;
type Entry = WaitlistEntryFields & { createdAt?: Date };

export const ticketsAvailable = (availableTickets: number, ticketTypeId: string) =>
  new AppError(409, 'TICKETS_AVAILABLE', 'Tickets are available for this request: book them instead', {
    extra: { availableTickets, ticketTypeId },
  });
export const alreadyOnWaitlist = () => new AppError(409, 'ALREADY_ON_WAITLIST', 'You are already on the waitlist of this event');
const notOnWaitlist = () => new AppError(404, 'NOT_FOUND', 'You are not on the waitlist of this event');

export interface JoinInput {
  quantity: number;
  ticketTypeId?: string;
}

export interface JoinOutcome {
  entry: Entry;
  position: number | null;
  replayed: boolean;
}

const owned = (event: EventFields) => ({ status: event.status, organizerId: String(event.organizerId) });

function judgeEarlier(earlier: Entry, stamp: IdempotencyStamp): Entry {
  if (earlier.requestFingerprint === stamp.fingerprint) return earlier;
  throw keyReused();
}

async function earlierJoin(deps: WaitlistDeps, actor: Actor, stamp: IdempotencyStamp, session?: ClientSession) {
  const found = await deps.models.WaitlistEntry.findOne({ userId: new Types.ObjectId(actor.userId), idempotencyKey: stamp.key })
    .session(session ?? null)
    .lean<Entry>();
  return found ? judgeEarlier(found, stamp) : null;
}

/** 1 = next in line, among the entries still waiting; null when the entry does not wait. */
export async function positionOf(deps: WaitlistDeps, entry: Entry, session?: ClientSession): Promise<number | null> {
  if (entry.status !== 'waiting') return null;
  const ahead = await deps.models.WaitlistEntry.countDocuments({ eventId: entry.eventId, status: 'waiting', seq: { $lt: entry.seq } }).session(
    session ?? null,
  );
  return ahead + 1;
}

type Decided<T> = { value: T; offered: number } | { error: unknown; offered: number };

/**
 * A sales transaction of the event that serves the queue first and then decides `work`. A refusal
 * is returned, not thrown, so the offers made before it still commit; it is thrown after.
 */
async function queueTransaction<T>(
  deps: WaitlistDeps,
  eventId: Types.ObjectId,
  work: (sales: OpenSales, session: ClientSession, now: Date) => Promise<T>,
): Promise<T> {
  const decided = await exclusiveSalesTransaction(deps, eventId, async (session): Promise<Decided<T>> => {
    const now = deps.clock.now();
    const sales = await openSales(deps, eventId, session, now);
    if (!sales) return { error: notFound('Event'), offered: 0 };
    const offered = await serveWaitlist(deps, sales, session, now);
    try {
      const value = await work(sales, session, now);
      await saveLedger(deps, sales, session);
      return { value, offered };
    } catch (error) {
      if (offered > 0) await saveLedger(deps, sales, session);
      return { error, offered };
    }
  });
  if (decided.offered > 0) await notify(deps, eventId);
  if ('error' in decided) throw decided.error;
  return decided.value;
}

async function visibleEvent(deps: WaitlistDeps, actor: Actor, eventId: string): Promise<EventFields> {
  const event = await deps.models.Event.findById(eventId).lean<EventFields>();
  if (!event) throw notFound('Event');
  assertVisible(actor, owned(event));
  return event;
}

/** Joins the queue of a sold-out event or type; honours Idempotency-Key (layer 3 on the entry). */
export async function joinWaitlist(deps: WaitlistDeps, actor: Actor, eventId: string, input: JoinInput, stamp?: IdempotencyStamp): Promise<JoinOutcome> {
  const found = await visibleEvent(deps, actor, eventId);
  try {
    return await queueTransaction(deps, found._id, async ({ event, ledger }, session, now) => {
      if (stamp) {
        const earlier = await earlierJoin(deps, actor, stamp, session);
        if (earlier) return { entry: earlier, position: await positionOf(deps, earlier, session), replayed: true };
      }
      if (event.status !== 'published') throw notOnSale(`it is ${event.status}`);
      if (new Date(event.startsAt).getTime() <= now.getTime()) throw notOnSale('it has already started');
      // The same checks as a booking of these tickets: the type exists here, is on sale, the quantity within its limits.
      const items = input.ticketTypeId ? [{ ticketTypeId: input.ticketTypeId, quantity: input.quantity }] : undefined;
      const [line] = resolveOrder(event, { eventId, quantity: input.quantity, items }, now);
      const userId = new Types.ObjectId(actor.userId);
      if (await deps.models.WaitlistEntry.exists({ eventId: event._id, userId, ...openEntryFilter(now) }).session(session)) {
        throw alreadyOnWaitlist();
      }
      // Only while these tickets cannot be bought (API.md Waitlist: buy instead).
      if (!ledger.shortfall([line])) throw ticketsAvailable(ledger.typeAvailable(line.typeId), String(line.typeId));

      const seq = (event.waitlist?.joined ?? 0) + 1;
      const entry = new deps.models.WaitlistEntry({
        eventId: event._id,
        ticketTypeId: line.typeId,
        userId,
        quantity: line.quantity,
        status: 'waiting',
        seq,
        offer: null,
        idempotencyKey: stamp?.key ?? null,
        requestFingerprint: stamp?.fingerprint ?? null,
        createdAt: now,
        updatedAt: now,
      });
      await entry.save({ session });
      await deps.models.Event.updateOne(
        { _id: event._id },
        { $inc: { 'waitlist.waiting': 1, 'waitlist.joined': 1 } },
        { session, timestamps: false },
      );
      const saved = entry.toObject<Entry>();
      return { entry: saved, position: await positionOf(deps, saved, session), replayed: false };
    });
  } catch (err) {
    // The same key used at once on another event: whichever committed first is the answer.
    if (duplicateOn(err) === null || !stamp) throw err;
    const earlier = await earlierJoin(deps, actor, stamp);
    if (!earlier) throw err;
    return { entry: earlier, position: await positionOf(deps, earlier), replayed: true };
  }
}

/** The caller's entry of the event: the open one, else the latest; 404 when they never joined. */
export async function myEntry(deps: WaitlistDeps, actor: Actor, eventId: string): Promise<{ entry: Entry; position: number | null }> {
  const event = await visibleEvent(deps, actor, eventId);
  const userId = new Types.ObjectId(actor.userId);
  const now = deps.clock.now();
  const entry =
    (await deps.models.WaitlistEntry.findOne({ eventId: event._id, userId, ...openEntryFilter(now) }).lean<Entry>()) ??
    (await deps.models.WaitlistEntry.findOne({ eventId: event._id, userId }).sort({ createdAt: -1, _id: -1 }).lean<Entry>());
  if (!entry) throw notOnWaitlist();
  return { entry, position: await positionOf(deps, entry) };
}

/** Leaves the queue; an open offer is cancelled and its tickets go to the next in line at once. */
export async function leaveWaitlist(deps: WaitlistDeps, actor: Actor, eventId: string): Promise<void> {
  const found = await visibleEvent(deps, actor, eventId);
  const userId = new Types.ObjectId(actor.userId);
  await queueTransaction(deps, found._id, async (sales, session, now) => {
    const entry = await deps.models.WaitlistEntry.findOne({ eventId: found._id, userId, ...openEntryFilter(now) })
      .session(session)
      .lean<Entry>();
    if (!entry) throw notOnWaitlist();
    await deps.models.WaitlistEntry.updateOne(
      { _id: entry._id },
      { $set: { status: 'left', closedAt: now, updatedAt: now } },
      { session, timestamps: false },
    );
    if (entry.status === 'waiting') {
      await deps.models.Event.updateOne({ _id: found._id }, { $inc: { 'waitlist.waiting': -1 } }, { session, timestamps: false });
      sales.event.waitlist = { waiting: (sales.event.waitlist?.waiting ?? 1) - 1, joined: sales.event.waitlist?.joined ?? 0 };
      return;
    }
    // An open offer: its booking lets go, and the tickets go down the queue in this transaction.
    const offer = entry.offer as NonNullable<Entry['offer']>;
    const released = await deps.models.Booking.findOneAndUpdate(
      { _id: offer.bookingId, status: 'pending', expiresAt: { $gt: now } },
      { $set: { status: 'cancelled', cancelledAt: now, updatedAt: now } },
      { session, new: false, timestamps: false },
    ).lean<BookingFields>();
    if (released) sales.ledger.releaseHold(linesOf(released), released.expiresAt as Date);
    await serveWaitlist(deps, sales, session, now);
  });
  await notify(deps, found._id);
}

/** The queue in order (every entry, whatever its status), for the event's organizer and admins. */
export async function listWaitlist(
  deps: WaitlistDeps,
  actor: Actor,
  eventId: string,
  page: number,
  limit: number,
): Promise<{ items: { entry: Entry; position: number | null }[]; total: number }> {
  const event = await visibleEvent(deps, actor, eventId);
  assertManageable(actor, owned(event));
  const filter = { eventId: event._id };
  const [entries, total] = await Promise.all([
    deps.models.WaitlistEntry.find(filter)
      .sort({ seq: 1 })
      .skip((page - 1) * limit)
      .limit(limit)
      .lean<Entry[]>(),
    deps.models.WaitlistEntry.countDocuments(filter),
  ]);
  // Positions of the waiting entries on this page: those waiting before it, then counting on.
  const first = entries.find((e) => e.status === 'waiting');
  let next = first ? ((await positionOf(deps, first)) ?? 1) : 1;
  const items = entries.map((entry) => ({ entry, position: entry.status === 'waiting' ? next++ : null }));
  return { items, total };
}

/** The organizer's waitlist figures of the availability answer (two counts by index). */
export async function waitlistFigures(
  models: Pick<WaitlistDeps['models'], 'WaitlistEntry'>,
  eventId: Types.ObjectId | string,
  now: Date,
): Promise<WaitlistFigures> {
  const id = new Types.ObjectId(String(eventId));
  const [waiting, offered] = await Promise.all([
    models.WaitlistEntry.countDocuments({ eventId: id, status: 'waiting' }),
    models.WaitlistEntry.countDocuments({ eventId: id, status: 'offered', 'offer.expiresAt': { $gt: now } }),
  ]);
  return { waiting, offered };
}
