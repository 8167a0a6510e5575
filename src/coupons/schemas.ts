import { z } from 'zod';
import { objectId, pagination } from '../lib/http.js';
import { MAX_TICKET_TYPES } from '../ticket-types/schemas.js';

/**
 * A code buyers type: letters, digits, `-` and `_`, 1-64 characters. No spaces or other
 * characters, so what is printed on a flyer is exactly what matches (case-insensitively).
 */
export const couponCode = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'may hold only letters, digits, "-" and "_"');

const isoDateTime = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2030-05-01T19:30:00Z' })
  .transform((v) => new Date(v));
const percentOff = z.number().int().min(1).max(100);
/** Minor units of the event's currency. */
const amountOff = z.number().int().min(1).max(1_000_000_000);
const maxRedemptions = z.number().int().min(1).max(10_000_000);
const maxPerUser = z.number().int().min(1).max(10_000);
const ticketTypeIds = z
  .array(objectId)
  .max(MAX_TICKET_TYPES)
  .transform((ids) => [...new Set(ids.map((id) => id.toLowerCase()))]);

const windowOk = (b: { validFrom?: Date | null; validUntil?: Date | null }) => !b.validFrom || !b.validUntil || b.validUntil > b.validFrom;
const windowMessage = { message: 'must be after validFrom', path: ['validUntil'] };

export const createCouponBody = z
  .object({
    code: couponCode,
    percentOff: percentOff.optional(),
    amountOff: amountOff.optional(),
    maxRedemptions: maxRedemptions.nullable().optional(),
    maxPerUser: maxPerUser.nullable().optional(),
    validFrom: isoDateTime.nullable().optional(),
    validUntil: isoDateTime.nullable().optional(),
    ticketTypeIds: ticketTypeIds.optional(),
    active: z.boolean().optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if ((b.percentOff === undefined) === (b.amountOff === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['percentOff'], message: 'send exactly one of percentOff and amountOff' });
    }
  })
  .refine(windowOk, windowMessage);
export type CreateCouponInput = z.output<typeof createCouponBody>;

/** What may change; the kind and size of the discount and the code stay as created. */
export const updateCouponBody = z
  .object({
    active: z.boolean(),
    maxRedemptions: maxRedemptions.nullable(),
    maxPerUser: maxPerUser.nullable(),
    validFrom: isoDateTime.nullable(),
    validUntil: isoDateTime.nullable(),
    ticketTypeIds,
  })
  .partial()
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'send at least one field to change' });
export type UpdateCouponInput = z.output<typeof updateCouponBody>;

export const couponParams = z.object({ id: objectId, couponId: objectId }).strict();
export const listCouponsQuery = z.object({ ...pagination }).strict();

export const couponSchema = z.object({
  id: z.string(),
  eventId: z.string(),
  code: z.string(),
  percentOff: z.number().int().nullable(),
  amountOff: z.number().int().nullable(),
  maxRedemptions: z.number().int().nullable(),
  maxPerUser: z.number().int().nullable(),
  validFrom: z.string().nullable(),
  validUntil: z.string().nullable(),
  ticketTypeIds: z.array(z.string()),
  active: z.boolean(),
  /** Derived: bookings using it that are confirmed or hold unexpired tickets. */
  redemptions: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type CouponDto = z.infer<typeof couponSchema>;
