import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { REDACTED_PATHS } from '../lib/logger.js';

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

/** The field naming the request id on every log line (app.ts passes it to Fastify too). */
export const REQUEST_ID_LOG_LABEL = 'requestId';

const LINE_FIELDS = [REQUEST_ID_LOG_LABEL, 'method', 'route', 'url', 'status', 'durationMs', 'userId'];

/** Echoes the request id and writes exactly one log line per request. */
async function requestContext(app: FastifyInstance): Promise<void> {
  // The per-request line is a fixed set of strings and numbers that no redaction path names (only
  // a top-level path, its own name or '*', could reach a string or number), so redacting it changes
  // nothing; it only cost time (about 4% of a replay's CPU in load profiles). Every other log call
  // keeps redaction, and so does this line if a path ever names one of its fields.
  const redactsLine = REDACTED_PATHS.some((path) => path === '*' || LINE_FIELDS.includes(path));
  const lines = redactsLine ? app.log : app.log.child({}, { redact: [] });

  // Callback hooks, not async ones: no promise per request for work that never waits.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    // A route or plugin with a log level of its own keeps it for this line too.
    writeRequestLine(request.log.level === lines.level ? lines : request.log, request, reply);
    done();
  });
}

/**
 * The one line per request. Also written by the app's frameworkErrors handler: the router answers
 * malformed URLs before any hook runs, so onResponse never sees those requests.
 */
export function writeRequestLine(log: FastifyBaseLogger, request: FastifyRequest, reply: FastifyReply): void {
  const status = reply.statusCode;
  const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
  log[level](
    {
      [REQUEST_ID_LOG_LABEL]: request.id,
      method: request.method,
      route: request.routeOptions?.url ?? 'not-found',
      url: request.url,
      status,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      userId: request.userId,
    },
    'request completed',
  );
}

export default fp(requestContext, { name: 'request-context' });
