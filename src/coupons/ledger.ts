import { Types } from 'mongoose';
import type { CouponEntryFields } from '../events/event.model.js';

/**
 * The coupon part of an event's sales ledger (DESIGN.md 7, 12). A redemption is a booking that
 * uses the coupon and is confirmed or holds unexpired tickets; per coupon the ledger keeps
 *
 * - `confirmed`: confirmed bookings using it, changed only by the transactions that sell, confirm
 *   or cancel, so it equals their number by construction;
 * - `holds`: live pending bookings using it, grouped by expiry. A group counts only while
 *   `expiresAt > now`, so an expired hold gives its redemption back at that instant, and every
 *   sales transaction prunes the groups that have run out.
 *
 * It lives on the event document every sale claims first, so a coupon's limit is decided on the
 * same snapshot as the tickets and adds no second conflict point. The audit recounts it from the
 * bookings (coupons/audit.ts).
 */

interface Entry {
  couponId: Types.ObjectId;
  confirmed: number;
  holds: { expiresAt: Date; count: number }[];
}

const live = (at: Date | string, now: Date) => new Date(at).getTime() > now.getTime();

/** Redemptions of each coupon of the event at `now` (the organizer's list). */
export function redemptionsAt(entries: CouponEntryFields[] | undefined, now: Date): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of entries ?? []) {
    let n = e.confirmed ?? 0;
    for (const h of e.holds ?? []) if (live(h.expiresAt, now)) n += h.count;
    counts.set(String(e.couponId), n);
  }
  return counts;
}

/** The booking fields the ledger needs to give a redemption back or confirm it. */
export interface CouponUse {
  couponId?: Types.ObjectId | null;
  expiresAt?: Date | null;
}

/** The coupon ledger inside one sales transaction: read from the claimed event, written back before commit. */
export class CouponLedger {
  private entries: Entry[];
  private dirty: boolean;

  constructor(stored: CouponEntryFields[] | undefined, now: Date) {
    let pruned = false;
    this.entries = (stored ?? []).map((e) => {
      const holds = (e.holds ?? []).filter((h) => live(h.expiresAt, now) && h.count > 0);
      if (holds.length !== (e.holds ?? []).length) pruned = true;
      return {
        couponId: new Types.ObjectId(String(e.couponId)),
        confirmed: e.confirmed ?? 0,
        holds: holds.map((h) => ({ expiresAt: new Date(h.expiresAt), count: h.count })),
      };
    });
    // Pruning run-out groups is worth writing: it keeps the document bounded by live holds.
    this.dirty = pruned;
  }

  get changed(): boolean {
    return this.dirty;
  }

  private entry(couponId: Types.ObjectId): Entry {
    let e = this.entries.find((x) => x.couponId.equals(couponId));
    if (!e) {
      e = { couponId, confirmed: 0, holds: [] };
      this.entries.push(e);
    }
    return e;
  }

  /** Redemptions now: confirmed plus live holds (expired groups were pruned on opening). */
  redemptions(couponId: Types.ObjectId): number {
    const e = this.entries.find((x) => x.couponId.equals(couponId));
    return e ? e.confirmed + e.holds.reduce((sum, h) => sum + h.count, 0) : 0;
  }

  /** A new booking redeems the coupon: a hold until `expiresAt`, or confirmed at once (null). */
  redeem(couponId: Types.ObjectId, expiresAt: Date | null): void {
    const e = this.entry(couponId);
    if (expiresAt === null) e.confirmed++;
    else {
      const group = e.holds.find((h) => h.expiresAt.getTime() === expiresAt.getTime());
      if (group) group.count++;
      else e.holds.push({ expiresAt, count: 1 });
    }
    this.dirty = true;
  }

  private releaseHold(e: Entry, expiresAt: Date): void {
    const group = e.holds.find((h) => h.expiresAt.getTime() === new Date(expiresAt).getTime());
    if (group) group.count = Math.max(0, group.count - 1);
    e.holds = e.holds.filter((h) => h.count > 0);
    this.dirty = true;
  }

  /** A live pending booking is confirmed: its redemption moves from held to confirmed. */
  confirmed(booking: CouponUse): void {
    if (!booking.couponId || !booking.expiresAt) return;
    const e = this.entry(booking.couponId);
    this.releaseHold(e, booking.expiresAt);
    e.confirmed++;
  }

  /** A confirmed or live pending booking is cancelled: its redemption is given back. */
  cancelled(booking: CouponUse & { status: string }): void {
    if (!booking.couponId) return;
    const e = this.entry(booking.couponId);
    if (booking.status === 'confirmed') {
      e.confirmed = Math.max(0, e.confirmed - 1);
      this.dirty = true;
    } else if (booking.expiresAt) this.releaseHold(e, booking.expiresAt);
  }

  /** Every booking of the event is cancelled (the event is cancelled). */
  clear(): void {
    this.entries = [];
    this.dirty = true;
  }

  /** The stored form, for a `$set` of `couponLedger`. */
  stored(): Entry[] {
    return this.entries.filter((e) => e.confirmed > 0 || e.holds.length > 0);
  }
}
