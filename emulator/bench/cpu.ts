// CPU time the emulator spends per booking transaction (request decode + command execution + reply
// encode), without sockets or a driver: a load-independent measure of the emulator's own cost, as
// the throughput benchmark (bench.ts) on a shared 2-core machine mostly measures the machine.
//   npx tsx emulator/bench/cpu.ts [rounds]          (node --single-threaded --import tsx ... for
//                                                    steadier numbers: no concurrent GC/JIT threads)
// 50 sessions each book on their own event, statement by statement interleaved like 50 concurrent
// clients; every round adds one booking per event, so the aggregate's work grows with the rounds.
import { Long, ObjectId, UUID, deserialize, serialize } from 'bson';
import { Emulator } from '../src/server.js';
import { encodeMsg, decode } from '../src/wire.js';
const em = new Emulator({});
const conn = { id: 1, remote: 'x' };
let reqId = 1;
const frame = (body: Record<string, unknown>): Buffer => {
  const b = serialize(body);
  const head = Buffer.alloc(21);
  head.writeInt32LE(21 + b.length, 0);
  head.writeInt32LE(reqId++, 4);
  head.writeInt32LE(2013, 12);
  return Buffer.concat([head, b]);
};
// The server side of one command: decode the request, execute, encode the reply.
async function serve(f: Buffer, db: string): Promise<Buffer> {
  const req = decode(f) as { body: Record<string, unknown> };
  const reply = await em.execute(conn, db, req.body, false);
  return encodeMsg(reply as Record<string, unknown>, 1, 1);
}
const run = (body: Record<string, unknown>, db = 'bench') => serve(frame({ ...body, $db: db }), db);
const events = Array.from({ length: 50 }, () => new ObjectId());
await run({ insert: 'events', documents: events.map((_id) => ({ _id, capacity: 1e6, version: 0 })) });
await run({ createIndexes: 'bookings', indexes: [{ key: { eventId: 1, status: 1 }, name: 'es' }] });
for (let i = 0; i < 20; i++) await run({ insert: 'bookings', documents: Array.from({ length: 1000 }, () => ({ eventId: new ObjectId(), status: 'confirmed', quantity: 1 })) });
const sessions = events.map(() => ({ id: new UUID() }));
const txnNo = events.map(() => 0);
// Requests are built (client work) before the clock starts; only the server side is timed.
function frames(w: number): [Buffer, string][] {
  const eventId = events[w];
  const t = { lsid: sessions[w], txnNumber: Long.fromNumber(++txnNo[w]), autocommit: false };
  return [
    [frame({ findAndModify: 'events', query: { _id: eventId }, update: { $inc: { version: 1 } }, new: true, ...t, startTransaction: true, $db: 'bench' }), 'bench'],
    [frame({ aggregate: 'bookings', pipeline: [{ $match: { eventId, status: { $in: ['confirmed', 'pending'] } } }, { $group: { _id: null, n: { $sum: '$quantity' } } }], cursor: {}, ...t, $db: 'bench' }), 'bench'],
    [frame({ insert: 'bookings', documents: [{ eventId, status: 'pending', quantity: 1 }], ...t, $db: 'bench' }), 'bench'],
    [frame({ commitTransaction: 1, ...t, $db: 'admin' }), 'admin'],
  ];
}
const rounds = Math.max(11, Number(process.argv[2] ?? 200));
let cpu = 0;
let n = 0;
for (let r = 0; r < rounds; r++) {
  const batch = events.map((_, w) => frames(w));
  const c0 = process.cpuUsage();
  // 50 transactions interleaved statement by statement, as 50 concurrent clients would.
  for (let s = 0; s < 4; s++) await Promise.all(batch.map((fs) => serve(fs[s][0], fs[s][1])));
  const c = process.cpuUsage(c0);
  // The first rounds warm up the JIT.
  if (r >= 10) {
    cpu += c.user + c.system;
    n += 50;
  }
}
// Every transaction must have committed: one pending booking each.
const counted = deserialize((await run({ count: 'bookings', query: { status: 'pending' } })).subarray(21));
if (counted.n !== rounds * 50) throw new Error(`expected ${rounds * 50} bookings, found ${String(counted.n)}: some transactions failed`);
console.log(`${(cpu / n).toFixed(1)} us cpu per booking transaction (${n} measured, ${rounds} rounds: up to ${rounds} bookings per event)`);
await em.stop();
