// Runs the emulator on its own for manual use with any MongoDB client:
//   npm run emulator [-- --port 27017] [--host 127.0.0.1] [--advertise mongo:27017] [--uninitialized] [--ttl-interval-ms 60000]
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

const em = await startEmulator({
  port: numberOption('port') ?? 27017,
  host: option('host'),
  advertise: option('advertise'),
  // Like a fresh mongod --replSet: waits for replSetInitiate (rs.initiate) before it is primary.
  replSetInitiated: !process.argv.includes('--uninitialized'),
  ttlIntervalMs: numberOption('ttl-interval-ms'),
  transactionLifetimeMs: numberOption('transaction-lifetime-ms'),
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
