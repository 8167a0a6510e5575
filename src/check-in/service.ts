import { performance } from 'node:perf_hooks';
import { type ClientSession, type Connection, Types } from 'mongoose';
import type { BookingFields } from '../bookings/booking.model.js';
import type { Actor } from '../events/access.js';
import type { Clock } from '../lib/clock.js';
import { AppError } from '../lib/errors.js';
import { BatchedReads, readerFor } from '../lib/batched-reads.js';
import { type BatchItem, Desk } from '../lib/desk.js';
import { runTransaction, tooBusy } from '../lib/transaction.js';
import type { Outbox } from '../outbox/outbox.js';
import { checkedInMessage } from '../outbox/ticket-messages.js';
import { type TicketClaims, verifyTicketCode } from '../tickets/codes.js';
import type { TicketKeys } from '../tickets/keys.js';
import { type TicketView, toTicketView } from '../tickets/schemas.js';
import { findTicket } from '../tickets/service.js';
import type { TicketFields } from '../tickets/ticket.schema.js';
import { assertDoorAccess, type CheckInModels } from './access.js';
import { alreadyCheckedIn, invalidTicketCode, ticketVoid, wrongEvent } from './problems.js';

/** A check-in that was recorded: what the outbox message `ticket.checked_in` will carry. */
export interface CheckedIn {
  eventId: string;
  bookingId: string;
  ticketId: string;
  checkedInAt: Date;
  checkedInBy: string;
}

export interface CheckInDeps {
  models: CheckInModels;
  keys: TicketKeys;
  clock: Clock;
  db: Connection;
  /** `ticket.checked_in` is written in the transaction of the conditional write (DESIGN.md 9). */
  outbox: Outbox;
  /** BOOKING_TX_TIMEOUT_MS: the check-in transaction, retries included, ends by then. */
  txTimeoutMs: number;
  /** Check-ins of one booking's tickets: one transaction at a time, those waiting together in one. */
  desk: Desk<ScanJob, Recorded | null>;
}

/** One scan waiting for its booking's next check-in transaction. */
export interface ScanJob {
  claims: TicketClaims;
  at: Date;
  /** Offline batches: an earlier scan time replaces a later recorded one. */
  earlierWins: boolean;
  eventId: string;
  by: string;
}

export type CheckInSettings = Omit<CheckInDeps, 'desk'>;

export function createCheckInDeps(settings: CheckInSettings): CheckInDeps {
  const deps: CheckInDeps = {
    ...settings,
    desk: new Desk<ScanJob, Recorded | null>({
      processBatch: (_booking, items) => recordScans(deps, items),
      timeoutError: () => tooBusy(),
    }),
  };
  return deps;
}

export interface Scan {
  code: string;
  scannedAt?: Date;
}

export interface CheckInAnswer {
  ticket: TicketView;
  checkedInAt: Date;
}

/** A scanner's clock may run a little ahead of ours; a scan further in the future is refused. */
export const SCAN_CLOCK_SKEW_MS = 5 * 60_000;

function assertScanTime(scannedAt: Date | undefined, now: Date, path: string): void {
  if (scannedAt && scannedAt.getTime() > now.getTime() + SCAN_CLOCK_SKEW_MS) {
    throw new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', {
      errors: [{ path, message: 'must not be in the future' }],
    });
  }
}

/** The claims of a code for this event: 422 INVALID_TICKET_CODE or WRONG_EVENT otherwise. */
async function claimsFor(keys: TicketKeys, code: string, eventId: string): Promise<TicketClaims> {
  const claims = await verifyTicketCode(keys, code);
  if (!claims) throw invalidTicketCode();
  if (claims.eventId !== eventId) throw wrongEvent();
  return claims;
}

export type Recorded = Pick<BookingFields, '_id' | 'status'> & { tickets: TicketFields[] };

/**
 * THE conditional write: marks the ticket checked in at `at` if, at this instant, its booking is
 * confirmed (so the ticket is not void) and the ticket is unchecked (or, with `earlierWins`, was
 * checked in later than `at`). One document, one atomic update: of any number of concurrent online
 * scans exactly one matches, and a recorded time can only move earlier. Returns the booking with
 * just that ticket as written, and whether the ticket was unchecked before; null when nothing matched.
 */
