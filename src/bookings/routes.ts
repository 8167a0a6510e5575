import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { signedInActor } from '../auth/guard.js';
import { envelope, idParams, ok, paged, pagedEnvelope } from '../lib/http.js';
import type { PaymentView } from '../payments/schemas.js';
import { bookingDepsOf, stampOf } from './app-deps.js';
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
  cancelBooking,
  confirmBooking,
  createBooking,
  getBooking,
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

/** Bookings: /bookings/* (API.md Bookings, Idempotency). Thin: the rules live in service.ts. */
export default async function bookingRoutes(app: FastifyInstance): Promise<void> {
  await app.register(idempotency);
  const api = app.withTypeProvider<ZodTypeProvider>();

  const deps = bookingDepsOf(app);

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
      const outcome = await createBooking(deps, signedInActor(request), request.body, stampOf(request));
      if (outcome.replayed) reply.header('idempotent-replayed', 'true');
      const [view] = await viewsOf(deps.payments ?? null, [outcome.booking], signedInActor(request).userId, app.clock.now());
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
        signedInActor(request),
        request.params.id,
        request.body ?? {},
        stampOf(request),
      );
      if (outcome.replayed) reply.header('idempotent-replayed', 'true');
      const [view] = await viewsOf(deps.payments ?? null, [outcome.booking], signedInActor(request).userId, app.clock.now());
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
      const booking = await cancelBooking(deps, signedInActor(request), request.params.id);
      const [view] = await viewsOf(deps.payments ?? null, [booking], signedInActor(request).userId, app.clock.now());
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
      const { items, total } = await listBookings(deps, signedInActor(request), { page, limit, status });
      const now = app.clock.now();
      return paged(
        await viewsOf(deps.payments ?? null, items, signedInActor(request).userId, now),
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
      const booking = await getBooking(deps, signedInActor(request), request.params.id);
      const [view] = await viewsOf(deps.payments ?? null, [booking], signedInActor(request).userId, app.clock.now());
      return ok(view);
    },
  );
}
