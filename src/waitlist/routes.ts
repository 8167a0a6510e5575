import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { signedInActor } from '../auth/guard.js';
import { bookingDepsOf, stampOf } from '../bookings/app-deps.js';
import idempotency from '../bookings/idempotency.js';
import { envelope, idParams, ok, paged, pagedEnvelope } from '../lib/http.js';
import { joinWaitlistBody, listWaitlistQuery, toEntryView, waitlistEntrySchema, waitlistProblem } from './schemas.js';
import { joinWaitlist, leaveWaitlist, listWaitlist, myEntry } from './service.js';
import { startWaitlistSweeper } from './sweeper.js';

const tags = ['waitlist'];
const security = [{ bearerAuth: [] }];
const problems = { 400: waitlistProblem, 401: waitlistProblem, 403: waitlistProblem, 404: waitlistProblem };
// As on bookings (bookings/routes.ts): documented here, checked by the idempotency plugin.
const idempotencyHeader = z.looseObject({
  'idempotency-key': z
    .string()
    .optional()
    .describe('Required: missing or empty is 400 IDEMPOTENCY_KEY_REQUIRED; up to 255 visible ASCII characters.'),
});

/** The waitlist: /events/:id/waitlist* (API.md Waitlist). Thin: the rules live in service.ts and serve.ts. */
export default async function waitlistRoutes(app: FastifyInstance): Promise<void> {
  await app.register(idempotency);
  const api = app.withTypeProvider<ZodTypeProvider>();
  const deps = bookingDepsOf(app);
  if (app.config.WAITLIST_SWEEP_SECONDS > 0) {
    const stop = startWaitlistSweeper(deps, app.models, app.config.WAITLIST_SWEEP_SECONDS, app.log);
    app.addHook('onClose', async () => stop());
  }

  api.post(
    '/:id/waitlist',
    {
      config: { idempotent: true },
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Join the waitlist of a sold-out event or ticket type',
        description:
          'Only while the tickets asked for cannot be bought (409 TICKETS_AVAILABLE otherwise). Freed tickets are ' +
          'offered in queue order, first that fits, as a pending booking held for WAITLIST_OFFER_SECONDS.',
        headers: idempotencyHeader,
        params: idParams,
        body: joinWaitlistBody,
        response: { 201: envelope(waitlistEntrySchema), ...problems, 409: waitlistProblem, 422: waitlistProblem, 503: waitlistProblem },
      },
    },
    async (request, reply) => {
      const outcome = await joinWaitlist(deps, signedInActor(request), request.params.id, request.body, stampOf(request));
      if (outcome.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(201).send(ok(toEntryView(outcome.entry, outcome.position, app.clock.now())));
    },
  );

  api.get(
    '/:id/waitlist/me',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: "The caller's waitlist entry of the event, with its position (1 = next)",
        params: idParams,
        response: { 200: envelope(waitlistEntrySchema), ...problems },
      },
    },
    async (request) => {
      const { entry, position } = await myEntry(deps, signedInActor(request), request.params.id);
      return ok(toEntryView(entry, position, app.clock.now()));
    },
  );

  api.delete(
    '/:id/waitlist/me',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Leave the waitlist; an open offer is released to the next in line',
        params: idParams,
        response: { 204: z.null().describe('Left the waitlist'), ...problems, 503: waitlistProblem },
      },
    },
    async (request, reply) => {
      await leaveWaitlist(deps, signedInActor(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/:id/waitlist',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: "The event's waitlist in queue order (its organizer, admins)",
        params: idParams,
        querystring: listWaitlistQuery,
        response: { 200: pagedEnvelope(waitlistEntrySchema), ...problems },
      },
    },
    async (request) => {
      const { page, limit } = request.query;
      const { items, total } = await listWaitlist(deps, signedInActor(request), request.params.id, page, limit);
      const now = app.clock.now();
      return paged(
        items.map((i) => toEntryView(i.entry, i.position, now)),
        page,
        limit,
        total,
      );
    },
  );
}