async function recordCheckIn(
  deps: CheckInDeps,
  claims: TicketClaims,
  at: Date,
  earlierWins: boolean,
  session: ClientSession,
): Promise<{ recorded: Recorded; newly: boolean } | null> {
  const ticketId = new Types.ObjectId(claims.ticketId);
  const unchecked = earlierWins
    ? { $or: [{ checkedInAt: null }, { checkedInAt: { $gt: at } }] }
    : { checkedInAt: null };
  // Through the driver: every value is already of its stored type, and Mongoose's casting of the
  // query, update and options was the largest part of a scan's CPU in load profiles (BENCHMARKS.md).
  // No timestamps either: a scan is not an edit of the booking.
  const before = (await deps.models.Booking.collection.findOneAndUpdate(
    {
      // Found by the ticket id (a multikey index). The event needs no condition: the signed code
      // binds this ticket id to its event, and the caller checked the code's event already.
      'tickets._id': ticketId,
      status: 'confirmed',
      tickets: { $elemMatch: { _id: ticketId, number: claims.number, ...unchecked } },
    },
    // Only checkedInAt: who scanned goes to the announcement, not the ticket. (The MongoDB emulator
    // also refuses two $set paths under one array element, which MongoDB allows.) An array filter
    // names the element: the positional `$` would be ambiguous with two conditions on `tickets`.
    { $set: { 'tickets.$[t].checkedInAt': at } },
    {
      arrayFilters: [{ 't._id': ticketId }],
      // The ticket as it was: whether this is its first check-in (an offline batch may only move
      // an earlier recorded time, which is not announced again).
      returnDocument: 'before',
      projection: { status: 1, tickets: { $elemMatch: { _id: ticketId } } },
      session,
    },
  )) as Recorded | null;
  const ticket = before?.tickets[0];
  if (!before || !ticket) return null;
  return { recorded: { ...before, tickets: [{ ...ticket, checkedInAt: at }] }, newly: ticket.checkedInAt == null };
}

/** Why a conditional write did not match: the answer for the scan (an AppError to throw). */
async function whyNot(deps: CheckInDeps, claims: TicketClaims): Promise<AppError> {
  const found = await findTicket(deps.models, claims.ticketId);
  // Signed by us, yet naming no ticket we hold (or another number): not a ticket of ours.
  if (!found || found.ticket.number !== claims.number || String(found.booking.eventId) !== claims.eventId) {
    return invalidTicketCode();
  }
  if (found.booking.status !== 'confirmed') return ticketVoid();
  if (found.ticket.checkedInAt) return alreadyCheckedIn(found.ticket.checkedInAt);
  // Unreachable: checkedInAt is never cleared and a booking never returns to confirmed.
  return ticketVoid();
}

const ownerReaders = new WeakMap<CheckInModels['Booking'], BatchedReads<string>>();

/**
 * The id of the booking holding the ticket. The scans of one turn ask together (one query), since
 * a crowd at the door scans many tickets at once (lib/batched-reads.ts).
 */
async function bookingOfTicket(models: CheckInModels, ticketId: string): Promise<string | undefined> {
  const reader = readerFor(ownerReaders, models.Booking, async (ticketIds) => {
    const owners = await models.Booking.find(
      { 'tickets._id': { $in: ticketIds.map((id) => new Types.ObjectId(id)) } },
      { _id: 1, 'tickets._id': 1 },
    ).lean<{ _id: Types.ObjectId; tickets: { _id: Types.ObjectId }[] }[]>();
    const bookingOf = new Map<string, string>();
    for (const booking of owners) for (const ticket of booking.tickets) bookingOf.set(String(ticket._id), String(booking._id));
    return bookingOf;
  });
  return reader.read(ticketId);
}

/**
 * The conditional write and its announcement, committed together or not at all (DESIGN.md 9).
 * The tickets of a booking share its document, so its scans queue in one lane of the desk: the
 * scans that arrive while one transaction runs are decided together in the next, one conditional
 * write each, in arrival order (two scans of one ticket: the second no longer matches), with one
 * outbox write and one commit for all. Another instance's scans of the booking still meet write
 * conflicts, which runTransaction retries.
 */
