// Runs the emulator on its own for manual use with any MongoDB client:
//   npm run emulator [-- --port 27017] [--host 127.0.0.1] [--advertise mongo:27017] [--uninitialized] [--ttl-interval-ms 60000]
//                    [--setParameter transactionLifetimeLimitSeconds=60] (as mongod; also --transaction-lifetime-ms)
// Prints the connection string; stops on SIGINT/SIGTERM.
import { startEmulator } from './src/index.js';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function numberOption(name: string): number | undefined {
  const v = option(name);
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
  process.argv.forEach((arg, i) => {
    if (arg !== '--setParameter') return;
    const [name, value] = (process.argv[i + 1] ?? '').split('=');
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
  });
  return ms;
}

const em = await startEmulator({
  port: numberOption('port') ?? 27017,
  host: option('host'),
  advertise: option('advertise'),
  // Like a fresh mongod --replSet: waits for replSetInitiate (rs.initiate) before it is primary.
  replSetInitiated: !process.argv.includes('--uninitialized'),
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
