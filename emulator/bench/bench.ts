// Throughput of the emulator through the real `mongodb` driver over TCP:
// single inserts, indexed finds and the booking-shaped transaction, sequentially and with
// 50 concurrent sessions.
//   npm run bench:emulator [-- --quick] [--inproc]
// By default the emulator runs in its own process (like a real server, so driver and server do not
// share one event loop); --inproc starts it inside the benchmark process, as the test suites do.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, ObjectId, type Collection } from 'mongodb';
import { startEmulator } from '../src/index.js';

const quick = process.argv.includes('--quick');
const inproc = process.argv.includes('--inproc');
const here = dirname(fileURLToPath(import.meta.url));

interface Target {
  uri: string;
  /** Documents examined by queries so far (only known in-process). */
  examined(): number | undefined;
  stop(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  if (inproc) {
    const em = await startEmulator({ port: 0 });
    return { uri: em.uri, examined: () => em.stats.docsExamined, stop: () => em.stop() };
  }
  const child: ChildProcess = spawn(process.execPath, [...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', join(here, '..', 'cli.ts'), '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
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
    examined: () => undefined,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const DURATION_MS = quick ? 1000 : 3000;
const CONCURRENCY = 50;

interface Result {
  name: string;
  mode: string;
  ops: number;
  seconds: number;
  extra?: string;
}

/** Runs `op` for DURATION_MS with `workers` concurrent loops; returns completed operations. */
async function measure(workers: number, op: (worker: number, i: number) => Promise<void>): Promise<{ ops: number; seconds: number }> {
  const end = performance.now() + DURATION_MS;
  const start = performance.now();
  let ops = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        await op(w, i);
        ops++;
      }
    }),
  );
  return { ops, seconds: (performance.now() - start) / 1000 };
}

interface EventDoc {
  _id: ObjectId;
  capacity: number;
  version: number;
}
interface BookingDoc {
  _id?: ObjectId;
  eventId: ObjectId;
  status: string;
  quantity: number;
}

async function main(): Promise<void> {
  const em = await startTarget();
  console.log(`emulator ${inproc ? 'in this process' : 'in a child process'}; ${DURATION_MS / 1000} s per measurement`);
  const client = new MongoClient(em.uri, { maxPoolSize: 100 });
  await client.connect();
  const db = client.db('bench');
  const results: Result[] = [];
  const record = (name: string, mode: string, r: { ops: number; seconds: number }, extra?: string): void => {
    results.push({ name, mode, ...r, extra });
    console.log(`${name.padEnd(22)} ${mode.padEnd(14)} ${Math.round(r.ops / r.seconds).toString().padStart(7)} ops/s  (${r.ops} ops in ${r.seconds.toFixed(2)} s)${extra ? '  ' + extra : ''}`);
  };

  // 1. Single inserts.
  const inserts = db.collection('inserts');
  record('insertOne', 'sequential', await measure(1, async () => void (await inserts.insertOne({ a: 1, b: 'x' }))));
  record('insertOne', `${CONCURRENCY} concurrent`, await measure(CONCURRENCY, async () => void (await inserts.insertOne({ a: 1, b: 'x' }))));

  // 2. Indexed finds over 20 000 documents.
  const items = db.collection('items');
  await items.createIndex({ k: 1 });
  const N = 20_000;
  for (let i = 0; i < N; i += 1000) {
    await items.insertMany(Array.from({ length: 1000 }, (_, j) => ({ k: i + j, v: `value-${i + j}` })));
  }
  const findOne = async (): Promise<void> => {
    const k = Math.floor(Math.random() * N);
    const d = await items.findOne({ k });
    if (!d) throw new Error(`missing k=${k}`);
  };
  const examinedBefore = em.examined();
  const seqFind = await measure(1, findOne);
  const examinedAfter = em.examined();
  const perFind = examinedBefore === undefined || examinedAfter === undefined ? undefined : (examinedAfter - examinedBefore) / seqFind.ops;
  record('indexed findOne', 'sequential', seqFind, perFind === undefined ? `(collection of ${N})` : `(${perFind.toFixed(1)} docs examined per find, collection of ${N})`);
  record('indexed findOne', `${CONCURRENCY} concurrent`, await measure(CONCURRENCY, findOne));

  // 3. Booking-shaped transaction: bump the event's conflict counter by _id, count the event's
  //    active bookings through the {eventId, status} index, insert one booking, commit.
  const events: Collection<EventDoc> = db.collection('events');
  const bookings: Collection<BookingDoc> = db.collection('bookings');
  await bookings.createIndex({ eventId: 1, status: 1 });
  const eventIds = Array.from({ length: CONCURRENCY }, () => new ObjectId());
  await events.insertMany(eventIds.map((_id) => ({ _id, capacity: 1_000_000, version: 0 })));
  // Background data: other events' bookings, so the index has to do the narrowing.
  for (let i = 0; i < 20; i++) {
    await bookings.insertMany(Array.from({ length: 1000 }, () => ({ eventId: new ObjectId(), status: 'confirmed', quantity: 1 })));
  }
  let retries = 0;
  const book = async (eventId: ObjectId): Promise<void> => {
    const session = client.startSession();
    try {
      let attempt = 0;
      await session.withTransaction(async () => {
        if (attempt++ > 0) retries++;
        const ev = await events.findOneAndUpdate({ _id: eventId }, { $inc: { version: 1 } }, { session, returnDocument: 'after' });
        if (!ev) throw new Error('event missing');
        const [agg] = await bookings
          .aggregate<{ n: number }>([{ $match: { eventId, status: { $in: ['confirmed', 'pending'] } } }, { $group: { _id: null, n: { $sum: '$quantity' } } }], { session })
          .toArray();
        if ((agg?.n ?? 0) + 1 > ev.capacity) throw new Error('sold out');
        await bookings.insertOne({ eventId, status: 'pending', quantity: 1 }, { session });
      });
    } finally {
      await session.endSession();
    }
  };
  record('booking transaction', 'sequential', await measure(1, async (_w, i) => book(eventIds[i % eventIds.length])));
  retries = 0;
  record('booking transaction', `${CONCURRENCY} concurrent`, await measure(CONCURRENCY, async (w) => book(eventIds[w])), '(one event per session)');
  retries = 0;
  const hot = await measure(CONCURRENCY, async () => book(eventIds[0]));
  record('booking transaction', `${CONCURRENCY} on 1 event`, hot, `(all sessions contend on one event; ${retries} WriteConflict retries)`);

  // Consistency check: every committed booking bumped its event's counter exactly once.
  const versions = await events.aggregate<{ v: number }>([{ $group: { _id: null, v: { $sum: '$version' } } }]).toArray();
  const booked = await bookings.countDocuments({ status: 'pending' });
  console.log(`consistency: ${booked} bookings, counters sum ${versions[0]?.v ?? 0} ${booked === versions[0]?.v ? '(equal)' : '(MISMATCH)'}`);

  await client.close();
  await em.stop();
  if (booked !== versions[0]?.v) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
