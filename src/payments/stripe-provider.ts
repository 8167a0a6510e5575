import Stripe from 'stripe';
import type { CreatePaymentInput, PaymentProvider, ProviderPayment, ProviderRefund, RefundInput } from './provider.js';
import { statusOfIntent, verifyStripeFormat } from './stripe-events.js';

export interface StripeProviderOptions {
  secretKey: string;
  webhookSecret: string;
  /** Another API base (stripe-mock, the tests' local API); Stripe's own when absent. */
  apiBaseUrl?: string;
  timeoutMs: number;
}

/** host/port/protocol for the SDK from a base URL such as http://127.0.0.1:12111. */
function addressOf(baseUrl: string | undefined): { host?: string; port?: number; protocol?: 'http' | 'https' } {
  if (!baseUrl) return {};
  const url = new URL(baseUrl);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return { host: url.hostname, port: url.port ? Number(url.port) : protocol === 'http' ? 80 : 443, protocol };
}

function toPayment(intent: Stripe.PaymentIntent): ProviderPayment {
  return {
    providerPaymentId: intent.id,
    status: statusOfIntent(intent),
    clientSecret: intent.client_secret ?? null,
    failureReason: intent.last_payment_error?.message ?? null,
  };
}

/** Stripe through its official SDK: one PaymentIntent per payment, one Refund per refund. */
export function stripeProvider(options: StripeProviderOptions): PaymentProvider {
  const client = new Stripe(options.secretKey, {
    ...addressOf(options.apiBaseUrl),
    timeout: options.timeoutMs,
    // The circuit breaker decides about retries; the SDK's own would hide an outage from it.
    maxNetworkRetries: 0,
    telemetry: false,
  });

  return {
    name: 'stripe',

    async createPayment(input: CreatePaymentInput, idempotencyKey: string): Promise<ProviderPayment> {
      try {
        const intent = await client.paymentIntents.create(
          {
            amount: input.amount,
            currency: input.currency.toLowerCase(),
            // Server-side confirmation with a payment method: no redirect-based methods, no return_url.
            automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
            metadata: { paymentId: input.paymentId, bookingId: input.bookingId },
            ...(input.paymentMethod ? { payment_method: input.paymentMethod, confirm: true } : {}),
          },
          { idempotencyKey },
        );
        return toPayment(intent);
      } catch (err) {
        // A declined card is Stripe's 402 card_error carrying the intent: an answer, not an outage.
        if (err instanceof Stripe.errors.StripeCardError && err.payment_intent) {
          return { ...toPayment(err.payment_intent), status: 'failed', failureReason: err.message };
        }
        throw err;
      }
    },

    async refund(input: RefundInput, idempotencyKey: string): Promise<ProviderRefund> {
      const refund = await client.refunds.create(
        { payment_intent: input.providerPaymentId, amount: input.amount },
        { idempotencyKey },
      );
      const status = refund.status === 'succeeded' ? 'succeeded' : refund.status === 'failed' || refund.status === 'canceled' ? 'failed' : 'pending';
      return { refundId: refund.id, status };
    },

    verifyWebhook(rawBody, headers) {
      return verifyStripeFormat(rawBody, headers['stripe-signature'], options.webhookSecret);
    },
  };
}
