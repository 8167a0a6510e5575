// Throughput of the emulator through the real `mongodb` driver over TCP: single inserts, indexed
// finds and the booking-shaped transaction, sequentially and with 50 concurrent sessions.
//   npm run bench:emulator [-- --quick] [--inproc] [--clients N] [--only insert,find,booking,contended,raw,clients]
// By default the emulator runs in its own process (like a real server, so driver and server do not
// share one event loop); --inproc starts it inside the benchmark process, as the test suites do.
// Each line also shows how busy the emulator's process was (its CPU time / wall time), which tells
// whether the emulator or the client side was the limit, and a later line measures the booking
// transaction with a minimal wire client instead of the driver. --clients N adds the booking
// transaction from N separate client processes sharing the 50 sessions (N = 1 too, for a like-for-
// like comparison), to see whether more client CPU gets more out of the emulator. --only runs just the named sections (data setup always runs),
// e.g. to profile one of them: BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Long, UUID } from 'bson';
import { createInterface } from 'node:readline';
import { MongoClient, ObjectId, type Collection, type Db } from 'mongodb';
import { startEmulator } from '../src/index.js';
import { booker, type BookingDoc, type EventDoc } from './booking.js';
import { RawClient } from './raw-client.js';

const quick = process.argv.includes('--quick');
const inproc = process.argv.includes('--inproc');
const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const clientsArg = argValue('clients');
const clientProcesses = Number(clientsArg ?? 1);
const only = argValue('only')?.split(',');
const runs = (section: string): boolean => !only || only.includes(section);
if (!Number.isInteger(clientProcesses) || clientProcesses < 1) {
  console.error('--clients must be a positive integer');
  process.exit(2);
}
const DURATION_MS = quick ? 1000 : 3000;
const CONCURRENCY = 50;
const here = dirname(fileURLToPath(import.meta.url));

