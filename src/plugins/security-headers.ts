import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * Helmet's protective headers (CSP, HSTS, X-Content-Type-Options, X-Frame-Options, ...) on every
 * answer, JSON and the /docs HTML alike.
 *
 * @fastify/helmet builds a new helmet middleware for every request, which parses the CSP directives
 * and runs a dozen middlewares each time (about 9% of the server's CPU on replays and cached reads
 * in load profiles, BENCHMARKS.md). With static options the result never changes, so helmet runs
 * once here, against a recording response, and each request only copies the recorded headers.
 */
export function helmetHeaders(options: HelmetOptions = {}): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: number | string | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
      return recorder;
    },
    // Helmet removes X-Powered-By, which neither Node nor Fastify ever set.
    removeHeader() {},
  };
  let finished = false;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
    finished = true;
  });
  // Dynamic directives (nonces, functions of the request) would make a per-request value.
  if (!finished) throw new Error('helmet did not finish synchronously; its headers cannot be precomputed');
  return headers;
}

export interface SecurityHeadersOptions {
  helmet?: HelmetOptions;
}

async function securityHeaders(app: FastifyInstance, opts: SecurityHeadersOptions): Promise<void> {
  const headers = Object.entries(helmetHeaders(opts.helmet));
  // Set when the request arrives, as helmet did, so a route that sets one of them itself wins.
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of headers) reply.header(name, value);
    done();
  });
}

export default fp(securityHeaders, { name: 'security-headers' });
