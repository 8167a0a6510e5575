import { performance } from 'node:perf_hooks';
import { MongoServerError } from 'mongodb';
import { type ClientSession, Types } from 'mongoose';
import { notFound } from '../lib/errors.js';
import { type EventFields, LEDGER_VERSION } from '../events/event.model.js';
import { bookingMessage } from '../outbox/booking-messages.js';
import type { BookingFields } from './booking.model.js';
import { CouponLedger } from '../coupons/ledger.js';
import { Redemptions } from '../coupons/redeem.js';
import { SalesLedger } from './ledger.js';
import { migrateEvent } from './ledger-audit.js';
import { priceOrder } from './order.js';
import { loadSeatPlan, type SeatPlan } from '../seats/plan.js';
import { resolveSeatedOrder, seatsForLines } from '../seats/order.js';
import { keyReused, notOnSale, soldOut } from './problems.js';
import type { BatchItem } from '../lib/desk.js';
import { issueTicketsFor } from './tickets.js';
import { newBookingRecord } from './new-booking.js';
import { runTransaction, tooBusy, type TurnTaking } from '../lib/transaction.js';
import { serveWaitlist } from '../waitlist/serve.js';
import type { BookingDeps, BookingOutcome, CreateJob, IdempotencyStamp } from './types.js';

/** How often a write that lost on a unique index is re-run (ticket-number collision, same-key race). */
const UNIQUE_RETRIES = 3;

type DuplicateOn = 'idempotencyKey' | 'confirmIdempotencyKey' | 'tickets' | null;
export function duplicateOn(err: unknown): DuplicateOn {
  if (!(err instanceof MongoServerError) || err.code !== 11000) return null;
  const fields = Object.keys((err.keyPattern as Record<string, unknown> | undefined) ?? {});
  if (fields.includes('idempotencyKey')) return 'idempotencyKey';
  if (fields.includes('confirmIdempotencyKey')) return 'confirmIdempotencyKey';
  if (fields.includes('tickets.number')) return 'tickets';
  return null;
}

/** What claiming and writing the ledger need (the hold sweeper, src/outbox/sweeper.ts, uses them too). */
// Event and Booking only: the coupon ledger is on the event; coupons themselves are read by decideCreates.
export type SalesModels = { models: Pick<BookingDeps['models'], 'Event' | 'Booking' | 'Venue'> };

/** The first write of every sales transaction: the point all competing transactions conflict on (DESIGN.md 1). */
export function claimEvent(deps: SalesModels, eventId: Types.ObjectId, session: ClientSession) {
  return deps.models.Event.findOneAndUpdate(
    { _id: eventId },
    { $inc: { salesVersion: 1 } },
    // A sale is not an edit of the event: its updatedAt stays as it is.
    { new: true, session, timestamps: false },
  ).lean<EventFields>();
}

/** The event as claimed by this transaction, and its ledger (ledger.ts) to decide on and change. */
export interface OpenSales {
  event: EventFields;
  ledger: SalesLedger;
  /** The coupons' redemptions, on the same document and snapshot (coupons/ledger.ts). */
  coupons: CouponLedger;
  /** A seated event's seats (src/seats); null for general admission. Their claims are in `ledger`. */
  plan: SeatPlan | null;
}

/**
 * The start of every sales transaction: claim the event (the one conflict point), then open its
 * ledger in the same snapshot. An event made before ticket types is migrated here first
 * (ledger-audit.ts), exactly, since the claim orders it against every other sale. Null: no event.
 */
export async function openSales(
  deps: SalesModels,
  eventId: Types.ObjectId,
  session: ClientSession,
  now: Date,
): Promise<OpenSales | null> {
  const claimed = await claimEvent(deps, eventId, session);
  if (!claimed) return null;
  const event = claimed.ledgerVersion === LEDGER_VERSION ? claimed : await migrateEvent(deps.models, claimed, now, session);
  return {
    event,
    ledger: new SalesLedger(event, now),
    coupons: new CouponLedger(event.couponLedger, now),
    plan: await loadSeatPlan(deps.models, event),
  };
}

