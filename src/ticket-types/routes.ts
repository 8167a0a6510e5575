import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Actor } from '../events/access.js';
import { ifMatchHeaders } from '../events/schemas.js';
import { parseIfMatch } from '../events/service.js';
import { envelope, idParams, ok, problemSchema } from '../lib/http.js';
import { createTicketTypeBody, ticketTypeParams, ticketTypeSchema, updateTicketTypeBody } from './schemas.js';
import { createTicketType, deleteTicketType, listTicketTypes, updateTicketType } from './service.js';

// Problems may carry extra members (CAPACITY_BELOW_SOLD has minimumCapacity), so the documented shape is open.
const problem = problemSchema.loose();
const bearer = [{ bearerAuth: [] }];
const optionalBearer: { [scheme: string]: string[] }[] = [{}, { bearerAuth: [] }];
const tags = ['ticket types'];

const actorOf = (request: FastifyRequest): Actor | undefined =>
  request.auth ? { userId: request.auth.userId, role: request.auth.role } : undefined;

/** Ticket types: /events/:id/ticket-types (API.md Ticket types). Thin: the rules live in service.ts. */
export default async function ticketTypeRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const manage = app.requireRole('organizer', 'admin');
  const changeProblems = { 400: problem, 401: problem, 403: problem, 404: problem, 409: problem, 412: problem };

  app.post(
    '/:id/ticket-types',
    {
      onRequest: manage,
      schema: {
        tags,
        security: bearer,
        summary: 'Add a ticket type to an event (its capacity draws on the event’s shared quota)',
        params: idParams,
        headers: ifMatchHeaders,
        body: createTicketTypeBody,
        response: { 201: envelope(ticketTypeSchema), ...changeProblems },
        responseHeaders: { 201: ['ETag'] },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const ifMatch = parseIfMatch(request.headers['if-match'], id);
      const { ticketType, etag } = await createTicketType(app, id, actorOf(request), request.body, ifMatch);
      return reply.code(201).header('etag', etag).send(ok(ticketType));
    },
  );

  app.get(
    '/:id/ticket-types',
    {
      onRequest: app.authenticateOptional,
      schema: {
        tags,
        security: optionalBearer,
        summary: "An event's ticket types by position, with availability; hidden ones only for its organizer and admins",
        params: idParams,
        response: { 200: envelope(z.array(ticketTypeSchema)), 400: problem, 401: problem, 404: problem },
      },
    },
    async (request) => ok(await listTicketTypes(app, request.params.id, actorOf(request))),
  );

  app.patch(
    '/:id/ticket-types/:typeId',
    {
      onRequest: manage,
      schema: {
        tags,
        security: bearer,
        summary: 'Change a ticket type; capacity below its sold and held tickets is 409 CAPACITY_BELOW_SOLD',
        params: ticketTypeParams,
        headers: ifMatchHeaders,
        body: updateTicketTypeBody,
        response: { 200: envelope(ticketTypeSchema), ...changeProblems },
        responseHeaders: { 200: ['ETag'] },
      },
    },
    async (request, reply) => {
      const { id, typeId } = request.params;
      const ifMatch = parseIfMatch(request.headers['if-match'], id);
      const { ticketType, etag } = await updateTicketType(app, id, typeId, actorOf(request), request.body, ifMatch);
      return reply.header('etag', etag).send(ok(ticketType));
    },
  );

  app.delete(
    '/:id/ticket-types/:typeId',
    {
      onRequest: manage,
      schema: {
        tags,
        security: bearer,
        summary: 'Delete a ticket type nothing was ever sold or held of (409 TICKET_TYPE_HAS_BOOKINGS otherwise)',
        params: ticketTypeParams,
        headers: ifMatchHeaders,
        response: { 204: z.null().describe('Deleted'), ...changeProblems },
      },
    },
    async (request, reply) => {
      const { id, typeId } = request.params;
      await deleteTicketType(app, id, typeId, actorOf(request), parseIfMatch(request.headers['if-match'], id));
      return reply.code(204).send(null);
    },
  );
}
