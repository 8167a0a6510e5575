import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  envelope,
  idParams,
  ok,
  paged,
  pagedEnvelope,
  problemSchema,
  sendSerialized,
  serializeAnswer,
} from '../lib/http.js';
import type { Actor } from './access.js';
import { cachedListing } from './listing-cache.js';
import { listEventBookings, listEvents } from './queries.js';
import { getAvailability, getEvent } from './reads.js';
import {
  availabilityAnswer,
  createEventBody,
  eventBookingSchema,
  eventBookingsQuery,
  eventAnswer,
  eventSchema,
  ifMatchHeaders,
  listEventsQuery,
  updateEventBody,
} from './schemas.js';
import { cancelEvent, createEvent, deleteEvent, parseIfMatch, publishEvent, updateEvent } from './service.js';

// Problems may carry extra members (e.g. minimumTotalTickets), so the documented shape is open.
const problem = problemSchema.loose();
const bearer = [{ bearerAuth: [] }];
// Anyone may call these; a token, if sent, must be valid (`{}` is OpenAPI's "no credentials").
const optionalBearer: { [scheme: string]: string[] }[] = [{}, { bearerAuth: [] }];
const tags = ['events'];
const listingAnswer = pagedEnvelope(eventSchema);

const actorOf = (request: FastifyRequest): Actor | undefined =>
  request.auth ? { userId: request.auth.userId, role: request.auth.role } : undefined;

/** Events: /events/* (API.md Events). Thin: input and output shapes here, rules in service/queries/reads. */
export default async function eventRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const manage = app.requireRole('organizer', 'admin');

  app.post(
    // '' not '/': the path is exactly /api/v1/events, as API.md and the OpenAPI document say.
    '',
    {
      onRequest: manage,
      schema: {
        tags,
        security: bearer,
        summary: 'Create an event (draft unless status is published)',
        body: createEventBody,
        response: { 201: envelope(eventSchema), 400: problem, 401: problem, 403: problem },
        responseHeaders: { 201: ['ETag', 'Location'] },
      },
    },
    async (request, reply) => {
      const { event, etag } = await createEvent(app, actorOf(request)!, request.body);
      return reply.code(201).header('etag', etag).header('location', `${request.url.split('?')[0].replace(/\/$/, '')}/${event.id}`).send(ok(event));
    },
  );

  app.get(
    '',
    {
      // Like the other public reads: anonymous without a header, 401 for a bad or expired token.
      // Who calls changes nothing here: the list is published events only, for admins too.
      onRequest: app.authenticateOptional,
      schema: {
        tags,
        security: optionalBearer,
        summary: 'Published events, with computed availability',
        querystring: listEventsQuery,
        response: { 200: listingAnswer, 400: problem, 401: problem },
      },
    },
    async (request, reply) => {
      // Whole pages, serialized, from the listing cache (listing-cache.ts); built at most once per TTL.
      const body = await cachedListing(app, request.query, async () => {
        const { data, total } = await listEvents(app, request.query);
        return serializeAnswer(listingAnswer, paged(data, request.query.page, request.query.limit, total));
      });
      return sendSerialized(reply, body);
    },
  );

  app.get(
    '/:id',
    {
      onRequest: app.authenticateOptional,
      schema: {
        tags,
        security: optionalBearer,
        summary: 'One event; drafts only for their organizer and admins',
        params: idParams,
        response: { 200: eventAnswer, 400: problem, 401: problem, 404: problem },
        responseHeaders: { 200: ['ETag'] },
      },
    },
    async (request, reply) => {
      // Already serialized through eventAnswer (reads.ts), usually straight from the cache.
      const { body, etag } = await getEvent(app, request.params.id, actorOf(request));
      return sendSerialized(reply.header('etag', etag), body);
    },
  );

  app.get(
    '/:id/availability',
    {
      onRequest: app.authenticateOptional,
      schema: {
        tags,
        security: optionalBearer,
        summary: "An event's ticket counts, computed now",
        params: idParams,
        response: { 200: availabilityAnswer, 400: problem, 401: problem, 404: problem },
      },
    },
    async (request, reply) => {
      // Already serialized through availabilityAnswer (reads.ts), usually straight from the cache.
      const body = await getAvailability(app, request.params.id, actorOf(request));
      return sendSerialized(reply, body);
    },
  );

  app.patch(
    '/:id',
    {
      onRequest: manage,
      schema: {
        tags,
        security: bearer,
        summary: 'Change an event; honours If-Match with its ETag',
        params: idParams,
        headers: ifMatchHeaders,
        body: updateEventBody,
        response: {
          200: envelope(eventSchema),
          400: problem,
          401: problem,
          403: problem,
          404: problem,
          409: problem,
          412: problem,
        },
        responseHeaders: { 200: ['ETag'] },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const ifMatch = parseIfMatch(request.headers['if-match'], id);
      const { event, etag } = await updateEvent(app, id, actorOf(request), request.body, ifMatch);
      return reply.header('etag', etag).send(ok(event));
    },
  );

  const transition = (path: string, summary: string, run: typeof publishEvent) =>
    app.post(
      path,
      {
        onRequest: manage,
        schema: {
          tags,
          security: bearer,
          summary,
          params: idParams,
          response: { 200: envelope(eventSchema), 400: problem, 401: problem, 403: problem, 404: problem, 409: problem },
          responseHeaders: { 200: ['ETag'] },
        },
      },
      async (request, reply) => {
        const { event, etag } = await run(app, request.params.id, actorOf(request));
        return reply.header('etag', etag).send(ok(event));
      },
    );
  transition('/:id/publish', 'Publish a draft', publishEvent);
  transition('/:id/cancel', 'Cancel the event and every pending and confirmed booking of it', cancelEvent);

  app.delete(
    '/:id',
    {
      onRequest: manage,
      schema: {
        tags,
        security: bearer,
        summary: 'Delete a draft, or an event with no pending or confirmed bookings',
        params: idParams,
        response: { 204: z.null().describe('Deleted'), 400: problem, 401: problem, 403: problem, 404: problem, 409: problem },
      },
    },
    async (request, reply) => {
      await deleteEvent(app, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/:id/bookings',
    {
      onRequest: manage,
      schema: {
        tags,
        security: bearer,
        summary: "The event's bookings with their buyers",
        params: idParams,
        querystring: eventBookingsQuery,
        response: { 200: pagedEnvelope(eventBookingSchema), 400: problem, 401: problem, 403: problem, 404: problem },
      },
    },
    async (request) => {
      const { data, total } = await listEventBookings(app, request.params.id, actorOf(request), request.query);
      return paged(data, request.query.page, request.query.limit, total);
    },
  );
}
