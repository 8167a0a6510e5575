import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidateEventCache } from '../events/cache.js';
import type { KeyValueStore } from '../lib/kv.js';
import { type SalesTurns, salesTurns } from './sales-turns.js';
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
    turns: turnsOf(app.kv),
  });
}

// One set of turns per app (its instance id), whichever of its plugins sells; none without Redis
// (a single instance has nobody to take turns with).
const turnsByStore = new WeakMap<KeyValueStore, SalesTurns>();
function turnsOf(kv: KeyValueStore): SalesTurns | undefined {
  if (kv.kind !== 'redis') return undefined;
  let turns = turnsByStore.get(kv);
  if (!turns) turnsByStore.set(kv, (turns = salesTurns(kv)));
  return turns;
}

/** The request's Idempotency-Key and body fingerprint, on a route that honours the key. */
export function stampOf(request: FastifyRequest): IdempotencyStamp | undefined {
  const ctx = request.idempotency;
  return ctx ? { key: ctx.key, fingerprint: ctx.fingerprint } : undefined;
}