/** Writes what the transaction changed in the ledger (its last write to the event, before commit). */
export async function saveLedger(deps: SalesModels, sales: OpenSales, session: ClientSession): Promise<void> {
  if (!sales.ledger.changed && !sales.coupons.changed) return;
  const update = sales.ledger.update();
  if (sales.coupons.changed) update.$set = { ...update.$set, couponLedger: sales.coupons.stored() };
  await deps.models.Event.updateOne({ _id: sales.event._id }, update, { session, timestamps: false });
}

export async function notify(deps: BookingDeps, eventId: Types.ObjectId | string): Promise<void> {
  try {
    await deps.salesChanged(String(eventId));
  } catch {
    // A stale read cache heals itself within EVENT_CACHE_TTL_SECONDS; never fail a committed sale for it.
  }
}

/**
 * What an earlier use of this key means for the request: the same request again -> its booking
 * (a replay); the key used for anything else (another body or path, or the other endpoint) -> 422.
 */
function judgeEarlierUse(earlier: BookingFields, stamp: IdempotencyStamp, use: 'create' | 'confirm'): BookingFields {
  const sameUse = use === 'create' ? earlier.idempotencyKey === stamp.key : earlier.confirmIdempotencyKey === stamp.key;
  const fingerprint = use === 'create' ? earlier.requestFingerprint : earlier.confirmFingerprint;
  if (sameUse && fingerprint === stamp.fingerprint) return earlier;
  throw keyReused();
}

/**
 * The bookings of these users made or confirmed with one of these keys (a superset of the exact
 * (user, key) pairs when several users are asked at once; callers match pairs). The users' equality
 * is outside the `$or` so every planner (the emulator's too) narrows by the userId index first:
 * the cost follows the buyers' own bookings, never the event's or the collection's (DESIGN.md 12).
 */
const keyFilter = (userIds: string[], keys: string[]) => ({
  userId: userIds.length === 1 ? new Types.ObjectId(userIds[0]) : { $in: [...new Set(userIds)].map((id) => new Types.ObjectId(id)) },
  $or: [{ idempotencyKey: keys.length === 1 ? keys[0] : { $in: keys } }, { confirmIdempotencyKey: keys.length === 1 ? keys[0] : { $in: keys } }],
});

/** Layer 3 for one request: the booking this key already made (replay), 422 if used otherwise, else null. */
export async function earlierUseOfKey(
  deps: BookingDeps,
  userId: string,
  stamp: IdempotencyStamp,
  use: 'create' | 'confirm',
  session?: ClientSession,
): Promise<BookingFields | null> {
  const uses = await deps.models.Booking.find(keyFilter([userId], [stamp.key]))
    .session(session ?? null)
    .lean<BookingFields[]>();
  const earlier = uses.find((b) => b.idempotencyKey === stamp.key) ?? uses[0];
  return earlier ? judgeEarlierUse(earlier, stamp, use) : null;
}

/** Earlier uses of the batch's keys, by user and key, in one query. */
async function earlierUses(deps: BookingDeps, jobs: CreateJob[], session: ClientSession) {
  const byKey = new Map<string, BookingFields>();
  const stamped = jobs.filter((j) => j.stamp);
  if (stamped.length === 0) return byKey;
  const found = await deps.models.Booking.find(
    keyFilter(
      stamped.map((j) => j.actor.userId),
      stamped.map((j) => (j.stamp as IdempotencyStamp).key),
    ),
  )
    .session(session)
    .lean<BookingFields[]>();
  // A creation with the key wins over a confirmation with it (a 422 either way unless it is a replay).
  for (const b of found) if (b.confirmIdempotencyKey) byKey.set(`${b.userId}\n${b.confirmIdempotencyKey}`, b);
  for (const b of found) if (b.idempotencyKey) byKey.set(`${b.userId}\n${b.idempotencyKey}`, b);
  return byKey;
}

