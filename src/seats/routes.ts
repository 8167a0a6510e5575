import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { idParams, problemSchema, sendSerialized } from '../lib/http.js';
import { getSeatMap } from './map.js';
import { seatMapAnswer } from './schemas.js';

const optionalBearer: { [scheme: string]: string[] }[] = [{}, { bearerAuth: [] }];

/** Seats: GET /events/:id/seats (API.md Venues and seats). Buying seats is POST /bookings with `seats`. */
export default async function seatRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/:id/seats',
    {
      onRequest: app.authenticateOptional,
      schema: {
        tags: ['seats'],
        security: optionalBearer,
        summary: "A seated event's seat map: every seat it sells with its status (available, held, sold) and ticket type",
        params: idParams,
        response: { 200: seatMapAnswer, 400: problemSchema.loose(), 401: problemSchema.loose(), 404: problemSchema.loose() },
      },
    },
    async (request, reply) => {
      const actor = request.auth ? { userId: request.auth.userId, role: request.auth.role } : undefined;
      return sendSerialized(reply, await getSeatMap(app, request.params.id, actor));
    },
  );
}