interface Target {
  uri: string;
  stop(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  if (inproc) {
    const em = await startEmulator({ port: 0 });
    return { uri: em.uri, stop: () => em.stop() };
  }
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(here, '..', 'cli.ts'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const uri = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /mongodb:\/\/\S+/.exec(out);
      if (m) resolve(m[0]);
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return {
    uri,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

interface ServerCounters {
  docsExamined: number;
  cpuMicros: number;
}

async function counters(db: Db): Promise<ServerCounters> {
  const s = await db.admin().command({ serverStatus: 1 });
  return { docsExamined: s.emulator.docsExamined as number, cpuMicros: s.emulator.cpuMicros as number };
}

interface Measured {
  ops: number;
  seconds: number;
  serverBusy: number;
  /** CPU time of the driver side (this process, or the sum of the client processes) / wall time. */
  clientBusy: number;
  examinedPerOp: number;
}

/**
 * The booking transaction from `processes` client processes (bench/client-worker.ts), each with its
 * own driver and `sessions` concurrent sessions on distinct events, all started at once.
 */
async function measureProcesses(uri: string, processes: number, sessions: number, eventIds: ObjectId[], admin: Db): Promise<Measured> {
  const workers = Array.from({ length: processes }, (_, p) => {
    const ids = eventIds.slice(p * sessions, (p + 1) * sessions).map((id) => id.toHexString());
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'client-worker.ts'), uri, String(ids.length), String(DURATION_MS), ids.join(',')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! });
    const ready = new Promise<void>((resolve) => lines.once('line', () => resolve()));
    const result = ready.then(() => new Promise<{ ops: number; cpuMicros: number }>((resolve) => lines.once('line', (l) => resolve(JSON.parse(l) as { ops: number; cpuMicros: number }))));
    return { child, ready, result };
  });
  await Promise.all(workers.map((w) => w.ready));
  const before = await counters(admin);
  const start = performance.now();
  for (const w of workers) w.child.stdin!.write('go\n');
  const results = await Promise.all(workers.map((w) => w.result));
  const seconds = (performance.now() - start) / 1000;
  const after = await counters(admin);
  const ops = results.reduce((sum, r) => sum + r.ops, 0);
  const clientBusy = results.reduce((sum, r) => sum + r.cpuMicros, 0) / 1e6 / seconds;
  return { ops, seconds, serverBusy: (after.cpuMicros - before.cpuMicros) / 1e6 / seconds, clientBusy, examinedPerOp: (after.docsExamined - before.docsExamined) / ops };
}

async function main(): Promise<void> {
  const target = await startTarget();
  console.log(`emulator ${inproc ? 'in this process' : 'in a child process'}; ${DURATION_MS / 1000} s per measurement`);
  const client = new MongoClient(target.uri, { maxPoolSize: 100 });
  await client.connect();
  const db = client.db('bench');
  const admin = client.db('admin');

  /** Runs `op` for DURATION_MS in `workers` concurrent loops. */
  const measure = async (workers: number, op: (worker: number, i: number) => Promise<void>): Promise<Measured> => {
    const before = await counters(admin);
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    const end = start + DURATION_MS;
    let ops = 0;
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        for (let i = 0; performance.now() < end; i++) {
          await op(w, i);
          ops++;
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const after = await counters(admin);
    const cpu = process.cpuUsage(cpuBefore);
    const clientBusy = (cpu.user + cpu.system) / 1e6 / seconds;
    return { ops, seconds, serverBusy: (after.cpuMicros - before.cpuMicros) / 1e6 / seconds, clientBusy, examinedPerOp: (after.docsExamined - before.docsExamined) / ops };
  };
  const record = (name: string, mode: string, r: Measured, note = ''): void => {
    const rate = Math.round(r.ops / r.seconds).toString().padStart(6);
    const busy = inproc ? `  process busy ${Math.round(r.clientBusy * 100)}%` : `  emulator busy ${Math.round(r.serverBusy * 100)}%, client busy ${Math.round(r.clientBusy * 100)}%`;
    console.log(`${name.padEnd(21)} ${mode.padEnd(20)} ${rate} ops/s  (${r.ops} in ${r.seconds.toFixed(1)} s; ${r.examinedPerOp.toFixed(1)} docs examined/op${busy})${note ? '  ' + note : ''}`);
  };

  // 1. Single inserts.
  if (runs('insert')) {
    const inserts = db.collection('inserts');
    const insertOne = async (): Promise<void> => void (await inserts.insertOne({ a: 1, b: 'x' }));
    record('insertOne', 'sequential', await measure(1, insertOne));
    record('insertOne', `${CONCURRENCY} concurrent`, await measure(CONCURRENCY, insertOne));
  }

  // 2. Indexed finds over 20 000 documents.
  if (runs('find')) {
    const items = db.collection('items');
    await items.createIndex({ k: 1 });
    const N = 20_000;
    for (let i = 0; i < N; i += 1000) await items.insertMany(Array.from({ length: 1000 }, (_, j) => ({ k: i + j, v: `value-${i + j}` })));
    const findOne = async (): Promise<void> => {
      const k = Math.floor(Math.random() * N);
      if (!(await items.findOne({ k }))) throw new Error(`missing k=${k}`);
    };
    record('indexed findOne', 'sequential', await measure(1, findOne), `(${N} documents)`);
    record('indexed findOne', `${CONCURRENCY} concurrent`, await measure(CONCURRENCY, findOne));
  }

  // 3. Booking-shaped transaction (bench/booking.ts).
  const events: Collection<EventDoc> = db.collection('events');
  const bookings: Collection<BookingDoc> = db.collection('bookings');
  await bookings.createIndex({ eventId: 1, status: 1 });
  const eventIds = Array.from({ length: CONCURRENCY }, () => new ObjectId());
  await events.insertMany(eventIds.map((_id) => ({ _id, capacity: 1_000_000, version: 0 })));
  // Background data: other events' bookings, so the index has to do the narrowing.
  for (let i = 0; i < 20; i++) await bookings.insertMany(Array.from({ length: 1000 }, () => ({ eventId: new ObjectId(), status: 'confirmed', quantity: 1 })));
  const b = booker(client);
  if (runs('booking')) {
    record('booking transaction', 'sequential', await measure(1, (_w, i) => b.book(eventIds[i % eventIds.length])));
    record('booking transaction', `${CONCURRENCY} concurrent`, await measure(CONCURRENCY, (w) => b.book(eventIds[w])), '(one event per session)');
  }
  if (runs('clients') && clientsArg !== undefined) {
    const perProcess = Math.ceil(CONCURRENCY / clientProcesses);
    const r = await measureProcesses(target.uri, clientProcesses, perProcess, eventIds, admin);
    record('booking transaction', `${clientProcesses} procs x ${perProcess} sess.`, r, '(one event per session; driver in each process)');
  }
  if (runs('contended')) {
    b.retries = 0;
    const hot = await measure(CONCURRENCY, () => b.book(eventIds[0]));
    record('booking transaction', `${CONCURRENCY} on one event`, hot, `(${b.retries} WriteConflict retries by withTransaction)`);
  }

  // 4. The same transaction from 50 minimal wire clients: the emulator without driver overhead.
  if (runs('raw')) {
    const { hostname, port } = new URL(target.uri.replace('mongodb://', 'http://'));
    const raws = await Promise.all(Array.from({ length: CONCURRENCY }, () => RawClient.connect(Number(port), hostname)));
    const rawSessions = raws.map(() => ({ id: new UUID() }));
    const rawBook = async (w: number, i: number): Promise<void> => {
      const c = raws[w];
      const t = { lsid: rawSessions[w], txnNumber: Long.fromNumber(i + 1), autocommit: false, $db: 'bench' };
      const eventId = eventIds[w];
      const r = await c.command({ findAndModify: 'events', query: { _id: eventId }, update: { $inc: { version: 1 } }, new: true, ...t, startTransaction: true });
      if (r.ok !== 1) throw new Error(`raw booking failed: ${r.errmsg}`);
      await c.command({ aggregate: 'bookings', pipeline: [{ $match: { eventId, status: { $in: ['confirmed', 'pending'] } } }, { $group: { _id: null, n: { $sum: '$quantity' } } }], cursor: {}, ...t });
      await c.command({ insert: 'bookings', documents: [{ eventId, status: 'pending', quantity: 1 }], ...t });
      const done = await c.command({ commitTransaction: 1, ...t, $db: 'admin' });
      if (done.ok !== 1) throw new Error(`raw commit failed: ${done.errmsg}`);
    };
    record('booking transaction', `${CONCURRENCY} raw wire clients`, await measure(CONCURRENCY, rawBook), '(no driver; one event per client)');
    for (const r of raws) r.close();
  }

  // Consistency: every committed booking bumped its event's counter exactly once.
  const versions = await events.aggregate<{ v: number }>([{ $group: { _id: null, v: { $sum: '$version' } } }]).toArray();
  const booked = await bookings.countDocuments({ status: 'pending' });
  const ok = booked === versions[0]?.v;
  console.log(`consistency: ${booked} bookings, counters sum ${versions[0]?.v ?? 0} ${ok ? '(equal)' : '(MISMATCH)'}`);

  await client.close();
  await target.stop();
  if (!ok) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