type Decision = { outcome: BookingOutcome } | { error: unknown };
type Item = BatchItem<CreateJob, BookingOutcome>;

/**
 * Decides the waiting purchases of one event in one transaction: first the event write, then the
 * keys and the count inside the same snapshot, then each purchase in arrival order exactly as if
 * they had come one after the other, then one insert for the bookings made.
 */
async function decideCreates(deps: BookingDeps, eventId: Types.ObjectId, items: Item[], session: ClientSession) {
  const now = deps.clock.now();
  const sales = await openSales(deps, eventId, session, now);
  // The waitlist first (DESIGN.md 10): tickets freed since the last sale (an expired hold) are
  // offered to the queue before any buyer of this batch can take them. Free when nobody waits.
  const offered = sales ? await serveWaitlist(deps, sales, session, now) : 0;
  const uses = await earlierUses(
    deps,
    items.map((i) => i.input),
    session,
  );
  const redemptions = sales && new Redemptions(deps.models, eventId, session, now, sales.coupons);
  const madeHere = new Map<string, BookingFields>();
  const decisions = new Map<Item, Decision>();
  const made: BookingFields[] = [];

  for (const item of items) {
    const { actor, input, stamp } = item.input;
    const key = stamp ? `${actor.userId}\n${stamp.key}` : null;
    try {
      if (performance.now() > item.deadline) throw tooBusy();
      const earlier = key ? (madeHere.get(key) ?? uses.get(key)) : undefined;
      if (earlier && stamp) {
        decisions.set(item, { outcome: { booking: judgeEarlierUse(earlier, stamp, 'create'), replayed: true } });
        continue;
      }
      if (!sales) throw notFound('Event');
      const { event, ledger } = sales;
      if (event.status !== 'published') throw notOnSale(`it is ${event.status}`);
      if (event.startsAt.getTime() <= now.getTime()) throw notOnSale('it has already started');
      // Coupons (Redemptions, priceOrder), seats and the waitlist's reserved tickets (ledger) decide
      // here too, on this same snapshot: no second conflict point.
      const lines = resolveSeatedOrder(event, sales.plan, ledger, input, now);
      const coupon = input.couponCode && redemptions ? await redemptions.check(input.couponCode, actor.userId, lines) : null;
      const order = priceOrder(lines, coupon);
      // All lines or none, against the per-type and the event's figures of this one snapshot.
      const short = ledger.shortfall(order.lines);
      if (short) {
        const named = order.lines.find((l) => l.typeId.equals(short.typeId));
        throw soldOut(short.available, String(short.typeId), input.items ? named?.name : undefined);
      }
      // Seated: the lines without named seats get the best available ones of their type.
      const seated = seatsForLines(sales.plan, ledger, order.lines);
      if (!seated) throw soldOut(0, String(order.lines[0].typeId));
      order.lines = seated;

      const free = order.totalPrice === 0;
      const expiresAt = free ? null : new Date(now.getTime() + deps.holdTtlMs);
      if (expiresAt) ledger.hold(order.lines, expiresAt);
      else ledger.sell(order.lines);
      if (coupon) redemptions?.take(coupon, actor.userId, expiresAt);
      const booking = newBookingRecord({
        eventId,
        userId: new Types.ObjectId(actor.userId),
        quantity: order.quantity,
        items: order.lines.map((l) => ({ ticketTypeId: l.typeId, name: l.name, quantity: l.quantity, unitPrice: l.unitPrice, seats: l.seats })),
        status: free ? 'confirmed' : 'pending',
        unitPrice: order.lines[0].unitPrice,
        subtotal: order.subtotal,
        discount: order.discount,
        totalPrice: order.totalPrice,
        couponCode: coupon?.code ?? null,
        couponId: coupon?._id ?? null,
        currency: event.currency,
        expiresAt,
        tickets: free ? await issueTicketsFor(deps, eventId, order.lines) : [],
        confirmedAt: free ? now : null,
        idempotencyKey: stamp?.key ?? null,
        requestFingerprint: stamp?.fingerprint ?? null,
        // The app clock (tests move it), not Mongoose's wall clock.
        at: now,
      });
      made.push(booking);
      if (key) madeHere.set(key, booking);
      decisions.set(item, { outcome: { booking, replayed: false } });
    } catch (error) {
      decisions.set(item, { error });
    }
  }
  if (made.length > 0 && sales) {
    // Lean: the records are complete as built (new-booking.ts); Mongoose would cast and validate
    // each one again and rebuild it after the insert.
    await deps.models.Booking.insertMany(made, { session, ordered: true, lean: true });
    // Announced in the same transaction (DESIGN.md 9), so they commit with the sale; a free booking
    // is created confirmed (with its tickets): both messages.
    await deps.outbox.enqueue(
      session,
      made.flatMap((b) => [bookingMessage('booking.created', b), ...(b.status === 'confirmed' ? [bookingMessage('booking.confirmed', b)] : [])]),
    );
  }
  // The ledger is saved also when only waitlist offers were made (they move seats to held).
  if ((made.length > 0 || offered > 0) && sales) {
    await saveLedger(deps, sales, session);
  }
  return { decisions, inserted: made.length, offered };
}

