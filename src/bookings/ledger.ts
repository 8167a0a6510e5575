import type { Types, UpdateQuery } from 'mongoose';
import type { EventFields, HoldFields, TicketTypeFields } from '../events/event.model.js';
import { listedFields } from '../events/listing-projection.js';
import type { TicketCounts } from './availability.js';

/**
 * The sales ledger of an event (DESIGN.md 12), kept on the event document that every sales
 * transaction writes first (DESIGN.md 1):
 *
 * - `ticketTypes[].confirmed`: confirmed tickets per type, changed only by the transactions that
 *   confirm, sell or cancel, so it equals the sum over the confirmed bookings by construction;
 * - `holds`: live holds grouped by (type, expiry). A group counts only while `expiresAt > now`, so
 *   an expired hold frees its tickets at that very instant without a sweeper; every sales
 *   transaction prunes the groups that have run out, so the list is bounded by the live holds.
 *
 * Availability is then `total - confirmed - unexpired holds`, exactly as before, at a cost that
 * does not grow with the number of bookings. `npm run audit:availability` recounts it all from the
 * bookings (ledger-audit.ts).
 */

/** One line of an order as the ledger sees it: so many tickets of one type (on a seated event, these seats). */
export interface Line {
  typeId: Types.ObjectId;
  quantity: number;
  /** Seated events: the seat ids the line takes, `quantity` of them. */
  seats?: string[];
}

export type LedgerEvent = Pick<EventFields, 'totalTickets' | 'ticketTypes' | 'holds' | 'seatClaims'>;

export interface LedgerCounts extends TicketCounts {
  byType: Map<string, TicketCounts>;
}

const live = (hold: Pick<HoldFields, 'expiresAt'>, now: Date) => new Date(hold.expiresAt).getTime() > now.getTime();

/** Confirmed and held tickets of the event and of each of its types at `now`. */
export function ledgerCounts(event: Pick<LedgerEvent, 'ticketTypes' | 'holds'>, now: Date): LedgerCounts {
  const byType = new Map<string, TicketCounts>();
  let confirmedTickets = 0;
  let heldTickets = 0;
  for (const type of event.ticketTypes ?? []) {
    byType.set(String(type._id), { confirmedTickets: type.confirmed ?? 0, heldTickets: 0 });
    confirmedTickets += type.confirmed ?? 0;
  }
  for (const hold of event.holds ?? []) {
    if (!live(hold, now)) continue;
    heldTickets += hold.quantity;
    const counts = byType.get(String(hold.typeId));
    if (counts) counts.heldTickets += hold.quantity;
  }
  return { confirmedTickets, heldTickets, byType };
}

/** A type's own capacity; null means the event's whole capacity (the default type). */
export const capacityOf = (type: Pick<TicketTypeFields, 'capacity'>, event: Pick<EventFields, 'totalTickets'>) =>
  type.capacity ?? event.totalTickets;

/** API.md Ticket types: min(capacity - its confirmed - its live holds, the event's tickets left). */
export function typeAvailable(capacity: number, own: TicketCounts, eventAvailable: number): number {
  return Math.max(0, Math.min(capacity - own.confirmedTickets - own.heldTickets, eventAvailable));
}

/** When the earliest live hold runs out (how long read figures stay true), or null. */
export function nextHoldExpiry(event: Pick<LedgerEvent, 'holds'>, now: Date): Date | null {
  let next: number | null = null;
  for (const hold of event.holds ?? []) {
    const at = new Date(hold.expiresAt).getTime();
    if (at > now.getTime() && (next === null || at < next)) next = at;
  }
  return next === null ? null : new Date(next);
}

/**
 * The ledger inside one sales transaction: read from the claimed event document, changed by the
 * decisions of the transaction, written back with `update()` before commit. Every check of a sale
 * (types, event quota; later coupons, seats, the waitlist) reads this one snapshot.
 */
export class SalesLedger {
  private readonly confirmed = new Map<string, number>();
  private readonly capacity = new Map<string, number>();
  private readonly index = new Map<string, number>();
  private holds: HoldFields[];
  /** Taken seats (seated events): seat id -> null when sold, or the live hold's expiry. */
  private readonly seats = new Map<string, Date | null>();
  private readonly seated: boolean;
  private dirty: boolean;

  constructor(
    private readonly event: LedgerEvent,
    private readonly now: Date,
  ) {
    event.ticketTypes.forEach((type, i) => {
      const id = String(type._id);
      this.confirmed.set(id, type.confirmed ?? 0);
      this.capacity.set(id, capacityOf(type, event));
      this.index.set(id, i);
    });
    this.holds = (event.holds ?? []).filter((h) => live(h, now) && h.quantity > 0).map((h) => ({ ...h }));
    const claims = event.seatClaims ?? [];
    for (const c of claims) if (c.expiresAt === null || live({ expiresAt: c.expiresAt }, now)) this.seats.set(c.seatId, c.expiresAt);
    this.seated = claims.length > 0;
    // Pruning expired groups is itself worth writing (it keeps the document small).
    this.dirty = this.holds.length !== (event.holds ?? []).length || this.seats.size !== claims.length;
  }

  /** Whether the seat is sold or held by a live hold in this snapshot. */
  seatTaken(seatId: string): boolean {
    return this.seats.has(seatId);
  }

