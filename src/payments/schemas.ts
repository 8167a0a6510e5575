import { z } from 'zod';
import { pagination, problemSchema, safeText } from '../lib/http.js';
import type { PaymentFields } from './payment.model.js';
import { PAYMENT_STATUSES } from './provider.js';

export const createPaymentBody = z
  .object({
    paymentMethod: safeText(1, 255)
      .describe('A payment method to charge at once (fake: pm_card_visa, pm_card_chargeDeclined, pm_card_threeDSecure2Required, pm_card_processing)')
      .optional(),
  })
  .strict()
  .nullish();

export const listPaymentsQuery = z.object({ ...pagination }).strict();

export const paymentSchema = z.object({
  id: z.string(),
  bookingId: z.string(),
  provider: z.string(),
  providerPaymentId: z.string().nullable(),
  amount: z.number().int(),
  currency: z.string(),
  status: z.enum(PAYMENT_STATUSES),
  clientSecret: z.string().nullable().describe("For the buyer's client to finish the payment (3-D Secure); only its owner sees it"),
  failureReason: z.string().nullable(),
  refundedAmount: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type PaymentView = z.infer<typeof paymentSchema>;

export const webhookParams = z.object({ provider: z.string().min(1).max(32) }).strict();

/** Documents the shape the providers send (Stripe's event); the route itself reads the raw bytes. */
export const webhookBody = z
  .looseObject({ id: z.string(), type: z.string(), data: z.looseObject({ object: z.looseObject({}) }) })
  .describe('The provider event, exactly as sent: its signature is checked over these raw bytes');

export const webhookAnswer = z.object({
  received: z.literal(true),
  outcome: z.enum(['applied', 'duplicate', 'ignored']),
});

export const paymentProblem = problemSchema.loose();

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : '');

export function toPaymentView(payment: PaymentFields, viewerIsOwner: boolean): PaymentView {
  return {
    id: String(payment._id),
    bookingId: String(payment.bookingId),
    provider: payment.provider,
    providerPaymentId: payment.providerPaymentId ?? null,
    amount: payment.amount,
    currency: payment.currency,
    status: payment.status,
    clientSecret: viewerIsOwner ? (payment.clientSecret ?? null) : null,
    failureReason: payment.failureReason ?? null,
    refundedAmount: payment.refundedAmount ?? 0,
    createdAt: iso(payment.createdAt),
    updatedAt: iso(payment.updatedAt ?? payment.createdAt),
  };
}
