import { type Connection, type InferSchemaType, Schema, type Types } from 'mongoose';

/**
 * A coupon of one event. It holds no redemption count: redemptions are derived like availability
 * (DESIGN.md 7), from the event's coupon ledger (coupons/ledger.ts), which the sales transactions
 * keep and `npm run audit:availability` recounts from the bookings.
 */
const couponSchema = new Schema(
  {
    eventId: { type: Schema.Types.ObjectId, ref: 'Event', required: true },
    /** As the organizer wrote it (shown on bookings). */
    code: { type: String, required: true },
    /** The code in lower case: what buyers' codes are matched against (case-insensitive, unique per event). */
    codeKey: { type: String, required: true },
    /** Exactly one of percentOff (1-100) and amountOff (minor units) is set. */
    percentOff: { type: Number, default: null, min: 1, max: 100 },
    amountOff: { type: Number, default: null, min: 1 },
    /** null: no limit. A redemption is one booking, whatever its number of tickets. */
    maxRedemptions: { type: Number, default: null, min: 1 },
    maxPerUser: { type: Number, default: null, min: 1 },
    validFrom: { type: Date, default: null },
    validUntil: { type: Date, default: null },
    /** Empty: every type of the event. */
    ticketTypeIds: { type: [Schema.Types.ObjectId], default: [] },
    active: { type: Boolean, default: true },
  },
  { timestamps: true, versionKey: false },
);

couponSchema.index({ eventId: 1, codeKey: 1 }, { unique: true });
couponSchema.index({ eventId: 1, createdAt: 1, _id: 1 });

export type CouponFields = InferSchemaType<typeof couponSchema> & { _id: Types.ObjectId };

export function couponModel(conn: Connection) {
  return conn.model<CouponFields>('Coupon', couponSchema);
}
export type CouponModel = ReturnType<typeof couponModel>;
