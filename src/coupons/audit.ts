import { Types } from 'mongoose';
import type { CouponEntryFields } from '../events/event.model.js';

/**
 * The coupon part of the audit (`npm run audit:availability`, bookings/ledger-audit.ts): recount
 * each coupon's redemptions from the event's bookings and compare them with the coupon ledger,
 * total and per hold group (confirming or cancelling finds a hold's group by its expiry).
 */

interface CountedBooking {
  status: string;
  expiresAt?: Date | null;
  couponId?: Types.ObjectId | null;
}

/** Per coupon id: confirmed bookings, and live holds per expiry (ms). */
export type CouponRecount = Map<string, { confirmed: number; holds: Map<number, number> }>;

export function recountCoupons(bookings: CountedBooking[], now: Date): CouponRecount {
  const counted: CouponRecount = new Map();
  for (const b of bookings) {
    if (!b.couponId) continue;
    const id = String(b.couponId);
    const entry = counted.get(id) ?? { confirmed: 0, holds: new Map<number, number>() };
    counted.set(id, entry);
    if (b.status === 'confirmed') entry.confirmed++;
    else if (b.status === 'pending' && b.expiresAt && new Date(b.expiresAt).getTime() > now.getTime()) {
      const at = new Date(b.expiresAt).getTime();
      entry.holds.set(at, (entry.holds.get(at) ?? 0) + 1);
    }
  }
  return counted;
}

export interface CouponDifference {
  what: string;
  ledger: number;
  bookings: number;
}

export function compareCoupons(entries: CouponEntryFields[] | undefined, counted: CouponRecount, now: Date): CouponDifference[] {
  const diffs: CouponDifference[] = [];
  const note = (what: string, ledger: number, bookings: number) => {
    if (ledger !== bookings) diffs.push({ what, ledger, bookings });
  };
  const stored = new Map<string, { confirmed: number; holds: Map<number, number> }>();
  for (const e of entries ?? []) {
    const holds = new Map<number, number>();
    for (const h of e.holds ?? []) {
      const at = new Date(h.expiresAt).getTime();
      if (at > now.getTime()) holds.set(at, (holds.get(at) ?? 0) + h.count);
    }
    stored.set(String(e.couponId), { confirmed: e.confirmed ?? 0, holds });
  }
  for (const id of new Set([...stored.keys(), ...counted.keys()])) {
    const s = stored.get(id) ?? { confirmed: 0, holds: new Map<number, number>() };
    const c = counted.get(id) ?? { confirmed: 0, holds: new Map<number, number>() };
    note(`coupon ${id} confirmed redemptions`, s.confirmed, c.confirmed);
    for (const at of new Set([...s.holds.keys(), ...c.holds.keys()])) {
      note(`coupon ${id} held redemptions expiring ${new Date(at).toISOString()}`, s.holds.get(at) ?? 0, c.holds.get(at) ?? 0);
    }
  }
  return diffs;
}

/** The ledger a recount gives (the migration and the audit's `--fix`). */
export function couponLedgerFrom(counted: CouponRecount): CouponEntryFields[] {
  return [...counted]
    .map(([id, c]) => ({
      couponId: new Types.ObjectId(id),
      confirmed: c.confirmed,
      holds: [...c.holds].map(([at, count]) => ({ expiresAt: new Date(at), count })),
    }))
    .filter((e) => e.confirmed > 0 || e.holds.length > 0);
}
