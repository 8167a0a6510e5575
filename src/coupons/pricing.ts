import type { Types } from 'mongoose';
import type { CouponFields } from './coupon.model.js';

/**
 * What a coupon takes off an order. Pure, so the sales transaction, the tests and the property
 * test's model all price the same way. Money is in minor units throughout.
 *
 * - `percentOff` applies to each covered line on its own (line = unit price x quantity), rounded
 *   half up to a whole minor unit: 15% of 3 x 333 = 149.85 -> 150; 10% of 5 = 0.5 -> 1.
 *   The line total times the percentage is an integer, so `floor((total * p + 50) / 100)` is exact.
 * - `amountOff` comes off the covered lines once per order, never more than they cost, so a total
 *   never goes below 0.
 */

export type CouponTerms = Pick<CouponFields, 'percentOff' | 'amountOff' | 'ticketTypeIds'>;

export interface PricedLine {
  typeId: Types.ObjectId;
  unitPrice: number;
  quantity: number;
}

/** Whether the coupon applies to a type (an empty list covers every type). */
export function covers(coupon: Pick<CouponFields, 'ticketTypeIds'>, typeId: Types.ObjectId | string): boolean {
  const ids = coupon.ticketTypeIds ?? [];
  return ids.length === 0 || ids.some((id) => String(id) === String(typeId));
}

/** Half up, for non-negative amounts: p% of `total` in whole minor units. */
export const percentOfHalfUp = (total: number, percent: number) => Math.floor((total * percent + 50) / 100);

export function discountFor(coupon: CouponTerms, lines: PricedLine[]): number {
  const covered = lines.filter((l) => covers(coupon, l.typeId));
  if (coupon.percentOff != null) {
    const percent = coupon.percentOff;
    return covered.reduce((sum, l) => sum + percentOfHalfUp(l.unitPrice * l.quantity, percent), 0);
  }
  const coveredTotal = covered.reduce((sum, l) => sum + l.unitPrice * l.quantity, 0);
  return Math.min(coupon.amountOff ?? 0, coveredTotal);
}

/** Why the coupon cannot be used for these lines at `now` (API.md: 422 COUPON_INVALID), or null. */
export function invalidReason(
  coupon: Pick<CouponFields, 'active' | 'validFrom' | 'validUntil' | 'ticketTypeIds'>,
  lines: Pick<PricedLine, 'typeId'>[],
  now: Date,
): string | null {
  if (!coupon.active) return 'this coupon is not active';
  if (coupon.validFrom && now.getTime() < new Date(coupon.validFrom).getTime()) return 'this coupon is not valid yet';
  if (coupon.validUntil && now.getTime() >= new Date(coupon.validUntil).getTime()) return 'this coupon has expired';
  if (!lines.some((l) => covers(coupon, l.typeId))) return 'this coupon covers none of the ticket types ordered';
  return null;
}