/** Runs one batch of purchases of an event (the sales desk calls this); settles every item. */
export async function processCreates(deps: BookingDeps, eventId: string, items: Item[], round = 1): Promise<void> {
  const deadline = Math.max(...items.map((i) => i.deadline));
  let result: Awaited<ReturnType<typeof decideCreates>>;
  try {
    result = await runTransaction(deps.db, (session) => decideCreates(deps, new Types.ObjectId(eventId), items, session), {
      deadline,
      commitIf: (r) => r.inserted > 0 || r.offered > 0,
      turns: turnsAt(deps, eventId, deadline),
    });
  } catch (err) {
    const dup = duplicateOn(err);
    if (dup !== null && items.length > 1) {
      // One purchase collided on a unique index: decide them one by one so only that one is affected.
      for (const item of items) await processCreates(deps, eventId, [item]);
      return;
    }
    const [item] = items;
    if (dup === 'idempotencyKey' && item.input.stamp) {
      // A same-key request from elsewhere committed first: answer as the layer-3 check would.
      try {
        const earlier = await earlierUseOfKey(deps, item.input.actor.userId, item.input.stamp, 'create');
        if (earlier) return item.resolve({ booking: earlier, replayed: true });
      } catch (judged) {
        return item.reject(judged);
      }
    }
    if (dup !== null && round < UNIQUE_RETRIES) return processCreates(deps, eventId, items, round + 1);
    for (const i of items) i.reject(err);
    return;
  }
  // Invalidate before answering, so a buyer who reads availability right after the 201 sees it.
  if (result.inserted > 0 || result.offered > 0) await notify(deps, eventId);
  for (const [item, decision] of result.decisions) {
    if ('outcome' in decision) item.resolve(decision.outcome);
    else item.reject(decision.error);
  }
}

/** Runs a transaction that must not overlap with the event's other sales in this process. */
export async function exclusiveSalesTransaction<T>(
  deps: BookingDeps,
  eventId: Types.ObjectId,
  work: (session: ClientSession) => Promise<T>,
): Promise<T> {
  const deadline = performance.now() + deps.txTimeoutMs;
  const turns = turnsAt(deps, String(eventId), deadline);
  return deps.desk.exclusive(String(eventId), deadline, () => runTransaction(deps.db, work, { deadline, turns }));
}

/** The event's turns with other instances for one transaction (sales-turns.ts). */
function turnsAt(deps: BookingDeps, eventId: string, deadline: number): TurnTaking | undefined {
  const { turns } = deps;
  if (!turns) return undefined;
  return {
    before: () => turns.awaitTurn(eventId, deadline),
    lost: () => turns.requestTurn(eventId),
    done: () => turns.release(eventId),
  };
}

