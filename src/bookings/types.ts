import type { Connection } from 'mongoose';
import type { Role } from '../auth/user.model.js';
import type { Clock } from '../lib/clock.js';
import type { Models } from '../models.js';
import type { BookingFields } from './booking.model.js';
import type { SalesDesk } from './sales-desk.js';

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
}

/** One purchase waiting for its event's next sales transaction. */
export interface CreateJob {
  actor: Actor;
  input: CreateBookingInput;
  stamp?: IdempotencyStamp;
}

export interface BookingSettings {
  db: Connection;
  models: Pick<Models, 'Event' | 'Booking' | 'WaitlistEntry'>;
  clock: Clock;
  holdTtlMs: number;
  /** WAITLIST_OFFER_SECONDS in ms: how long a waitlist offer holds its tickets (src/waitlist). */
  waitlistOfferMs: number;
  /** BOOKING_TX_TIMEOUT_MS: how long one sale, confirm or cancel may take, queueing and retries included. */
  txTimeoutMs: number;
  /** Runs after every committed change to what an event has sold or held (read-cache invalidation). */
  salesChanged(eventId: string): Promise<void>;
}

export interface BookingDeps extends BookingSettings {
  /** Orders (and batches) this process's sales transactions per event. */
  desk: SalesDesk<CreateJob, BookingOutcome>;
}
