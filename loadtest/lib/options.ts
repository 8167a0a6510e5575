import { parseArgs } from 'node:util';

export const SCENARIOS = ['baseline', 'hot-drop', 'retry-storm', 'browse', 'check-in', 'history', 'cluster', 'seated-drop'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface LoadOptions {
  scenario: ScenarioName | 'all';
  /** Event capacity (hot-drop: the tickets on sale; retry-storm raises it to the buyer count). */
  tickets: number;
  /** hot-drop: ticket types the event sells (1 = the default type, `{ eventId, quantity }` orders). */
  types: number;
  /** Distinct accounts, each with its own token and Idempotency-Key; unset = the scenario's default. */
  buyers?: number;
  /** check-in: distinct tickets scanned (default 5000). */
  scans?: number;
  connections: number;
  /** Seconds per timed phase (retry-storm, browse, baseline); hot-drop is a fixed number of requests. */
  duration: number;
  /** Target an already running service instead of starting one. */
  url?: string;
  /** Write a V8 CPU profile of the server child (node --cpu-prof) into loadtest/results/profiles. */
  profile: boolean;
  /** Where the embedded MongoDB runs: inside the server child, or in a process of its own. */
  mongo: 'inline' | 'process';
  /** The server child's LOG_LEVEL (production logs one line per request at info). */
  logLevel: string;
  /** Run the children from TypeScript through tsx instead of compiling them first. */
  tsx: boolean;
  /** history: the confirmed bookings seeded on the event before each measurement, in order. */
  existing: number[];
  /** browse: published events in the catalogue. */
  events: number;
  /** cluster: the database's transactionLifetimeLimitSeconds for the run (mongod's default is 60). */
  txLifetime: number;
}

const USAGE = `usage: npm run loadtest -- <${[...SCENARIOS, 'all'].join('|')}> [options]
  --tickets N       tickets on sale (default 500)
  --types T         hot-drop: sell T ticket types (capacities 1:2:3... adding up to 1.5x the tickets), one item order per buyer (default 1)
  --buyers M        buyer accounts (default 5000 for hot-drop, 500 for retry-storm, 10000 for seated-drop)
  --scans S         check-in: distinct tickets to scan (default 5000)
  --connections C   concurrent connections (default 200)
  --duration S      seconds per timed phase (default 10)
  --url URL         target a running service (setup needs ADMIN_EMAIL/ADMIN_PASSWORD of its admin)
  --mongo inline|process   embedded MongoDB inside the server child or as its own process (default process)
  --log-level L     server LOG_LEVEL (default info)
  --profile         CPU-profile the server child (node --cpu-prof)
  --tsx             run the server from source through tsx (skips the tsc build; slower start)
  --existing A,B,.. history: confirmed bookings seeded into the database before each measurement (default 0,10000,100000)
  --tx-lifetime S   cluster: transactionLifetimeLimitSeconds set on the database for the run (default 5; mongod's own default is 60)
  --events E        browse: published events in the catalogue (default 20; above 20 the rest are seeded into the database)`;

export class UsageError extends Error {
  constructor(message: string) {
    super(`${message}\n${USAGE}`);
  }
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`--${name} must be a positive integer, got "${raw}"`);
  return value;
}

export function parseOptions(argv: string[]): LoadOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tickets: { type: 'string' },
      buyers: { type: 'string' },
      scans: { type: 'string' },
      types: { type: 'string' },
      connections: { type: 'string' },
      duration: { type: 'string' },
      url: { type: 'string' },
      mongo: { type: 'string' },
      'log-level': { type: 'string' },
      profile: { type: 'boolean', default: false },
      tsx: { type: 'boolean', default: false },
      existing: { type: 'string' },
      events: { type: 'string' },
      'tx-lifetime': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) throw new UsageError('');
  const scenario = positionals[0];
  if (positionals.length !== 1 || !scenario || ![...SCENARIOS, 'all'].includes(scenario)) {
    throw new UsageError(`expected exactly one scenario, got ${JSON.stringify(positionals)}`);
  }
  const mongo = values.mongo ?? 'process';
  if (mongo !== 'inline' && mongo !== 'process') throw new UsageError(`--mongo must be inline or process`);
  if (values.url !== undefined && !/^https?:\/\//.test(values.url)) throw new UsageError(`--url must be an http(s) URL`);
  return {
    scenario: scenario as LoadOptions['scenario'],
    tickets: positiveInt('tickets', values.tickets, 500),
    types: positiveInt('types', values.types, 1),
    buyers: values.buyers === undefined ? undefined : positiveInt('buyers', values.buyers, 0),
    scans: values.scans === undefined ? undefined : positiveInt('scans', values.scans, 0),
    connections: positiveInt('connections', values.connections, 200),
    duration: positiveInt('duration', values.duration, 10),
    url: values.url?.replace(/\/+$/, ''),
    profile: values.profile ?? false,
    mongo,
    logLevel: values['log-level'] ?? 'info',
    tsx: values.tsx ?? false,
    existing: (values.existing ?? '0,10000,100000').split(',').map((raw) => {
      const n = Number(raw.trim());
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--existing takes whole numbers >= 0, got "${raw}"`);
      return n;
    }),
    events: positiveInt('events', values.events, 20),
    txLifetime: positiveInt('tx-lifetime', values['tx-lifetime'], 5),
  };
}
