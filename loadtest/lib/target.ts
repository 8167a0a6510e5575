import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Redis } from 'ioredis';
import type { LoadOptions } from './options.js';
import { SERVICE_NODE_ARGS } from './node-args.js';
import { type Child, PROJECT_ROOT, startChild } from './processes.js';
import { waitForProfiles } from './profile.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PROFILE_DIR = join(PROJECT_ROOT, 'loadtest', 'results', 'profiles');

export interface Target {
  baseUrl: string;
  /** How the service under test runs, for the report. */
  description: string;
  admin: { email: string; password: string } | null;
  /** The service's database (its own database name), for scenarios that seed data directly; null if unknown. */
  mongoUri: string | null;
  /** The Redis key prefix of a service this runner started (null for --url). */
  redisPrefix: string | null;
  children: Child[];
  /** Where the children write their load-phase CPU profiles (--profile), else null. */
  profileDir: string | null;
  /**
   * Runs `work` (one load phase) with every child's CPU profiler on (--profile; else just runs it);
   * the profiles are named `<label>-<child>-<time>.cpuprofile`. Always records the CPU time each
   * child spent during the phase (phaseCpu).
   */
  profilePhase<T>(label: string, work: () => Promise<T>): Promise<T>;
  /** CPU time of each child during each timed phase, in the order the phases ran. */
  phaseCpu: PhaseCpu[];
  /**
   * Starts one more instance of the service on the same database, Redis prefix and secrets (the
   * cluster scenario); stopped with the target. Null where this runner did not start the service.
   */
  /** Another instance of the service on the same database and Redis (env: overrides for it alone). */
  startSibling: ((name: string, env?: NodeJS.ProcessEnv) => Promise<Child>) | null;
  stop(): Promise<void>;
}

export interface PhaseCpu {
  label: string;
  child: string;
  /** User + system CPU time the child used during the phase (null where /proc is not available). */
  cpuMs: number | null;
  wallMs: number;
}

/**
 * User + system CPU time of a process so far, from /proc (Linux). Requests/s on a shared 2-core
 * machine move by a third from run to run; the server's CPU time per answer is far steadier, and it
 * is what the service itself controls.
 */
function cpuTimeMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, hence the last ')'): utime is the 14th
    // field of the line and stime the 15th, in clock ticks (USER_HZ, 100 on Linux).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

function profileDirFor(opts: LoadOptions, scenario: string): string | null {
  if (!opts.profile) return null;
  const dir = join(PROFILE_DIR, `${scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function profiling(opts: LoadOptions, scenario: string) {
  const dir = profileDirFor(opts, scenario);
  const cpu: PhaseCpu[] = [];
  const measured =
    (children: Child[]) =>
    async <T>(label: string, work: () => Promise<T>): Promise<T> => {
      const started = children.map((c) => cpuTimeMs(c.pid));
      const runnerStarted = process.cpuUsage();
      const t0 = performance.now();
      try {
        return await work();
      } finally {
        const wallMs = performance.now() - t0;
        children.forEach((child, i) => {
          const now = cpuTimeMs(child.pid);
          const then = started[i];
          cpu.push({ label, child: child.name, cpuMs: now === null || then == null ? null : now - then, wallMs });
        });
        // autocannon runs in this process: when it is the busier side, it is what limits req/s.
        const runner = process.cpuUsage(runnerStarted);
        cpu.push({ label, child: 'load generator', cpuMs: (runner.user + runner.system) / 1000, wallMs });
      }
    };
  const phase =
    (children: Child[]) =>
    async <T>(label: string, work: () => Promise<T>): Promise<T> => {
      if (!dir) return measured(children)(label, work);
      const before = new Set(readdirSync(dir));
      for (const child of children) child.signalProfiler();
      try {
        return await measured(children)(label, work);
      } finally {
        for (const child of children) child.signalProfiler();
        const fresh = await waitForProfiles(dir, before.size + children.length);
        for (const file of fresh) {
          const name = basename(file);
          if (!before.has(name)) renameSync(file, join(dir, `${label.replace(/\W+/g, '-')}-${name}`));
        }
      }
    };
  return { dir, env: dir ? { LOADTEST_PROFILE_DIR: dir } : {}, phase, cpu };
}

/** The bare Fastify ceiling, always started here (it is a property of this machine). */
export async function startBaseline(opts: LoadOptions): Promise<Target> {
  const prof = profiling(opts, 'baseline');
  const child = await startChild('baseline-server', 'loadtest/lib/children/baseline.ts', { ...process.env, ...prof.env }, { compiled: !opts.tsx, nodeArgs: SERVICE_NODE_ARGS });
  return {
    baseUrl: `http://127.0.0.1:${child.ready.port}`,
    description: `bare Fastify child process (${opts.tsx ? 'through tsx' : 'tsc output'}, pid ${child.pid})`,
    admin: null,
    mongoUri: null,
    redisPrefix: null,
    children: [child],
    profileDir: prof.dir,
    profilePhase: prof.phase([child]),
    phaseCpu: prof.cpu,
    startSibling: null,
    stop: async () => void (await child.stop()),
  };
}

