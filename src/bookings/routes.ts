import type { FastifyInstance } from 'fastify';

/** Bookings: /bookings/* (API.md Bookings, Idempotency). Being built under issue 6. */
export default async function bookingRoutes(_app: FastifyInstance): Promise<void> {}
