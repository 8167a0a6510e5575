import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import { type KeyValueStore, memoryStore, redisStore } from '../lib/kv.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The Redis client, or null in single-instance mode (no REDIS_URL). */
    redis: Redis | null;
    /** Redis-backed key-value store, or the in-memory one in single-instance mode. */
    kv: KeyValueStore;
  }
}

export interface RedisPluginOptions {
  /** A client to use instead of connecting (serverless reuse across invocations). */
  client?: Redis;
}

async function redisPlugin(app: FastifyInstance, opts: RedisPluginOptions): Promise<void> {
  const { REDIS_URL, REDIS_KEY_PREFIX } = app.config;
  if (!REDIS_URL && !opts.client) {
    app.log.warn('REDIS_URL is not set: idempotency records and rate-limit counts live in memory (single-instance mode)');
    app.decorate('redis', null);
    app.decorate('kv', memoryStore());
    return;
  }

  // Fail fast instead of queueing while Redis is down: every caller degrades without it
  // (DESIGN.md 6), so a quick error is better than a request that hangs.
  const client =
    opts.client ??
    new Redis(REDIS_URL as string, {
      keyPrefix: REDIS_KEY_PREFIX,
      lazyConnect: true,
      // Commands issued in the same tick share one socket write: on the replay and cached-read
      // paths the per-command writes were the largest single cost in load profiles (BENCHMARKS.md).
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 1000,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
  client.on('error', (err: Error) => app.log.warn({ err: err.message }, 'redis error'));

  if (!opts.client) {
    try {
      await client.connect();
    } catch (err) {
      // Start anyway: reads and sales keep working, readiness reports Redis as down.
      app.log.warn({ err: (err as Error).message }, 'redis unreachable at start-up; running degraded');
    }
  }

  app.decorate('redis', client);
  app.decorate('kv', redisStore(client));
  if (!opts.client) {
    app.addHook('onClose', async () => {
      await client.quit().catch(() => client.disconnect());
    });
  }
}

export default fp(redisPlugin, { name: 'redis', dependencies: ['config'] });
