import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { AppError } from '../lib/errors.js';

/** Routes with the tighter per-IP limit of API.md Rate limits. */
const CREDENTIAL_ROUTES = new Set(['/api/v1/auth/login', '/api/v1/auth/register']);

type IncrCallback = (err: Error | null, result?: { current: number; ttl: number }) => void;

/** Per-instance fixed-window counts: the whole store without Redis, and the fallback when it is down. */
class LocalCounts {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  incr(key: string, windowMs: number): { current: number; ttl: number } {
    const now = Date.now();
    let entry = this.windows.get(key);
    if (!entry || entry.resetAt <= now) {
      entry = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, entry);
      if (this.windows.size > 50_000) this.prune(now);
    }
    entry.count += 1;
    return { current: entry.count, ttl: entry.resetAt - now };
  }

  private prune(now: number): void {
    for (const [key, entry] of this.windows) if (entry.resetAt <= now) this.windows.delete(key);
  }
}

// INCR and set the window's expiry on the first hit, atomically, and report what is left of it.
const INCR_WINDOW = `
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return { current, ttl }`;

/**
 * A store for @fastify/rate-limit that counts in Redis, so every instance shares the count,
 * and counts per instance while Redis is unreachable rather than failing or letting all through.
 */
function sharedStore(redis: Redis | null, local: LocalCounts, prefix: string, windowMs: number) {
  return class SharedStore {
    // The plugin passes the route's window as a third argument; its type only declares two.
    incr(key: string, callback: IncrCallback, timeWindow: number = windowMs): void {
      const fullKey = `${prefix}${key}`;
      if (!redis || redis.status !== 'ready') {
        callback(null, local.incr(fullKey, timeWindow));
        return;
      }
      redis.eval(INCR_WINDOW, 1, `ratelimit:${fullKey}`, timeWindow).then(
        (result) => {
          const [current, ttl] = result as [number, number];
          callback(null, { current, ttl });
        },
        () => callback(null, local.incr(fullKey, timeWindow)),
      );
    }

    // Called for routes with their own limit; the plugin passes the route as `routeInfo`.
    child(routeOptions: object) {
      const route = (routeOptions as { routeInfo?: { method?: string; url?: string } }).routeInfo ?? {};
      const Child = sharedStore(redis, local, `${prefix}${route.method ?? ''}${route.url ?? ''}:`, windowMs);
      return new Child();
    }
  };
}

async function rateLimitPlugin(app: FastifyInstance): Promise<void> {
  const { RATE_LIMIT_ENABLED, RATE_LIMIT_MAX, RATE_LIMIT_AUTH_MAX, RATE_LIMIT_WINDOW_MS } = app.config;
  if (!RATE_LIMIT_ENABLED) {
    app.log.warn('rate limits are disabled (RATE_LIMIT_ENABLED=false); use this for load runs only');
    return;
  }

  // Must run before the rate-limit plugin's own onRoute hook reads the route's config.
  app.addHook('onRoute', (route) => {
    if (CREDENTIAL_ROUTES.has(route.url)) {
      route.config = { ...(route.config as object), rateLimit: { max: RATE_LIMIT_AUTH_MAX } };
    }
  });

  await app.register(rateLimit, {
    global: true,
    max: RATE_LIMIT_MAX,
    timeWindow: RATE_LIMIT_WINDOW_MS,
    enableDraftSpec: true,
    store: sharedStore(app.redis, new LocalCounts(), '', RATE_LIMIT_WINDOW_MS),
    keyGenerator: (request) => request.ip,
    errorResponseBuilder: (_request, context) =>
      new AppError(429, 'RATE_LIMITED', `Too many requests; retry in ${Math.max(1, Math.ceil(context.ttl / 1000))} s`, {
        headers: { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
      }),
  });
}

export default fp(rateLimitPlugin, { name: 'rate-limit', dependencies: ['config', 'redis'] });
