import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidateEventCache } from '../events/cache.js';
import { createBookingDeps } from './service.js';
import type { BookingDeps, IdempotencyStamp } from './types.js';

/** The bookings' dependencies as the app provides them: one place for every route plugin that sells (bookings, waitlist). */
export function bookingDepsOf(app: FastifyInstance): BookingDeps {
  return createBookingDeps({
    db: app.db,
    models: app.models,
    clock: app.clock,
    holdTtlMs: app.config.HOLD_TTL_SECONDS * 1000,
    waitlistOfferMs: app.config.WAITLIST_OFFER_SECONDS * 1000,
    txTimeoutMs: app.config.BOOKING_TX_TIMEOUT_MS,
    // Listing pages are left to their TTL (events/listing-cache.ts): a sale is not a listing change.
    salesChanged: (eventId) => invalidateEventCache(app.kv, eventId, app.log, { listings: false }),
    outbox: app.outbox,
    payments: app.payments?.forBookings ?? null,
    ticketKeys: app.ticketKeys,
  });
}

/** The request's Idempotency-Key and body fingerprint, on a route that honours the key. */
export function stampOf(request: FastifyRequest): IdempotencyStamp | undefined {
  const ctx = request.idempotency;
  return ctx ? { key: ctx.key, fingerprint: ctx.fingerprint } : undefined;
}
