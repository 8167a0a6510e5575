import type { PaymentFields } from '../payments/payment.model.js';
import type { OutboxMessageInput } from './types.js';

const iso = (d: Date | null | undefined): string | null => (d ? new Date(d).toISOString() : null);

/**
 * payment.succeeded / payment.failed: the payment as the provider's report left it. Never the
 * client secret: a webhook receiver is the organizer, not the payer.
 */
export function paymentMessage(type: 'payment.succeeded' | 'payment.failed', payment: PaymentFields): OutboxMessageInput {
  return {
    type,
    eventId: String(payment.eventId),
    data: {
      payment: {
        id: String(payment._id),
        bookingId: String(payment.bookingId),
        eventId: String(payment.eventId),
        provider: payment.provider,
        providerPaymentId: payment.providerPaymentId ?? null,
        amount: payment.amount,
        currency: payment.currency,
        status: payment.status,
        failureReason: payment.failureReason ?? null,
        updatedAt: iso(payment.updatedAt),
      },
    },
  };
}
