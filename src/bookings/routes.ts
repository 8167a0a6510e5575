import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { invalidateEventCache } from '../events/cache.js';
import { unauthenticated } from '../lib/errors.js';
import { envelope, idParams, ok, paged, pagedEnvelope } from '../lib/http.js';
import type { PaymentView } from '../payments/schemas.js';
import type { BookingFields } from './booking.model.js';
import idempotency from './idempotency.js';
import {
  bookingProblem,
  bookingSchema,
  confirmBookingBody,
  createBookingBody,
  listBookingsQuery,
  type BookingView,
  toBookingView,
} from './schemas.js';
import {
  type Actor,
  cancelBooking,
  confirmBooking,
  createBooking,
  createBookingDeps,
  getBooking,
  type IdempotencyStamp,
  listBookings,
} from './service.js';
import type { BookingPayments } from './types.js';

const tags = ['bookings'];
const security = [{ bearerAuth: [] }];
// Documents the header for OpenAPI; the idempotency plugin checks it. Optional here on purpose:
// were it required, validation would answer a missing key with VALIDATION_FAILED before the plugin
// could answer API.md's 400 IDEMPOTENCY_KEY_REQUIRED. plugins/docs.ts marks it required in the
// document of every `idempotent` route, which is what the API demands.
// Loose: the validated object replaces request.headers, so every other header must pass through.
const idempotencyHeader = z.looseObject({
  'idempotency-key': z
    .string()
    .optional()
    .describe(
      'Required: missing or empty is 400 IDEMPOTENCY_KEY_REQUIRED. Up to 255 visible ASCII characters, ' +
        'bare or as a structured-field string ("abc"); anything else is 400 IDEMPOTENCY_KEY_INVALID.',
    ),
});
const problems = { 400: bookingProblem, 401: bookingProblem, 403: bookingProblem, 404: bookingProblem };

function actorOf(request: FastifyRequest): Actor {
  if (!request.auth) throw unauthenticated();
  return { userId: request.auth.userId, role: request.auth.role };
}

/** Booking views with each booking's latest payment (null without a payment provider). */
async function viewsOf(
  payments: BookingPayments | null,
  bookings: BookingFields[],
  viewerId: string,
  now: Date,
): Promise<BookingView[]> {
  const latest = payments ? await payments.latestOf(bookings, viewerId) : new Map<string, PaymentView>();
  return bookings.map((b) => toBookingView(b, now, latest.get(String(b._id)) ?? null));
}

function stampOf(request: FastifyRequest): IdempotencyStamp | undefined {
  const ctx = request.idempotency;
  return ctx ? { key: ctx.key, fingerprint: ctx.fingerprint } : undefined;
}

/** Bookings: /bookings/* (API.md Bookings, Idempotency). Thin: the rules live in service.ts. */
export default async function bookingRoutes(app: FastifyInstance): Promise<void> {
  await app.register(idempotency);
  const api = app.withTypeProvider<ZodTypeProvider>();

  const deps = createBookingDeps({
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

  api.post(
    // '' not '/': the path is exactly /api/v1/bookings, as API.md and the OpenAPI document say.
    '',
    {
      config: { idempotent: true },
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Book tickets: a 10-minute hold for a paid event, confirmed tickets for a free one',
        headers: idempotencyHeader,
        body: createBookingBody,
        response: {
          201: envelope(bookingSchema),
          ...problems,
          409: bookingProblem,
          422: bookingProblem,
          503: bookingProblem,
        },
      },
    },
    async (request, reply) => {
      const outcome = await createBooking(deps, actorOf(request), request.body, stampOf(request));
      if (outcome.replayed) reply.header('idempotent-replayed', 'true');
      const [view] = await viewsOf(deps.payments ?? null, [outcome.booking], actorOf(request).userId, app.clock.now());
      return reply.code(201).send(ok(view));
    },
  );

  api.post(
    '/:id/confirm',
    {
      config: { idempotent: true },
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Confirm (pay for) a pending hold; issues one ticket number per ticket',
        headers: idempotencyHeader,
        params: idParams,
        body: confirmBookingBody,
        response: {
          200: envelope(bookingSchema),
          ...problems,
          // With a payment provider: no succeeded payment yet (src/payments).
          402: bookingProblem,
          409: bookingProblem,
          410: bookingProblem,
          422: bookingProblem,
          503: bookingProblem,
        },
      },
    },
    async (request, reply) => {
      const outcome = await confirmBooking(
        deps,
        actorOf(request),
        request.params.id,
        request.body ?? {},
        stampOf(request),
      );
      if (outcome.replayed) reply.header('idempotent-replayed', 'true');
      const [view] = await viewsOf(deps.payments ?? null, [outcome.booking], actorOf(request).userId, app.clock.now());
      return ok(view);
    },
  );

  api.patch(
    '/:id/cancel',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Cancel a booking and release its tickets; repeating it changes nothing',
        description:
          'Allowed for the owner, the event organizer and admins. A booking that holds nothing any more ' +
          '(already cancelled, or an expired hold) is answered unchanged with 200.',
        params: idParams,
        response: { 200: envelope(bookingSchema), ...problems, 503: bookingProblem },
      },
    },
    async (request) => {
      const booking = await cancelBooking(deps, actorOf(request), request.params.id);
      const [view] = await viewsOf(deps.payments ?? null, [booking], actorOf(request).userId, app.clock.now());
      return ok(view);
    },
  );

  api.get(
    '',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: "The caller's bookings, newest first",
        querystring: listBookingsQuery,
        response: { 200: pagedEnvelope(bookingSchema), ...problems },
      },
    },
    async (request) => {
      const { page, limit, status } = request.query;
      const { items, total } = await listBookings(deps, actorOf(request), { page, limit, status });
      const now = app.clock.now();
      return paged(
        await viewsOf(deps.payments ?? null, items, actorOf(request).userId, now),
        page,
        limit,
        total,
      );
    },
  );

  api.get(
    '/:id',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'One booking (its owner, the event organizer, admins)',
        params: idParams,
        response: { 200: envelope(bookingSchema), ...problems },
      },
    },
    async (request) => {
      const booking = await getBooking(deps, actorOf(request), request.params.id);
      const [view] = await viewsOf(deps.payments ?? null, [booking], actorOf(request).userId, app.clock.now());
      return ok(view);
    },
  );
}
