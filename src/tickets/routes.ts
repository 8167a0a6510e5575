import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { unauthenticated } from '../lib/errors.js';
import { envelope, idParams, ok, problemSchema } from '../lib/http.js';
import { qrFormatFor, renderQr } from './qr.js';
import { ticketDetailSchema, toTicketView } from './schemas.js';
import { type TicketActor, ticketForQr, visibleTicket } from './service.js';

const tags = ['tickets'];
const security = [{ bearerAuth: [] }];
const problems = { 401: problemSchema, 403: problemSchema, 404: problemSchema };

function actorOf(request: FastifyRequest): TicketActor {
  if (!request.auth) throw unauthenticated();
  return { userId: request.auth.userId, role: request.auth.role };
}

/** Tickets: /tickets/* (API.md Tickets and check-in). Thin: the rules live in service.ts. */
export default async function ticketRoutes(app: FastifyInstance): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/:id',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: "One ticket with its status and signed code (the booking's owner, the event organizer, admins)",
        params: idParams,
        response: { 200: envelope(ticketDetailSchema), ...problems },
      },
    },
    async (request) => {
      const { booking, ticket } = await visibleTicket(app.models, actorOf(request), request.params.id);
      return ok({ ...toTicketView(ticket, booking.status), bookingId: String(booking._id), eventId: String(booking.eventId) });
    },
  );

  api.get(
    '/:id/qr',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'The QR code of the ticket code: SVG by default, PNG when Accept prefers image/png',
        description:
          "Only the booking's owner. `Accept: image/png` (or any Accept that ranks image/png above image/svg+xml) " +
          'gives a PNG; anything else gives SVG. A void ticket is 410 TICKET_VOID.',
        params: idParams,
        responseMediaTypes: { 200: ['image/svg+xml', 'image/png'] },
        response: {
          200: z.unknown().describe('The QR image: image/svg+xml, or image/png when asked for'),
          ...problems,
          410: problemSchema,
        },
      },
    },
    async (request, reply) => {
      const ticket = await ticketForQr(app.models, actorOf(request), request.params.id);
      const format = qrFormatFor(request.headers.accept);
      const image = await renderQr(ticket.code, format);
      // The image is a bearer credential for the door: no shared cache may keep it.
      reply.header('cache-control', 'private, no-store').header('vary', 'Accept');
      reply.type(format === 'png' ? 'image/png' : 'image/svg+xml');
      // A string or Buffer goes out as it is (Fastify serializes only objects).
      return reply.send(image);
    },
  );
}