async function recordAndAnnounce(
  deps: CheckInDeps,
  claims: TicketClaims,
  at: Date,
  earlierWins: boolean,
  eventId: string,
  by: string,
): Promise<Recorded | null> {
  const owner = await bookingOfTicket(deps.models, claims.ticketId);
  // A ticket we do not hold matches nothing below; its own lane keeps it out of everyone's way.
  const lane = owner ? `booking:${owner}` : `ticket:${claims.ticketId}`;
  return deps.desk.submit(lane, { claims, at, earlierWins, eventId, by }, performance.now() + deps.txTimeoutMs);
}

/** Decides one lane's waiting scans in one transaction (the desk calls this); settles every item. */
async function recordScans(deps: CheckInDeps, items: BatchItem<ScanJob, Recorded | null>[]): Promise<void> {
  let results: (Recorded | null)[];
  try {
    results = await runTransaction(
      deps.db,
      async (session) => {
        const recorded: (Recorded | null)[] = [];
        const announced: ReturnType<typeof checkedInMessage>[] = [];
        for (const { input } of items) {
          const written = await recordCheckIn(deps, input.claims, input.at, input.earlierWins, session);
          recorded.push(written?.recorded ?? null);
          if (!written?.newly) continue;
          const ticket = written.recorded.tickets[0];
          const checkedIn: CheckedIn = {
            eventId: input.eventId,
            bookingId: String(written.recorded._id),
            ticketId: String(ticket._id),
            checkedInAt: input.at,
            checkedInBy: input.by,
          };
          announced.push(checkedInMessage(checkedIn, ticket.number));
        }
        if (announced.length > 0) await deps.outbox.enqueue(session, announced);
        return recorded;
      },
      { deadline: Math.max(...items.map((i) => i.deadline)), commitIf: (r) => r.some((x) => x !== null) },
    );
  } catch (err) {
    for (const item of items) item.reject(err);
    return;
  }
  items.forEach((item, k) => item.resolve(results[k] ?? null));
}

/**
 * One scan at the door (POST /events/:id/check-ins): the first scan of a ticket wins, every
 * later one is 409 ALREADY_CHECKED_IN with the first scan's time.
 */
export async function checkIn(deps: CheckInDeps, actor: Actor, eventId: string, scan: Scan): Promise<CheckInAnswer> {
  const now = deps.clock.now();
  assertScanTime(scan.scannedAt, now, 'scannedAt');
  await assertDoorAccess(deps.models, actor, eventId);
  const claims = await claimsFor(deps.keys, scan.code, eventId);
  const at = scan.scannedAt ?? now;
  const recorded = await recordAndAnnounce(deps, claims, at, false, eventId, actor.userId);
  if (!recorded) throw await whyNot(deps, claims);
  return { ticket: toTicketView(recorded.tickets[0], recorded.status), checkedInAt: at };
}

export interface ScanResult {
  index: number;
  status: number;
  code: string | null;
  detail: string | null;
  ticketId: string | null;
  checkedInAt: Date | null;
  ticket: TicketView | null;
}

const failure = (index: number, error: AppError, ticketId: string | null): ScanResult => {
  const at = error.extra.checkedInAt;
  return {
    index,
    status: error.statusCode,
    code: error.code,
    detail: error.message,
    ticketId,
    checkedInAt: typeof at === 'string' ? new Date(at) : null,
    ticket: null,
  };
};

/** Runs `work` over `items` with at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

// Tickets of one batch written at once: enough to hide round trips, few enough to share the pool.
const BATCH_WRITE_CONCURRENCY = 8;

/**
 * Scans made offline, uploaded together (POST /events/:id/check-ins/batch). The earliest
 * `scannedAt` of a ticket wins, across this batch, earlier batches and online scans: the ticket's
 * `checkedInAt` only ever moves earlier, by the same single conditional write. The scan whose time
 * is recorded answers 200; every other scan of that ticket 409 with the recorded time. One result
 * per scan, in the order sent.
 */
