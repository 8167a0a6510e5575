import type { ClientSession, Connection, Types } from 'mongoose';
import type { Role } from '../auth/user.model.js';
import type { Clock } from '../lib/clock.js';
import type { Models } from '../models.js';
import type { Outbox } from '../outbox/outbox.js';
import type { PaymentView } from '../payments/schemas.js';
import type { TicketKeys } from '../tickets/keys.js';
import type { BookingFields } from './booking.model.js';
import type { Desk } from '../lib/desk.js';
import type { SalesTurns } from './sales-turns.js';

export interface Actor {
  userId: string;
  role: Role;
}

/** Layer 3 of idempotency (DESIGN.md 3): the key and the request's fingerprint, recorded on the booking. */
export interface IdempotencyStamp {
  key: string;
  fingerprint: string;
}

export interface BookingOutcome {
  booking: BookingFields;
  /** True when an earlier request with the same key made this booking (or confirm) and this is its answer again. */
  replayed: boolean;
}

/** One line of an order as asked: a ticket type and how many. */
export interface OrderItemInput {
  ticketTypeId: string;
  quantity: number;
}

/** `items` (one line per type), or `quantity` alone for the event's only on-sale type (older clients). */
export interface CreateBookingInput {
  eventId: string;
  quantity?: number;
  items?: OrderItemInput[];
  /** A coupon of the event, matched case-insensitively (coupons/redeem.ts). */
  couponCode?: string;
  /** Seated events: exactly these seats (src/seats/order.ts). */
  seats?: string[];
}

/** One purchase waiting for its event's next sales transaction. */
export interface CreateJob {
  actor: Actor;
  input: CreateBookingInput;
  stamp?: IdempotencyStamp;
}

/**
 * What bookings ask of payments (src/payments) when a payment provider is configured; absent with
 * PAYMENT_PROVIDER=none. Both run inside the booking's sales transaction.
 */
export interface BookingPayments {
  /** The provider id of the booking's succeeded payment; throws 402 PAYMENT_REQUIRED when there is none. */
  requireSucceededPayment(bookingId: Types.ObjectId, session: ClientSession): Promise<string>;
  /** A booking was cancelled: queue the refund of its succeeded payments (durably, in `session`). */
  bookingCancelled(bookingId: Types.ObjectId, session: ClientSession): Promise<void>;
  /** The latest payment of each booking, by booking id, as `viewerId` may see it (one query). */
  latestOf(bookings: Pick<BookingFields, '_id' | 'userId'>[], viewerId: string): Promise<Map<string, PaymentView>>;
}

export interface BookingSettings {
  db: Connection;
  models: Pick<Models, 'Event' | 'Booking' | 'Coupon' | 'WaitlistEntry' | 'Venue'>;
  clock: Clock;
  holdTtlMs: number;
  /** WAITLIST_OFFER_SECONDS in ms: how long a waitlist offer holds its tickets (src/waitlist). */
  waitlistOfferMs: number;
  /** BOOKING_TX_TIMEOUT_MS: how long one sale, confirm or cancel may take, queueing and retries included. */
  txTimeoutMs: number;
  /** Runs after every committed change to what an event has sold or held (read-cache invalidation). */
  salesChanged(eventId: string): Promise<void>;
  /** Announces each change in its transaction (DESIGN.md 9). */
  outbox: Outbox;
  payments?: BookingPayments | null;
  /** Signs the codes of the tickets a confirmed booking gets (src/tickets). */
  ticketKeys: TicketKeys;
  /** Fair turns with other instances at an event's transactions (sales-turns.ts); none in a single instance. */
  turns?: SalesTurns;
}

export interface BookingDeps extends BookingSettings {
  /** Orders (and batches) this process's sales transactions per event. */
  desk: Desk<CreateJob, BookingOutcome>;
}
