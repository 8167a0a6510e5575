import { type ClientSession, Types } from 'mongoose';
import type { Models } from '../models.js';
import type { CouponFields } from './coupon.model.js';
import type { CouponLedger } from './ledger.js';
import { invalidReason, type PricedLine } from './pricing.js';
import { couponExhausted, couponInvalid } from './problems.js';

/** Matching is case-insensitive: codes are stored and looked up by their lower-case key. */
export const codeKeyOf = (code: string) => code.trim().toLowerCase();

/**
 * The coupon decisions of one sales transaction (sales.ts decideCreates), taken after the event is
 * claimed and on the same snapshot, in arrival order:
 *
 * - the coupon is read once per code (the buyer's code must be one of this event's);
 * - `maxRedemptions` is checked against the ledger (coupons/ledger.ts), which counts this
 *   transaction's own earlier redemptions too;
 * - `maxPerUser` is checked against the buyer's bookings with this coupon on this event that still
 *   count (an indexed query bounded by that buyer's bookings, not by the event's history), plus the
 *   buyer's redemptions made earlier in this same transaction.
 *
 * Every sale of the event writes the event first, so two transactions that could both redeem the
 * last use conflict there and one is retried on the new state: no second conflict point.
 */
export class Redemptions {
  private readonly coupons = new Map<string, CouponFields | null>();
  private readonly perUser = new Map<string, number>();

  constructor(
    private readonly models: Pick<Models, 'Coupon' | 'Booking'>,
    private readonly eventId: Types.ObjectId,
    private readonly session: ClientSession,
    private readonly now: Date,
    private readonly ledger: CouponLedger,
  ) {}

  private async coupon(code: string): Promise<CouponFields | null> {
    const key = codeKeyOf(code);
    if (!this.coupons.has(key)) {
      const found = await this.models.Coupon.findOne({ eventId: this.eventId, codeKey: key }).session(this.session).lean<CouponFields>();
      this.coupons.set(key, found);
    }
    return this.coupons.get(key) ?? null;
  }

  private async usesOf(coupon: CouponFields, userId: string): Promise<number> {
    const key = `${userId}|${String(coupon._id)}`;
    let n = this.perUser.get(key);
    if (n === undefined) {
      n = await this.models.Booking.countDocuments({
        userId: new Types.ObjectId(userId),
        eventId: this.eventId,
        couponId: coupon._id,
        $or: [{ status: 'confirmed' }, { status: 'pending', expiresAt: { $gt: this.now } }],
      }).session(this.session);
      this.perUser.set(key, n);
    }
    return n;
  }

  /** The coupon for this order, or 422 COUPON_INVALID / 409 COUPON_EXHAUSTED. Changes nothing. */
  async check(code: string, userId: string, lines: PricedLine[]): Promise<CouponFields> {
    const coupon = await this.coupon(code);
    if (!coupon) throw couponInvalid('no coupon with this code exists for this event');
    const why = invalidReason(coupon, lines, this.now);
    if (why) throw couponInvalid(why);
    if (coupon.maxRedemptions != null && this.ledger.redemptions(coupon._id) >= coupon.maxRedemptions) throw couponExhausted('coupon');
    if (coupon.maxPerUser != null && (await this.usesOf(coupon, userId)) >= coupon.maxPerUser) throw couponExhausted('user');
    return coupon;
  }

  /** The order was granted: record its redemption (a hold until `expiresAt`, or confirmed at once). */
  take(coupon: CouponFields, userId: string, expiresAt: Date | null): void {
    this.ledger.redeem(coupon._id, expiresAt);
    const key = `${userId}|${String(coupon._id)}`;
    // Only counted once loaded (a coupon without maxPerUser never asks).
    const n = this.perUser.get(key);
    if (n !== undefined) this.perUser.set(key, n + 1);
  }
}