export async function checkInBatch(
  deps: CheckInDeps,
  actor: Actor,
  eventId: string,
  scans: Required<Scan>[],
): Promise<ScanResult[]> {
  const now = deps.clock.now();
  scans.forEach((s, i) => assertScanTime(s.scannedAt, now, `scans.${i}.scannedAt`));
  await assertDoorAccess(deps.models, actor, eventId);

  const results: ScanResult[] = new Array<ScanResult>(scans.length);
  const byTicket = new Map<string, { claims: TicketClaims; indices: number[] }>();
  const verified = await Promise.all(scans.map((s) => verifyTicketCode(deps.keys, s.code)));
  verified.forEach((claims, index) => {
    if (!claims) return void (results[index] = failure(index, invalidTicketCode(), null));
    if (claims.eventId !== eventId) return void (results[index] = failure(index, wrongEvent(), claims.ticketId));
    const group = byTicket.get(claims.ticketId) ?? { claims, indices: [] };
    group.indices.push(index);
    byTicket.set(claims.ticketId, group);
  });

  type Group = { claims: TicketClaims; indices: number[] };
  const one = async ({ claims, indices }: Group): Promise<void> => {
    // Earliest first; of equal times, the one sent first.
    indices.sort((a, b) => scans[a].scannedAt.getTime() - scans[b].scannedAt.getTime() || a - b);
    const [first, ...rest] = indices;
    const at = scans[first].scannedAt;
    // One transaction per ticket; one message per ticket newly checked in.
    const recorded = await recordAndAnnounce(deps, claims, at, true, eventId, actor.userId);
    if (recorded) {
      const ticket = toTicketView(recorded.tickets[0], recorded.status);
      results[first] = { index: first, status: 200, code: null, detail: null, ticketId: claims.ticketId, checkedInAt: at, ticket };
      for (const i of rest) results[i] = failure(i, alreadyCheckedIn(at), claims.ticketId);
      return;
    }
    const error = await whyNot(deps, claims);
    for (const i of indices) results[i] = failure(i, error, claims.ticketId);
  };
  // Tickets of one booking share its document: written in parallel, their transactions would only
  // conflict and retry. So one lane per booking, its tickets one after another.
  const groups = [...byTicket.values()];
  const owners = await deps.models.Booking.find(
    { 'tickets._id': { $in: groups.map((g) => new Types.ObjectId(g.claims.ticketId)) } },
    { _id: 1, 'tickets._id': 1 },
  ).lean<{ _id: Types.ObjectId; tickets: { _id: Types.ObjectId }[] }[]>();
  const bookingOf = new Map<string, string>();
  for (const b of owners) for (const x of b.tickets) bookingOf.set(String(x._id), String(b._id));
  const lanes = new Map<string, Group[]>();
  for (const g of groups) {
    // A ticket we do not hold gets a lane of its own (whyNot answers it).
    const key = bookingOf.get(g.claims.ticketId) ?? `ticket:${g.claims.ticketId}`;
    lanes.set(key, [...(lanes.get(key) ?? []), g]);
  }
  await eachLimited([...lanes.values()], BATCH_WRITE_CONCURRENCY, async (lane) => {
    for (const g of lane) await one(g);
  });
  return results;
}

export interface CheckInStats {
  checkedIn: number;
  tickets: number;
  byTicketType: { ticketTypeId: string | null; checkedIn: number; tickets: number }[];
}

/**
 * Counts computed from the tickets themselves (never kept as counters that could drift): valid
 * tickets (those of confirmed bookings) and how many of them are checked in, overall and per type.
 */
export async function checkInStats(deps: CheckInDeps, actor: Actor, eventId: string): Promise<CheckInStats> {
  const event = await assertDoorAccess(deps.models, actor, eventId);
  const rows = await deps.models.Booking.aggregate<{ _id: Types.ObjectId | null; tickets: number; checkedIn: number }>([
    { $match: { eventId: event._id, status: 'confirmed' } },
    { $unwind: '$tickets' },
    {
      $group: {
        _id: { $ifNull: ['$tickets.ticketTypeId', null] },
        tickets: { $sum: 1 },
        // Checked in when checkedInAt holds a date (null and a missing field both read as null).
        checkedIn: { $sum: { $cond: [{ $eq: [{ $ifNull: ['$tickets.checkedInAt', null] }, null] }, 0, 1] } },
      },
    },
  ]);
  const byTicketType = rows
    .map((r) => ({ ticketTypeId: r._id ? String(r._id) : null, checkedIn: r.checkedIn, tickets: r.tickets }))
    .sort((a, b) => String(a.ticketTypeId).localeCompare(String(b.ticketTypeId)));
  return {
    checkedIn: byTicketType.reduce((n, r) => n + r.checkedIn, 0),
    tickets: byTicketType.reduce((n, r) => n + r.tickets, 0),
    byTicketType,
  };
}
