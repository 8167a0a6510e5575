import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

const VISIBLE_ASCII = /^[\x21-\x7e]{1,128}$/;

/** API.md Conventions: honour the caller's X-Request-Id (or X-Correlation-ID) when sane. */
export function requestIdFrom(req: IncomingMessage): string {
  for (const name of ['x-request-id', 'x-correlation-id']) {
    const value = req.headers[name];
    if (typeof value === 'string' && VISIBLE_ASCII.test(value)) return value;
  }
  return randomUUID();
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth guard so the request's log line can name the user. */
    userId?: string;
  }
}

/** Echoes the request id and writes exactly one log line per request. */
async function requestContext(app: FastifyInstance): Promise<void> {
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
    request.log[level](
      {
        method: request.method,
        route: request.routeOptions.url ?? 'not-found',
        url: request.url,
        status,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
        userId: request.userId,
      },
      'request completed',
    );
  });
}

export default fp(requestContext, { name: 'request-context' });
