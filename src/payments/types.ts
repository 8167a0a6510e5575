import type { FastifyBaseLogger } from 'fastify';
import type { Connection } from 'mongoose';
import type { Clock } from '../lib/clock.js';
import type { Models } from '../models.js';
import type { TicketKeys } from '../tickets/keys.js';
import type { ProviderBreaker } from './breaker.js';
import type { PaymentProvider } from './provider.js';

/** What the payment functions need: plain values, so tests and the worker can build them too. */
export interface PaymentsDeps {
  db: Connection;
  models: Models;
  clock: Clock;
  log: FastifyBaseLogger;
  /** Signs the tickets of a booking a payment confirms. */
  ticketKeys: TicketKeys;
  /** Null with PAYMENT_PROVIDER=none. */
  provider: PaymentProvider | null;
  breaker: ProviderBreaker;
  /** BOOKING_TX_TIMEOUT_MS: payment transactions contend on the same event documents as sales. */
  txTimeoutMs: number;
  /** After a committed change to an event's sold tickets (read-cache invalidation). */
  salesChanged(eventId: string): Promise<void>;
  /** Wakes the refund worker after a refund was queued. */
  refundQueued(): void;
}
