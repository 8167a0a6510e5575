import { type ClientSession, Types } from 'mongoose';
import { type EventFields, type HoldFields, LEDGER_VERSION } from '../events/event.model.js';
import { listedFieldsOf } from '../events/listing-projection.js';
import type { Models } from '../models.js';
import type { BookingFields } from './booking.model.js';
import { ledgerCounts, type Line } from './ledger.js';
import { compareCoupons, type CouponRecount, couponLedgerFrom, recountCoupons } from '../coupons/audit.js';

/**
 * The slow path that the ledger replaces, kept for what must not trust the ledger: the audit
 * (`npm run audit:availability`), the migration of events made before ticket types
 * (`npm run db:migrate`), and the property test that compares both after every step.
 * Work proportional to the event's bookings: never on a request path.
 */

type LedgerModels = Pick<Models, 'Event' | 'Booking'>;
type StoredBooking = Pick<BookingFields, 'status' | 'expiresAt' | 'quantity' | 'items' | 'couponId'>;

/** A booking's lines; a booking made before ticket types was all of the event's first (default) type. */
export function linesOf(booking: Pick<BookingFields, 'quantity' | 'items'>, fallbackTypeId?: Types.ObjectId): Line[] {
  if (booking.items && booking.items.length > 0) {
    return booking.items.map((i) => ({
      typeId: i.ticketTypeId,
      quantity: i.quantity,
      ...(i.seats && i.seats.length > 0 ? { seats: [...i.seats] } : {}),
    }));
  }
  return fallbackTypeId ? [{ typeId: fallbackTypeId, quantity: booking.quantity }] : [];
}

/** The ledger as the bookings say it should be at `now`. */
export interface Recount {
  /** Confirmed tickets per type id. */
  confirmed: Map<string, number>;
  /** Live held tickets per `typeId|expiresAt(ms)`. */
  holds: Map<string, number>;
  /** Redemptions per coupon (coupons/audit.ts). */
  coupons: CouponRecount;
  /** Seated events: each taken seat and its claim (`sold`, or the live hold's expiry in ms); `double` for a seat two bookings take. */
  seats: Map<string, string>;
}

export const holdKey = (typeId: unknown, expiresAt: Date | string) => `${String(typeId)}|${new Date(expiresAt).getTime()}`;

export async function recount(
  models: LedgerModels,
  event: Pick<EventFields, '_id' | 'ticketTypes'>,
  now: Date,
  session?: ClientSession,
): Promise<Recount> {
  const fallback = event.ticketTypes?.[0]?._id;
  const confirmed = new Map<string, number>();
  const holds = new Map<string, number>();
  const bookings = await models.Booking.find(
    { eventId: event._id, status: { $in: ['confirmed', 'pending'] } },
    { status: 1, expiresAt: 1, quantity: 1, items: 1, couponId: 1 },
  )
    .session(session ?? null)
    .lean<StoredBooking[]>();
  const seats = new Map<string, string>();
  const takeSeats = (lines: Line[], claim: string) => {
    for (const id of lines.flatMap((l) => l.seats ?? [])) seats.set(id, seats.has(id) ? 'double' : claim);
  };
  for (const b of bookings) {
    const lines = linesOf(b, fallback);
    if (b.status === 'confirmed') takeSeats(lines, 'sold');
    else if (b.expiresAt && new Date(b.expiresAt).getTime() > now.getTime()) takeSeats(lines, String(new Date(b.expiresAt).getTime()));
    if (b.status === 'confirmed') {
      for (const l of lines) confirmed.set(String(l.typeId), (confirmed.get(String(l.typeId)) ?? 0) + l.quantity);
    } else if (b.expiresAt && new Date(b.expiresAt).getTime() > now.getTime()) {
      for (const l of lines) {
        const key = holdKey(l.typeId, b.expiresAt);
        holds.set(key, (holds.get(key) ?? 0) + l.quantity);
      }
    }
  }
  return { confirmed, holds, coupons: recountCoupons(bookings, now), seats };
}

/** One difference between the ledger and the bookings. */
export interface Difference {
  eventId: string;
  what: string;
  ledger: number;
  bookings: number;
}

