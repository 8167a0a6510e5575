import type { FastifyInstance } from 'fastify';

/** Accounts: /auth/* and /users/* (API.md Accounts). Being built under issue 4. */
export default async function authRoutes(_app: FastifyInstance): Promise<void> {}