  /** The seats of these lines that are taken (empty: all free). */
  takenSeats(lines: Line[]): string[] {
    return lines.flatMap((l) => l.seats ?? []).filter((id) => this.seats.has(id));
  }

  /** What a seat map shows: sold seats, and held ones with their expiry. */
  seatStates(): ReadonlyMap<string, Date | null> {
    return this.seats;
  }

  private claim(lines: Line[], expiresAt: Date | null): void {
    for (const line of lines) for (const id of line.seats ?? []) this.seats.set(id, expiresAt);
  }

  /** Lets go of seats held until `expiresAt` (null: sold); a seat claimed otherwise is someone else's. */
  private unclaim(lines: Line[], expiresAt: Date | null): void {
    for (const line of lines) {
      for (const id of line.seats ?? []) {
        const held = this.seats.get(id);
        if (held === undefined) continue;
        if ((held === null && expiresAt === null) || (held !== null && expiresAt !== null && held.getTime() === new Date(expiresAt).getTime())) {
          this.seats.delete(id);
        }
      }
    }
  }

  /** Whether the transaction changed the ledger (or pruned it). */
  get changed(): boolean {
    return this.dirty;
  }

  private heldOf(typeId?: string): number {
    let sum = 0;
    for (const h of this.holds) if (typeId === undefined || String(h.typeId) === typeId) sum += h.quantity;
    return sum;
  }

  private confirmedTotal(): number {
    let sum = 0;
    for (const n of this.confirmed.values()) sum += n;
    return sum;
  }

  eventAvailable(): number {
    return Math.max(0, this.event.totalTickets - this.confirmedTotal() - this.heldOf());
  }

  typeAvailable(typeId: Types.ObjectId | string): number {
    const id = String(typeId);
    const own = { confirmedTickets: this.confirmed.get(id) ?? 0, heldTickets: this.heldOf(id) };
    return typeAvailable(this.capacity.get(id) ?? 0, own, this.eventAvailable());
  }

  /**
   * The first line that does not fit, with what is left of its type (or of the event, when the
   * event runs short first), or null when the whole order fits. Lines are checked together: two
   * lines may each fit alone and not together under the event's quota.
   */
  shortfall(lines: Line[]): { typeId: Types.ObjectId; available: number } | null {
    let eventLeft = this.eventAvailable();
    for (const line of lines) {
      const left = Math.min(this.typeAvailable(line.typeId), eventLeft);
      if (left < line.quantity) return { typeId: line.typeId, available: left };
      eventLeft -= line.quantity;
    }
    return null;
  }

  private group(typeId: Types.ObjectId, expiresAt: Date): HoldFields | undefined {
    return this.holds.find((h) => String(h.typeId) === String(typeId) && new Date(h.expiresAt).getTime() === expiresAt.getTime());
  }

  private addConfirmed(typeId: Types.ObjectId, delta: number): void {
    const id = String(typeId);
    this.confirmed.set(id, Math.max(0, (this.confirmed.get(id) ?? 0) + delta));
    this.dirty = true;
  }

  /** A new pending booking holds its lines until `expiresAt`. */
  hold(lines: Line[], expiresAt: Date): void {
    for (const line of lines) {
      const group = this.group(line.typeId, expiresAt);
      if (group) group.quantity += line.quantity;
      else this.holds.push({ typeId: line.typeId, expiresAt, quantity: line.quantity });
    }
    this.claim(lines, expiresAt);
    this.dirty = true;
  }

  /** A live hold lets go (cancelled), or turns into sold tickets (confirmed). */
  releaseHold(lines: Line[], expiresAt: Date): void {
    for (const line of lines) {
      const group = this.group(line.typeId, expiresAt);
      if (group) group.quantity = Math.max(0, group.quantity - line.quantity);
    }
    this.holds = this.holds.filter((h) => h.quantity > 0);
    this.unclaim(lines, expiresAt);
    this.dirty = true;
  }

  confirmHold(lines: Line[], expiresAt: Date): void {
    this.releaseHold(lines, expiresAt);
    this.sell(lines);
  }

  /** Tickets sold without a hold (a free order confirms at once). */
  sell(lines: Line[]): void {
    for (const line of lines) this.addConfirmed(line.typeId, line.quantity);
    this.claim(lines, null);
  }

  /** A confirmed booking is cancelled: its tickets go back. */
  refund(lines: Line[]): void {
    for (const line of lines) this.addConfirmed(line.typeId, -line.quantity);
    this.unclaim(lines, null);
  }

  /** Everything sold and held is cancelled at once (the event is cancelled). */
  clear(): void {
    for (const id of this.confirmed.keys()) this.confirmed.set(id, 0);
    this.holds = [];
    this.seats.clear();
    this.dirty = true;
  }

  /**
   * The write that stores the ledger; positions are stable while the transaction holds the event.
   * The listing's projection of it goes with it (events/listing-projection.ts).
   */
  update(): UpdateQuery<EventFields> {
    const set: Record<string, unknown> = {
      holds: this.holds,
      ...listedFields(this.event.totalTickets, this.confirmedTotal(), this.holds, this.now),
    };
    if (this.seated || this.seats.size > 0) set.seatClaims = [...this.seats].map(([seatId, expiresAt]) => ({ seatId, expiresAt }));
    for (const [id, i] of this.index) set[`ticketTypes.${i}.confirmed`] = this.confirmed.get(id) ?? 0;
    return { $set: set };
  }
}
