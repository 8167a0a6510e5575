import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { signedInActor } from '../auth/guard.js';
import { envelope, idParams, ok, paged, pagedEnvelope, problemSchema } from '../lib/http.js';
import { createVenueBody, listVenuesQuery, PLAN_BODY_LIMIT_BYTES, updateVenueBody, venueSchema } from './schemas.js';
import { createVenue, getVenue, listVenues, updateVenue, type VenueDeps } from './service.js';

const problem = problemSchema.loose();
// SEATS_IN_USE names the seats a plan may not lose; documented, and kept by the serializer.
const seatsInUseProblem = problemSchema.extend({ seats: z.array(z.string()).optional() }).loose();
const bearer = [{ bearerAuth: [] }];
// Anyone may read venues; a token, if sent, must be valid (`{}` is OpenAPI's "no credentials").
const optionalBearer: { [scheme: string]: string[] }[] = [{}, { bearerAuth: [] }];
const tags = ['venues'];

export interface VenueRoutesOptions {
  /** Called after a change of a venue's seat set is stored (service.ts VenueDeps); default: nothing. */
  venueChanged?: (venueId: string) => Promise<void>;
}

/** Venues and their seating plans: /venues/* (API.md Venues). Thin: the rules live in plan.ts and service.ts. */
export default async function venueRoutes(fastify: FastifyInstance, options: VenueRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const manage = app.requireRole('organizer', 'admin');
  const deps: VenueDeps = { models: app.models, log: app.log, clock: app.clock, venueChanged: options.venueChanged ?? (async () => undefined) };

  app.post(
    // '' not '/': the path is exactly /api/v1/venues, as API.md and the OpenAPI document say.
    '',
    {
      onRequest: manage,
      bodyLimit: PLAN_BODY_LIMIT_BYTES,
      schema: {
        tags,
        security: bearer,
        summary: 'Create a venue with its seating plan (up to 20,000 seats); missing ids are generated',
        body: createVenueBody,
        response: { 201: envelope(venueSchema), 400: problem, 401: problem, 403: problem },
        responseHeaders: { 201: ['Location'] },
      },
    },
    async (request, reply) => {
      const venue = await createVenue(deps, signedInActor(request), request.body);
      return reply.code(201).header('location', `${request.url.split('?')[0]!.replace(/\/$/, '')}/${venue.id}`).send(ok(venue));
    },
  );

  app.get(
    '',
    {
      onRequest: app.authenticateOptional,
      schema: {
        tags,
        security: optionalBearer,
        summary: 'Venues, newest first, each with its whole seating plan',
        querystring: listVenuesQuery,
        response: { 200: pagedEnvelope(venueSchema), 400: problem, 401: problem },
      },
    },
    async (request) => {
      const { page, limit } = request.query;
      const { items, total } = await listVenues(deps, page, limit);
      return paged(items, page, limit, total);
    },
  );

  app.get(
    '/:id',
    {
      onRequest: app.authenticateOptional,
      schema: {
        tags,
        security: optionalBearer,
        summary: 'One venue with its seating plan',
        params: idParams,
        response: { 200: envelope(venueSchema), 400: problem, 401: problem, 404: problem },
      },
    },
    async (request) => ok(await getVenue(deps, request.params.id)),
  );

  app.patch(
    '/:id',
    {
      onRequest: manage,
      bodyLimit: PLAN_BODY_LIMIT_BYTES,
      schema: {
        tags,
        security: bearer,
        summary: 'Change a venue; sections replaces the whole plan, which may only gain seats while a published event uses it',
        params: idParams,
        body: updateVenueBody,
        response: { 200: envelope(venueSchema), 400: problem, 401: problem, 403: problem, 404: problem, 409: seatsInUseProblem },
      },
    },
    async (request) => ok(await updateVenue(deps, request.params.id, signedInActor(request), request.body)),
  );
}
