import type { FastifyInstance } from 'fastify';

/** Events: /events/* (API.md Events). Being built under issue 5. */
export default async function eventRoutes(_app: FastifyInstance): Promise<void> {}
