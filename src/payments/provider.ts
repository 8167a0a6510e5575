/**
 * The one seam between payments and whoever takes the money (issue 16). The service, the webhook
 * route and the refund worker speak only this interface; which provider runs is decided once, in
 * plugin.ts, from PAYMENT_PROVIDER.
 */

export const PAYMENT_STATUSES = [
  'requires_payment_method',
  'requires_action',
  'processing',
  'succeeded',
  'failed',
  'canceled',
  'refunded',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export type ProviderName = 'fake' | 'stripe';

export interface CreatePaymentInput {
  /** Our payment id: sent as metadata so every webhook can be tied back to its document. */
  paymentId: string;
  bookingId: string;
  amount: number;
  currency: string;
  paymentMethod?: string;
}

/** What the provider says about a payment right after creating (and, with a method, confirming) it. */
export interface ProviderPayment {
  providerPaymentId: string;
  status: PaymentStatus;
  clientSecret: string | null;
  failureReason: string | null;
}

export interface RefundInput {
  providerPaymentId: string;
  amount: number;
}

export interface ProviderRefund {
  refundId: string;
  /** `pending` refunds are finished by a later webhook. */
  status: 'succeeded' | 'pending' | 'failed';
}

/** A verified provider event, reduced to what our state machine needs. */
export interface ProviderEvent {
  /** The provider's event id: recorded once, so a redelivery changes nothing. */
  id: string;
  /** `null`: a type we do not act on (answered 200, recorded nowhere). */
  status: PaymentStatus | null;
  /** Our payment id from the metadata, when the provider echoes it. */
  paymentId: string | null;
  providerPaymentId: string | null;
  failureReason: string | null;
  /** For refunds: the amount refunded so far. */
  amountRefunded: number | null;
}

export interface PaymentProvider {
  readonly name: ProviderName;
  /** Creates the provider's payment; `idempotencyKey` makes a retry return the same one. */
  createPayment(input: CreatePaymentInput, idempotencyKey: string): Promise<ProviderPayment>;
  /** Refunds a payment; the same key never refunds twice. */
  refund(input: RefundInput, idempotencyKey: string): Promise<ProviderRefund>;
  /**
   * Verifies a webhook over its raw bytes and returns the event, or throws InvalidSignatureError.
   * `headers` are the request's (lower-case names).
   */
  verifyWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>): ProviderEvent;
  /** Stops timers (the fake settles late payments and delivers webhooks on its own). */
  close?(): void;
}

/** A webhook whose signature, timestamp or body does not verify. */
export class InvalidSignatureError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidSignatureError';
  }
}