/** Compares an event's ledger with a recount; empty when they agree exactly. */
export function compare(
  event: Pick<EventFields, '_id' | 'ticketTypes' | 'holds' | 'couponLedger' | 'seatClaims'>,
  counted: Recount,
  now: Date,
): Difference[] {
  const eventId = String(event._id);
  const diffs: Difference[] = [];
  const note = (what: string, ledger: number, bookings: number) => {
    if (ledger !== bookings) diffs.push({ eventId, what, ledger, bookings });
  };
  const counts = ledgerCounts(event, now);
  const known = new Set((event.ticketTypes ?? []).map((t) => String(t._id)));
  for (const [typeId, own] of counts.byType) {
    note(`type ${typeId} confirmed`, own.confirmedTickets, counted.confirmed.get(typeId) ?? 0);
    let held = 0;
    for (const [key, n] of counted.holds) if (key.startsWith(`${typeId}|`)) held += n;
    note(`type ${typeId} held`, own.heldTickets, held);
  }
  for (const typeId of counted.confirmed.keys()) if (!known.has(typeId)) note(`unknown type ${typeId} confirmed`, 0, counted.confirmed.get(typeId) ?? 0);
  let confirmed = 0;
  for (const n of counted.confirmed.values()) confirmed += n;
  let held = 0;
  for (const n of counted.holds.values()) held += n;
  note('event confirmed', counts.confirmedTickets, confirmed);
  note('event held', counts.heldTickets, held);
  // Each live hold group must match too: confirming or cancelling a booking finds its group by expiry.
  const ledgerGroups = new Map<string, number>();
  for (const h of event.holds ?? []) {
    if (new Date(h.expiresAt).getTime() <= now.getTime()) continue;
    const key = holdKey(h.typeId, h.expiresAt);
    ledgerGroups.set(key, (ledgerGroups.get(key) ?? 0) + h.quantity);
  }
  for (const key of new Set([...ledgerGroups.keys(), ...counted.holds.keys()])) {
    note(`hold group ${key}`, ledgerGroups.get(key) ?? 0, counted.holds.get(key) ?? 0);
  }
  for (const d of compareCoupons(event.couponLedger, counted.coupons, now)) diffs.push({ eventId, ...d });
  // Every live seat claim must be a booking's seat in the same state, and the other way round.
  const claims = new Map<string, string>();
  for (const c of event.seatClaims ?? []) {
    if (c.expiresAt !== null && new Date(c.expiresAt).getTime() <= now.getTime()) continue;
    claims.set(c.seatId, c.expiresAt === null ? 'sold' : String(new Date(c.expiresAt).getTime()));
  }
  for (const seat of new Set([...claims.keys(), ...counted.seats.keys()])) {
    const mine = claims.get(seat);
    const theirs = counted.seats.get(seat);
    if (mine !== theirs) diffs.push({ eventId, what: `seat ${seat}: ledger ${mine ?? 'free'}, bookings ${theirs ?? 'free'}`, ledger: mine ? 1 : 0, bookings: theirs ? 1 : 0 });
  }
  return diffs;
}

/** The ledger fields a recount gives, for an event with these types. */
export function ledgerFromRecount(types: EventFields['ticketTypes'], counted: Recount) {
  const set: Record<string, unknown> & { holds: HoldFields[] } = {
    holds: [...counted.holds].map(([key, quantity]) => {
      const [typeId, at] = key.split('|');
      return { typeId: new Types.ObjectId(typeId), expiresAt: new Date(Number(at)), quantity };
    }),
    couponLedger: couponLedgerFrom(counted.coupons),
    seatClaims: [...counted.seats].map(([seatId, claim]) => ({ seatId, expiresAt: claim === 'sold' || claim === 'double' ? null : new Date(Number(claim)) })),
    ledgerVersion: LEDGER_VERSION,
  };
  types.forEach((t, i) => {
    set[`ticketTypes.${i}.confirmed`] = counted.confirmed.get(String(t._id)) ?? 0;
  });
  return set;
}

/**
 * Gives an event made before ticket types its default type ("General admission", the event's
 * price, the event's whole capacity) and its ledger from a recount. Inside a sales transaction
 * (after the event is claimed) it is exact; returns the event as stored afterwards.
 */
