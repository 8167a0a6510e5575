import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { LoadOptions } from './options.js';
import { type Child, PROJECT_ROOT, startChild } from './processes.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PROFILE_DIR = join(PROJECT_ROOT, 'loadtest', 'results', 'profiles');

export interface Target {
  baseUrl: string;
  /** How the service under test runs, for the report. */
  description: string;
  admin: { email: string; password: string } | null;
  /** The Redis key prefix of a service this runner started (null for --url). */
  redisPrefix: string | null;
  children: Child[];
  stop(): Promise<void>;
}

function profileArgs(opts: LoadOptions, name: string): string[] {
  if (!opts.profile) return [];
  mkdirSync(PROFILE_DIR, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR, '--cpu-prof-name', `${name}-${Date.now()}.cpuprofile`];
}

/** The bare Fastify ceiling, always started here (it is a property of this machine). */
export async function startBaseline(opts: LoadOptions): Promise<Target> {
  const child = await startChild('baseline-server', 'loadtest/lib/children/baseline.ts', { ...process.env }, { nodeArgs: profileArgs(opts, 'baseline'), compiled: !opts.tsx });
  return {
    baseUrl: `http://127.0.0.1:${child.ready.port}`,
    description: `bare Fastify child process (pid ${child.pid})`,
    admin: null,
    redisPrefix: null,
    children: [child],
    stop: async () => void (await child.stop()),
  };
}

/**
 * The service under test: `--url`, or a child process running startServer on a free port with
 * rate limits lifted (load runs only), a low bcrypt cost (setup speed: thousands of accounts),
 * its own Redis key prefix and a known first admin (ADMIN_EMAIL/ADMIN_PASSWORD).
 */
export async function startService(opts: LoadOptions, scenario: string): Promise<Target> {
  if (opts.url) {
    const { ADMIN_EMAIL, ADMIN_PASSWORD } = process.env;
    return {
      baseUrl: opts.url,
      description: `running service at ${opts.url}`,
      admin: ADMIN_EMAIL && ADMIN_PASSWORD ? { email: ADMIN_EMAIL, password: ADMIN_PASSWORD } : null,
      redisPrefix: null,
      children: [],
      stop: async () => undefined,
    };
  }

  const runId = randomBytes(4).toString('hex');
  const admin = { email: `loadtest-admin-${runId}@example.com`, password: randomBytes(12).toString('hex') };
  const children: Child[] = [];
  const stopAll = async () => {
    for (const child of children.reverse()) await child.stop();
  };
  try {
    let mongoUri = process.env.MONGODB_URI;
    let mongoKind = 'MONGODB_URI';
    if (!mongoUri && opts.mongo === 'process') {
      const mongo = await startChild(`${scenario}-mongo`, 'loadtest/lib/children/mongo.ts', { ...process.env }, {
        nodeArgs: profileArgs(opts, `${scenario}-mongo`),
        compiled: !opts.tsx,
      });
      children.push(mongo);
      mongoUri = mongo.ready.uri;
      mongoKind = `${mongo.ready.kind} in its own process (pid ${mongo.pid})`;
    }
    if (mongoUri) {
      const url = new URL(mongoUri);
      url.pathname = `/loadtest_${scenario.replace(/-/g, '_')}_${runId}`;
      mongoUri = url.toString();
    }
    const redisPrefix = `loadtest:${runId}:`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: opts.logLevel,
      MONGODB_URI: mongoUri,
      REDIS_URL,
      REDIS_KEY_PREFIX: redisPrefix,
      JWT_SECRET: `loadtest-${randomBytes(24).toString('hex')}`,
      RATE_LIMIT_ENABLED: 'false',
      BCRYPT_COST: '4',
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      DOCS_ENABLED: 'false',
    };
    const server = await startChild(`${scenario}-server`, 'loadtest/lib/children/service.ts', env, {
      nodeArgs: profileArgs(opts, `${scenario}-server`),
      compiled: !opts.tsx,
    });
    children.push(server);
    const mongoText = mongoUri ? mongoKind : (server.ready.kind ?? 'embedded, inline');
    return {
      baseUrl: `http://127.0.0.1:${server.ready.port}`,
      description: `service child process (${opts.tsx ? 'TypeScript through tsx' : 'tsc output'}, pid ${server.pid}, LOG_LEVEL=${opts.logLevel}); MongoDB: ${mongoText}; Redis ${REDIS_URL}`,
      admin,
      redisPrefix,
      children,
      async stop() {
        await stopAll();
        await clearRedisPrefix(redisPrefix);
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function clearRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } catch {
    // Best effort: the prefix is unique to this run anyway.
  } finally {
    redis.disconnect();
  }
}

/** Redis keyspace hit/miss counters (server-wide: other clients of this Redis count too). */
export async function redisKeyspaceStats(): Promise<{ hits: number; misses: number } | null> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info('stats');
    const read = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
    return { hits: read('keyspace_hits'), misses: read('keyspace_misses') };
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}
