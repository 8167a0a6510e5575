import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { buildApp } from '../src/app.js';
import { type Config, loadConfig } from '../src/config.js';
import { type ManualClock, manualClock } from '../src/lib/clock.js';
import { generateTicketKey } from '../src/tickets/keys.js';

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  clock: ManualClock;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Environment overrides on top of the test defaults. */
  env?: Record<string, string | undefined>;
  clock?: ManualClock;
  logStream?: NodeJS.WritableStream;
  /** Runs before `ready()`, e.g. to add a route that fails on purpose. */
  extend?: (app: FastifyInstance) => void | Promise<void>;
}

/** A MongoDB URI naming a fresh database, so test files never see each other's data. */
export function freshDatabaseUri(name = `t_${randomBytes(6).toString('hex')}`): string {
  const url = new URL(inject('mongoUri'));
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The configuration of one test app: its own database and Redis key prefix, fast bcrypt, no rate
 * limits unless a test turns them on. `env` overrides any of it.
 */
export function testConfig(env: Record<string, string | undefined> = {}): Config {
  const id = randomBytes(6).toString('hex');
  return loadConfig({
    NODE_ENV: 'test',
    MONGODB_URI: freshDatabaseUri(`t_${id}`),
    REDIS_URL: inject('redisUrl'),
    REDIS_KEY_PREFIX: `test:${id}:`,
    JWT_SECRET: `test-secret-${id}-0123456789abcdefghij`,
    BCRYPT_COST: '4',
    RATE_LIMIT_ENABLED: 'false',
    ...env,
  });
}

/** Builds a full app per test file: real MongoDB (or the emulator) over a socket, real Redis. */
/**
 * For tests that move the clock by hours or days (property tests, and fast-check shrinking a
 * failure replays a run many times): access tokens and sessions outlive that, so a real failure is
 * never hidden behind a 401.
 */
export const LONG_LIVED_SESSIONS = {
  ACCESS_TOKEN_TTL_SECONDS: String(365 * 86_400),
  REFRESH_TOKEN_TTL_SECONDS: String(365 * 86_400),
} as const;

export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig(options.env);
  const clock = options.clock ?? manualClock(new Date());
  const app = await buildApp(config, { clock, logStream: options.logStream });
  await options.extend?.(app);
  await app.ready();
  return {
    app,
    config,
    clock,
    async close() {
      await app.db.dropDatabase().catch(() => undefined);
      await clearRedisPrefix(config);
      await app.close();
    },
  };
}

/**
 * Another instance of the same deployment as `t`: the same database, Redis prefix, token secret and
 * clock, but its own sales desk, so only the event-document write orders the two (DESIGN.md 1).
 */
export function buildSiblingApp(t: TestApp, env: Record<string, string | undefined> = {}): Promise<TestApp> {
  const shared = { MONGODB_URI: t.config.MONGODB_URI, REDIS_KEY_PREFIX: t.config.REDIS_KEY_PREFIX, JWT_SECRET: t.config.JWT_SECRET };
  return buildTestApp({ env: { ...env, ...shared }, clock: t.clock });
}

/** Two instances of one deployment (`t` and a sibling of it), for tests that race them. */
export interface InstancePair {
  t: TestApp;
  second: TestApp;
  /** The sibling's connections only (its close() would drop the database `t` still uses), then `t`. */
  close(): Promise<void>;
}

export async function buildTwoInstances(env: Record<string, string | undefined> = {}): Promise<InstancePair> {
  // One deployment, one ticket signing key: a ticket sold on one instance checks in on the other.
  const deployment = { TICKET_SIGNING_KEY: JSON.stringify(await generateTicketKey()), ...env };
  const t = await buildTestApp({ env: deployment });
  const second = await buildSiblingApp(t, deployment);
  return {
    t,
    second,
    async close() {
      await second.app.close();
      await t.close();
    },
  };
}

async function clearRedisPrefix(config: Config): Promise<void> {
  if (!config.REDIS_URL) return;
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined); // Tests point some apps at a Redis that is down on purpose.
  try {
    await redis.connect();
    const keys = await redis.keys(`${config.REDIS_KEY_PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
  } catch {
    // Cleanup is best effort; every test app uses its own prefix anyway.
  } finally {
    redis.disconnect();
  }
}
