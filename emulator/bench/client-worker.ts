// One benchmark client process (for `--clients N`): its own driver client runs booking transactions
// from `sessions` concurrent loops, each on its own event, for `ms` after the parent writes "go".
//   node --import tsx client-worker.ts <uri> <sessions> <ms> <eventIdHex,...>
// Prints "ready" once connected, then one JSON line { ops, retries, seconds, cpuMicros }.
import { createInterface } from 'node:readline';
import { MongoClient, ObjectId } from 'mongodb';
import { booker } from './booking.js';

const [uri, sessionsArg, msArg, idsArg] = process.argv.slice(2);
const sessions = Number(sessionsArg);
const ms = Number(msArg);
const eventIds = (idsArg ?? '').split(',').filter(Boolean).map((h) => new ObjectId(h));
if (!uri || !(sessions > 0) || !(ms > 0) || eventIds.length < sessions) {
  console.error('usage: client-worker.ts <uri> <sessions> <ms> <eventIdHex,...> (at least one event per session)');
  process.exit(2);
}

const client = new MongoClient(uri, { maxPoolSize: 100 });
await client.connect();
const b = booker(client);
// Warm up for a second (connection pool, JIT) before the measured window, as the benchmark
// process itself is warm by the time it measures.
const warmEnd = performance.now() + 1000;
await Promise.all(
  eventIds.slice(0, sessions).map(async (id) => {
    while (performance.now() < warmEnd) await b.book(id);
  }),
);
b.retries = 0;
console.log('ready');

const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.once('line', () => resolve()));
const cpuBefore = process.cpuUsage();
const start = performance.now();
const end = start + ms;
let ops = 0;
await Promise.all(
  Array.from({ length: sessions }, async (_, w) => {
    while (performance.now() < end) {
      await b.book(eventIds[w]);
      ops++;
    }
  }),
);
const cpu = process.cpuUsage(cpuBefore);
console.log(JSON.stringify({ ops, retries: b.retries, seconds: (performance.now() - start) / 1000, cpuMicros: cpu.user + cpu.system }));
lines.close();
await client.close();
