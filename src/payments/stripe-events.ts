import Stripe from 'stripe';
import { InvalidSignatureError, type PaymentStatus, type ProviderEvent } from './provider.js';

/**
 * Stripe's webhook format, shared by the Stripe adapter and the fake provider (which mimics
 * Stripe test mode, signatures included). Verification is the SDK's own: an HMAC-SHA256 over
 * `timestamp.rawBody`, compared in constant time, refused when the timestamp is older than the
 * tolerance (Stripe's default: 5 minutes).
 */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/** A Stripe PaymentIntent status in our words. */
export function statusOfIntent(intent: { status?: string; last_payment_error?: unknown }): PaymentStatus {
  switch (intent.status) {
    case 'succeeded':
      return 'succeeded';
    case 'processing':
    case 'requires_capture':
      return 'processing';
    case 'requires_action':
      return 'requires_action';
    case 'canceled':
      return 'canceled';
    default:
      // requires_payment_method after a decline carries last_payment_error: that is our `failed`.
      return intent.last_payment_error ? 'failed' : 'requires_payment_method';
  }
}

const INTENT_EVENTS: Record<string, PaymentStatus> = {
  'payment_intent.succeeded': 'succeeded',
  'payment_intent.payment_failed': 'failed',
  'payment_intent.processing': 'processing',
  'payment_intent.requires_action': 'requires_action',
  'payment_intent.canceled': 'canceled',
};

interface EventObject {
  id?: unknown;
  object?: unknown;
  metadata?: Record<string, unknown> | null;
  payment_intent?: unknown;
  status?: unknown;
  amount?: unknown;
  amount_refunded?: unknown;
  last_payment_error?: { message?: unknown } | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Reduces a verified Stripe event to ours; unknown types come back with `status: null` (ignored). */
export function toProviderEvent(event: { id: string; type: string; data?: { object?: unknown } }): ProviderEvent {
  const object = (event.data?.object ?? {}) as EventObject;
  const base: ProviderEvent = {
    id: event.id,
    status: null,
    paymentId: str(object.metadata?.paymentId),
    providerPaymentId: null,
    failureReason: null,
    amountRefunded: null,
  };
  const intentStatus = INTENT_EVENTS[event.type];
  if (intentStatus && object.object === 'payment_intent') {
    return {
      ...base,
      status: intentStatus,
      providerPaymentId: str(object.id),
      failureReason: intentStatus === 'failed' ? (str(object.last_payment_error?.message) ?? 'The payment failed') : null,
    };
  }
  // A refund settles: charge.refunded carries the charge, refund.* the refund; both name the intent.
  if (event.type === 'charge.refunded' && object.object === 'charge') {
    return { ...base, status: 'refunded', providerPaymentId: str(object.payment_intent), amountRefunded: num(object.amount_refunded) };
  }
  if ((event.type === 'refund.updated' || event.type === 'refund.created') && object.object === 'refund' && object.status === 'succeeded') {
    return { ...base, status: 'refunded', providerPaymentId: str(object.payment_intent), amountRefunded: num(object.amount) };
  }
  return base;
}

function headerValue(value: string | string[] | undefined): string {
  if (Array.isArray(value)) throw new InvalidSignatureError('more than one signature header');
  if (!value) throw new InvalidSignatureError('no signature header');
  return value;
}

/** Verifies a Stripe-format signature header over the raw body and parses the event. */
export function verifyStripeFormat(rawBody: Buffer, header: string | string[] | undefined, secret: string): ProviderEvent {
  let event: { id: string; type: string; data?: { object?: unknown } };
  try {
    event = Stripe.webhooks.constructEvent(rawBody, headerValue(header), secret, WEBHOOK_TOLERANCE_SECONDS);
  } catch (err) {
    if (err instanceof InvalidSignatureError) throw err;
    throw new InvalidSignatureError(err instanceof Error ? err.message : 'signature does not verify');
  }
  if (typeof event?.id !== 'string' || typeof event.type !== 'string') {
    throw new InvalidSignatureError('not an event');
  }
  return toProviderEvent(event);
}

/** Signs a body the way Stripe does (the fake provider's deliveries; tests use the same helper). */
export function signStripeFormat(payload: string, secret: string, timestampSeconds?: number): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: timestampSeconds });
}
