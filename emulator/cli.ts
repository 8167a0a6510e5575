// Runs the emulator on its own for manual use with any MongoDB client (`--help` lists the options).
// Prints the connection string; stops on SIGINT/SIGTERM.
import { parseArgs } from 'node:util';
import { startEmulator } from './src/index.js';

const USAGE = `usage: npm run emulator -- [options]

Runs the MongoDB emulator (a test double, not MongoDB) and prints its connection string.

  --port <n>                     port to listen on (default 27017; 0 picks a free one)
  --host <address>               address to listen on (default 127.0.0.1)
  --advertise <host:port>        address to name in hello replies (e.g. mongo:27017 in Compose)
  --uninitialized                start like a fresh mongod --replSet: primary after rs.initiate()
  --ttl-interval-ms <n>          how often the TTL monitor runs (default 60000)
  --transaction-lifetime-ms <n>  transaction lifetime limit (default 60000)
  --setParameter transactionLifetimeLimitSeconds=<n>
                                 the same in seconds, as mongod takes it
  -h, --help                     print this and exit`;

// Strict parsing: a typo or --help must never start a server on the default port.
let values: ReturnType<typeof parse>['values'];
function parse() {
  return parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      advertise: { type: 'string' },
      uninitialized: { type: 'boolean' },
      'ttl-interval-ms': { type: 'string' },
      'transaction-lifetime-ms': { type: 'string' },
      setParameter: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}
try {
  ({ values } = parse());
} catch (err) {
  console.error(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function numberOption(name: 'port' | 'ttl-interval-ms' | 'transaction-lifetime-ms'): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got '${v}'`);
    process.exit(2);
  }
  return n;
}

/** mongod's `--setParameter name=value`; the emulator knows transactionLifetimeLimitSeconds only. */
function lifetimeFromSetParameter(): number | undefined {
  let ms: number | undefined;
  for (const param of values.setParameter ?? []) {
    const [name, value] = param.split('=');
    const n = Number(value);
    if (name !== 'transactionLifetimeLimitSeconds') {
      console.error(`--setParameter: the emulator supports only transactionLifetimeLimitSeconds, not '${name}'`);
      process.exit(2);
    }
    if (!Number.isInteger(n) || n < 1) {
      console.error(`--setParameter transactionLifetimeLimitSeconds must be an integer >= 1, got '${value}'`);
      process.exit(2);
    }
    ms = n * 1000;
  }
  return ms;
}

const em = await startEmulator({
  port: numberOption('port') ?? 27017,
  host: values.host,
  advertise: values.advertise,
  // Like a fresh mongod --replSet: waits for replSetInitiate (rs.initiate) before it is primary.
  replSetInitiated: values.uninitialized !== true,
  ttlIntervalMs: numberOption('ttl-interval-ms'),
  transactionLifetimeMs: lifetimeFromSetParameter() ?? numberOption('transaction-lifetime-ms'),
});
console.log(em.uri);

let stopping = false;
const shutdown = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  console.error(`${signal}: stopping emulator`);
  em.stop().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