export async function migrateEvent(
  models: LedgerModels,
  event: EventFields,
  now: Date,
  session?: ClientSession,
): Promise<EventFields> {
  let types = event.ticketTypes ?? [];
  if (types.length === 0) {
    const migrated = await models.Event.findOneAndUpdate(
      { _id: event._id, 'ticketTypes.0': { $exists: false } },
      {
        $push: {
          ticketTypes: { name: 'General admission', price: event.price ?? 0, capacity: null, position: 0, confirmed: 0 },
        },
      },
      { new: true, session, timestamps: false },
    ).lean<EventFields>();
    types = migrated?.ticketTypes ?? (await models.Event.findById(event._id).session(session ?? null).lean<EventFields>())?.ticketTypes ?? [];
  }
  const counted = await recount(models, { _id: event._id, ticketTypes: types }, now, session);
  const ledger = ledgerFromRecount(types, counted);
  // The listing's projection of the recounted ledger (events/listing-projection.ts).
  const listed = listedFieldsOf({ totalTickets: event.totalTickets, ticketTypes: types.map((t) => ({ ...t, confirmed: counted.confirmed.get(String(t._id)) ?? 0 })), holds: ledger.holds }, now);
  const updated = await models.Event.findOneAndUpdate(
    { _id: event._id },
    { $set: { ...ledger, ...listed } },
    { new: true, session, timestamps: false },
  ).lean<EventFields>();
  return updated ?? event;
}

/**
 * Recounts an event's ledger from its bookings and stores it (the migration, the audit's `--fix`,
 * and tests that write bookings behind the service's back). Exact only where nothing sells
 * concurrently, or inside a transaction that has claimed the event.
 */
export async function rebuildLedger(
  models: LedgerModels,
  eventId: Types.ObjectId | string,
  now: Date,
  session?: ClientSession,
): Promise<EventFields | null> {
  const event = await models.Event.findById(eventId).session(session ?? null).lean<EventFields>();
  return event && migrateEvent(models, event, now, session);
}

/**
 * The listing's projection against the ledger (events/listing-projection.ts): until `listedUntil`
 * it must equal what the ledger leaves now; after it (a hold ran out, the refresh has not run yet)
 * it may only be lower, never higher: a listing never shows a sold-out event as available.
 */
export function compareListed(
  event: Pick<EventFields, '_id' | 'totalTickets' | 'ticketTypes' | 'holds' | 'listedAvailable' | 'listedUntil'>,
  now: Date,
): Difference[] {
  const eventId = String(event._id);
  const truth = listedFieldsOf(event, now).listedAvailable;
  const listed = event.listedAvailable;
  // Reported as `ledger` (the stored projection) against `bookings` (what the ledger, itself
  // compared with the bookings above, leaves now).
  if (listed === undefined || listed === null) return [{ eventId, what: 'listing availability missing (run npm run db:migrate)', ledger: 0, bookings: truth }];
  const exact = !event.listedUntil || new Date(event.listedUntil).getTime() > now.getTime();
  if (listed > truth || (exact && listed !== truth)) {
    return [{ eventId, what: exact ? 'listing availability' : 'listing availability above the ledger', ledger: listed, bookings: truth }];
  }
  return [];
}

/** Every event's ledger against a recount of its bookings at `now` (`npm run audit:availability`). */
export async function auditAll(models: LedgerModels, now: Date): Promise<{ events: number; differences: Difference[] }> {
  const differences: Difference[] = [];
  let events = 0;
  const cursor = models.Event.find(
    {},
    { ticketTypes: 1, holds: 1, couponLedger: 1, seatClaims: 1, ledgerVersion: 1, totalTickets: 1, listedAvailable: 1, listedUntil: 1 },
  )
    .lean<EventFields[]>()
    .cursor();
  for await (const event of cursor) {
    events++;
    if (event.ledgerVersion !== LEDGER_VERSION) {
      differences.push({ eventId: String(event._id), what: 'not migrated (run npm run db:migrate)', ledger: 0, bookings: 0 });
      continue;
    }
    differences.push(...compare(event, await recount(models, event, now), now), ...compareListed(event, now));
  }
  return { events, differences };
}
