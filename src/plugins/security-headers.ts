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

/**
 * Helmet's options for a request that came over plain HTTP. Helmet's default CSP sends
 * `upgrade-insecure-requests`, which makes a browser fetch every subresource of a page over https:
 * served over plain HTTP at a hostname or LAN address, /docs then loads its Swagger UI scripts
 * from an https origin that does not exist and stays blank (loopback is exempt, so it only shows
 * on other machines). The directive stays on for requests that arrived over TLS (directly, or by
 * X-Forwarded-Proto from a trusted proxy with TRUST_PROXY). HSTS is sent either way: browsers
 * ignore it over plain HTTP, and a TLS proxy not marked trusted still passes it on.
 */
export function plainHttpOptions(options: HelmetOptions = {}): HelmetOptions {
  const csp = typeof options.contentSecurityPolicy === 'object' ? options.contentSecurityPolicy : {};
  return {
    ...options,
    contentSecurityPolicy: options.contentSecurityPolicy === false ? false : { ...csp, directives: { ...csp.directives, upgradeInsecureRequests: null } },
  };
}

async function securityHeaders(app: FastifyInstance, opts: SecurityHeadersOptions): Promise<void> {
  const overTls = Object.entries(helmetHeaders(opts.helmet));
  const plainHttp = Object.entries(helmetHeaders(plainHttpOptions(opts.helmet)));
  // Set when the request arrives, as helmet did, so a route that sets one of them itself wins.
  app.addHook('onRequest', (request, reply, done) => {
    for (const [name, value] of request.protocol === 'https' ? overTls : plainHttp) reply.header(name, value);
    done();
  });
}

export default fp(securityHeaders, { name: 'security-headers' });