/**
 * The service under test: `--url`, or a child process running startServer on a free port with
 * rate limits lifted (load runs only), a low bcrypt cost (setup speed: thousands of accounts),
 * its own Redis key prefix and a known first admin (ADMIN_EMAIL/ADMIN_PASSWORD).
 */
/**
 * Settings one scenario needs in its service. `history` times uncached reads by deleting the Redis
 * entry before each read; each instance's copy in memory (EVENT_MEMORY_CACHE_MS) would answer them
 * instead, so that service runs without it. Purchases never read either cache.
 */
const SCENARIO_ENV: Record<string, NodeJS.ProcessEnv> = { history: { EVENT_MEMORY_CACHE_MS: '0' } };

export async function startService(opts: LoadOptions, scenario: string): Promise<Target> {
  if (opts.url) {
    const { ADMIN_EMAIL, ADMIN_PASSWORD } = process.env;
    return {
      baseUrl: opts.url,
      description: `running service at ${opts.url}`,
      admin: ADMIN_EMAIL && ADMIN_PASSWORD ? { email: ADMIN_EMAIL, password: ADMIN_PASSWORD } : null,
      mongoUri: process.env.MONGODB_URI ?? null,
      redisPrefix: null,
      children: [],
      profileDir: null,
      profilePhase: (_label, work) => work(),
      phaseCpu: [],
      startSibling: null,
      stop: async () => undefined,
    };
  }

  const runId = randomBytes(4).toString('hex');
  const admin = { email: `loadtest-admin-${runId}@example.com`, password: randomBytes(12).toString('hex') };
  const children: Child[] = [];
  const prof = profiling(opts, scenario);
  const stopAll = async () => {
    for (const child of children.reverse()) await child.stop();
  };
  try {
    let mongoUri = process.env.MONGODB_URI;
    let mongoKind = 'MONGODB_URI';
    if (!mongoUri && opts.mongo === 'process') {
      const mongo = await startChild(`${scenario}-mongo`, 'loadtest/lib/children/mongo.ts', { ...process.env, ...prof.env }, { compiled: !opts.tsx });
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
      // As in production, the outbox worker and sweepers run in their own process (npm run worker),
      // not inside the API being measured; development would otherwise run them in-process.
      OUTBOX_WORKER_INLINE: 'false',
      ...SCENARIO_ENV[scenario],
      ...prof.env,
    };
    const server = await startChild(`${scenario}-server`, 'loadtest/lib/children/service.ts', env, { compiled: !opts.tsx, nodeArgs: SERVICE_NODE_ARGS });
    children.push(server);
    const mongoText = mongoUri ? mongoKind : (server.ready.kind ?? 'embedded, inline');
    return {
      baseUrl: `http://127.0.0.1:${server.ready.port}`,
      description: `service child process (${opts.tsx ? 'TypeScript through tsx' : 'tsc output'}, pid ${server.pid}, LOG_LEVEL=${opts.logLevel}); MongoDB: ${mongoText}; Redis ${REDIS_URL}`,
      admin,
      mongoUri: mongoUri ?? null,
      redisPrefix,
      children,
      profileDir: prof.dir,
      profilePhase: prof.phase(children),
      phaseCpu: prof.cpu,
      async startSibling(name: string, overrides: NodeJS.ProcessEnv = {}) {
        const sibling = await startChild(`${scenario}-${name}`, 'loadtest/lib/children/service.ts', { ...env, ...overrides }, {
          compiled: !opts.tsx,
          nodeArgs: SERVICE_NODE_ARGS,
        });
        children.push(sibling);
        return sibling;
      },
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
