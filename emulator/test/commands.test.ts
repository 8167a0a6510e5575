import { serialize, deserialize, type Document } from 'bson';
import net from 'node:net';
import type { Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, RawClient, startHarness, type Harness } from './support.js';

/** Test documents with non-ObjectId _id values. */
interface Loose extends Document {
  _id?: number | string;
}

let h: Harness;
let db: Db;

beforeAll(async () => {
  h = await startHarness();
  db = h.client.db('cmd');
});
afterAll(async () => {
  await h.close();
});

/** One OP_MSG with a body and a kind-1 document sequence, optionally with a (dummy) checksum. */
async function sendWithSequence(port: number, body: Document, id: string, docs: Document[], checksum: boolean): Promise<Document> {
  const b = serialize(body);
  const seqDocs = Buffer.concat(docs.map((d) => serialize(d)));
  const ident = Buffer.from(id + '\0');
  const seqHead = Buffer.alloc(5);
  seqHead[0] = 1;
  seqHead.writeInt32LE(4 + ident.length + seqDocs.length, 1);
  const head = Buffer.alloc(21);
  head[20] = 0;
  const tail = checksum ? Buffer.alloc(4) : Buffer.alloc(0);
  const len = 21 + b.length + seqHead.length + ident.length + seqDocs.length + tail.length;
  head.writeInt32LE(len, 0);
  head.writeInt32LE(77, 4);
  head.writeInt32LE(2013, 12);
  head.writeUInt32LE(checksum ? 1 : 0, 16);
  const sock = net.connect(port, '127.0.0.1');
  const reply = await new Promise<Buffer>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 4 && buf.length >= buf.readInt32LE(0)) resolve(buf);
    });
    sock.on('error', reject);
    sock.write(Buffer.concat([head, b, seqHead, ident, seqDocs, tail]));
  });
  sock.destroy();
  expect(reply.readInt32LE(8)).toBe(77);
  return deserialize(reply.subarray(21));
}

describe('wire protocol and handshake', () => {
  it('answers the legacy OP_QUERY isMaster with OP_REPLY describing a replica-set primary', async () => {
    const raw = await RawClient.connect(h.em.port);
    try {
      const [opCode, reply] = await raw.legacyQuery('admin', { isMaster: 1, helloOk: true, client: { application: { name: 'raw' } } });
      expect(opCode).toBe(1);
      expect(reply).toMatchObject({ ok: 1, ismaster: true, setName: 'rs0', hosts: [`127.0.0.1:${h.em.port}`], maxWireVersion: 21, helloOk: true, secondary: false });
      expect(reply.topologyVersion.processId).toBeDefined();
      expect(reply.logicalSessionTimeoutMinutes).toBeGreaterThan(0);
      const [, find] = await raw.legacyQuery('cmd', { find: 'x' });
      expect(find).toMatchObject({ ok: 0, code: 352 });
      const hello = await raw.command({ hello: 1, $db: 'admin' });
      expect(hello).toMatchObject({ ok: 1, isWritablePrimary: true, primary: `127.0.0.1:${h.em.port}` });
      expect(hello.$clusterTime.clusterTime).toBeDefined();
      expect(hello.operationTime).toBeDefined();
    } finally {
      raw.close();
    }
  });

  it('advertises the address it is reached by, and the driver follows it to the primary', async () => {
    // A free port first: the advertised name must carry the port the emulator listens on.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const other = await startHarness({ port, host: '127.0.0.1', advertise: `localhost:${port}` });
    try {
      expect(other.em.uri).toBe(`mongodb://localhost:${port}/?replicaSet=rs0`);
      const hello = await other.client.db('admin').command({ hello: 1 });
      expect(hello).toMatchObject({ hosts: [`localhost:${port}`], primary: `localhost:${port}`, me: `localhost:${port}` });
      // The driver replaced its seed with the advertised member and still writes through it.
      await other.client.db('adv').collection<Loose>('x').insertOne({ _id: 1 });
      expect(await other.client.db('adv').collection<Loose>('x').countDocuments()).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('accepts OP_MSG document sequences and tolerates the checksum flag', async () => {
    const reply = await sendWithSequence(h.em.port, { insert: 'seq', $db: 'cmd' }, 'documents', [{ _id: 1 }, { _id: 2 }], true);
    expect(reply).toMatchObject({ ok: 1, n: 2 });
    expect(await db.collection('seq').countDocuments()).toBe(2);
  });

  it('buildInfo, ping, getParameter, listDatabases', async () => {
    const build = await db.admin().command({ buildInfo: 1 });
    expect(build.versionArray[0]).toBe(7);
    // The marker mongod never sends; the service's production guard looks for it (DESIGN.md 5).
    expect(build.emulator).toEqual({ name: 'ticketing-mongodb-emulator', version: '1.0.0' });
    expect((await db.admin().command({ ping: 1 })).ok).toBe(1);
    expect((await db.admin().command({ getParameter: 1, featureCompatibilityVersion: 1 })).featureCompatibilityVersion).toEqual({ version: '7.0' });
    const names = (await db.admin().listDatabases()).databases.map((d) => d.name);
    expect(names).toContain('cmd');
  });
});

describe('refusals', () => {
  it('unknown commands are CommandNotFound; known but unsupported ones NotImplemented', async () => {
    expect(await errorOf(db.command({ frobnicate: 1 }))).toMatchObject({ code: 59, codeName: 'CommandNotFound' });
    expect(await errorOf(db.command({ renameCollection: 'cmd.x', to: 'cmd.y' }))).toMatchObject({ code: 238, codeName: 'NotImplemented' });
  });

  it('unsupported options and stages name what is missing', async () => {
    const c = db.collection('refuse');
    await c.insertOne({ a: 1 });
    expect((await errorOf(c.find({}, { collation: { locale: 'fr', strength: 4 } }).toArray())).message).toContain('strength 4');
    expect((await errorOf(c.aggregate([{ $geoNear: { near: [0, 0] } }]).toArray())).message).toContain('$geoNear');
    expect((await errorOf(c.aggregate([{ $frob: {} }]).toArray())).code).toBe(40324);
    expect((await errorOf(c.find({ a: { $frob: 1 } }).toArray())).code).toBe(2);
    expect((await errorOf(c.updateOne({}, { $frob: { a: 1 } }))).code).toBe(9);
    expect((await errorOf(db.createCollection('capped', { capped: true, size: 1000 }))).code).toBe(238);
    expect((await errorOf(c.find({ $where: 'this.a == 1' }).toArray())).code).toBe(238);
  });
});

describe('CRUD commands', () => {
  it('find with filter, sort, skip, limit, projection, and getMore batches', async () => {
    const c = db.collection<{ _id: number; g: string; v: number }>('finds');
    await c.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i, g: i % 2 ? 'odd' : 'even', v: 10 - i })));
    expect(await c.find({ g: 'odd' }, { projection: { v: 1, _id: 0 } }).sort({ v: 1 }).skip(1).limit(2).toArray()).toEqual([{ v: 3 }, { v: 5 }]);
    const all = await c.find({}, { batchSize: 3 }).toArray();
    expect(all.map((d) => d._id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const first = await db.command({ find: 'finds', batchSize: 4 });
    expect(first.cursor.firstBatch).toHaveLength(4);
    const more = await db.command({ getMore: first.cursor.id, collection: 'finds', batchSize: 4 });
    expect(more.cursor.nextBatch.map((d: Document) => d._id)).toEqual([4, 5, 6, 7]);
    const killed = await db.command({ killCursors: 'finds', cursors: [first.cursor.id] });
    expect(killed.cursorsKilled).toHaveLength(1);
    expect((await errorOf(db.command({ getMore: first.cursor.id, collection: 'finds' }))).code).toBe(43);
  });

  it('update: upsert, multi, arrayFilters, positional $, replacement, pipeline; nModified counts real changes', async () => {
    const c = db.collection<Loose>('updates');
    await c.insertMany([
      { _id: 1, tags: ['a', 'b'], items: [{ k: 1, q: 1 }, { k: 2, q: 1 }], n: 1 },
      { _id: 2, tags: ['b'], items: [], n: 1 },
    ]);
    expect(await c.updateMany({ tags: 'b' }, { $inc: { n: 1 } })).toMatchObject({ matchedCount: 2, modifiedCount: 2 });
    expect(await c.updateOne({ _id: 1 }, { $set: { n: 2 } })).toMatchObject({ matchedCount: 1, modifiedCount: 0 });
    await c.updateOne({ _id: 1 }, { $set: { 'items.$[e].q': 9 } }, { arrayFilters: [{ 'e.k': 2 }] });
    await c.updateOne({ _id: 1, tags: 'a' }, { $set: { 'tags.$': 'A' } });
    await c.updateOne({ _id: 2 }, [{ $set: { total: { $add: ['$n', 40] } } }]);
    await c.replaceOne({ _id: 2 }, { replaced: true });
    const up = await c.updateOne({ _id: 3 }, { $set: { x: 1 }, $setOnInsert: { created: true } }, { upsert: true });
    expect(up).toMatchObject({ upsertedCount: 1, upsertedId: 3 });
    await c.updateOne({ _id: 3 }, { $set: { x: 2 }, $setOnInsert: { created: false } }, { upsert: true });
    expect(await c.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, tags: ['A', 'b'], items: [{ k: 1, q: 1 }, { k: 2, q: 9 }], n: 2 },
      { _id: 2, replaced: true },
      { _id: 3, x: 2, created: true },
    ]);
    expect(await errorOf(c.updateOne({ _id: 1 }, { $inc: { tags: 1 } }))).toMatchObject({ code: 14 });
    expect(await errorOf(c.updateOne({ _id: 1 }, { $set: { _id: 5 } }))).toMatchObject({ code: 66 });
    expect(await errorOf(c.updateOne({ _id: 1 }, { $set: { n: 1 }, $inc: { n: 1 } }))).toMatchObject({ code: 40 });
    expect(await errorOf(db.command({ update: 'updates', updates: [{ q: { _id: 1 }, u: { $push: { n: 1 } } }] }).then((r) => {
      if (r.writeErrors) throw Object.assign(new Error(r.writeErrors[0].errmsg), { code: r.writeErrors[0].code });
    }))).toMatchObject({ code: 2 });
  });

  it('$push modifiers work on a missing field', async () => {
    const c = db.collection<{ _id: number; xs?: number[] }>('push');
    await c.insertOne({ _id: 1 });
    await c.updateOne({ _id: 1 }, { $push: { xs: { $each: [3, 1, 2], $sort: 1, $slice: -2 } } });
    expect(await c.findOne({ _id: 1 })).toEqual({ _id: 1, xs: [2, 3] });
  });

  it('findOneAndUpdate / findOneAndDelete / findOneAndReplace with sort, upsert, projection', async () => {
    const c = db.collection<Loose>('fam');
    await c.insertMany([
      { _id: 1, p: 3 },
      { _id: 2, p: 1 },
      { _id: 3, p: 2 },
    ]);
    expect(await c.findOneAndUpdate({}, { $inc: { p: 10 } }, { sort: { p: 1 }, returnDocument: 'after' })).toEqual({ _id: 2, p: 11 });
    expect(await c.findOneAndDelete({ p: { $lt: 5 } }, { sort: { p: -1 } })).toEqual({ _id: 1, p: 3 });
    expect(await c.findOneAndReplace({ _id: 3 }, { q: 1 }, { returnDocument: 'after', projection: { _id: 0 } })).toEqual({ q: 1 });
    const res = await c.findOneAndUpdate({ _id: 9 }, { $set: { p: 0 } }, { upsert: true, returnDocument: 'after', includeResultMetadata: true });
    expect(res.value).toEqual({ _id: 9, p: 0 });
    expect(res.lastErrorObject).toMatchObject({ n: 1, updatedExisting: false, upserted: 9 });
    expect(await c.findOneAndUpdate({ _id: 404 }, { $set: { p: 0 } })).toBeNull();
  });

  it('delete one or many, count, distinct, estimatedDocumentCount', async () => {
    const c = db.collection<Loose>('del');
    await c.insertMany([{ t: 'a' }, { t: 'a' }, { t: 'b' }, { t: ['c', 'a'] }]);
    expect(await c.distinct('t')).toEqual(['a', 'b', 'c']);
    expect((await db.command({ count: 'del', query: { t: 'a' } })).n).toBe(3);
    expect(await c.estimatedDocumentCount()).toBe(4);
    expect((await c.deleteOne({ t: 'a' })).deletedCount).toBe(1);
    expect((await c.deleteMany({ t: 'a' })).deletedCount).toBe(2);
    expect(await c.countDocuments()).toBe(1);
  });

  it('collections: create, NamespaceExists, listCollections, drop, dropDatabase', async () => {
    const other = h.client.db('cmd_catalog');
    await other.createCollection('one');
    expect((await errorOf(other.createCollection('one'))).code).toBe(48);
    await other.collection('two').insertOne({});
    expect((await other.listCollections().toArray()).map((c) => c.name).sort()).toEqual(['one', 'two']);
    expect((await other.listCollections({ name: 'two' }, { nameOnly: true }).toArray()).map((c) => c.name)).toEqual(['two']);
    await other.collection('one').drop();
    expect((await other.listCollections().toArray()).map((c) => c.name)).toEqual(['two']);
    await other.dropDatabase();
    expect((await h.client.db('admin').admin().listDatabases()).databases.map((d) => d.name)).not.toContain('cmd_catalog');
  });
});

describe('aggregation', () => {
  it('supports the common stages and accumulators', async () => {
    const orders = db.collection<Loose>('orders');
    const users = db.collection<Loose>('people');
    await users.insertMany([
      { _id: 'u1', name: 'Ann' },
      { _id: 'u2', name: 'Bob' },
    ]);
    await orders.insertMany([
      { _id: 1, user: 'u1', items: ['x', 'y'], amount: 10 },
      { _id: 2, user: 'u1', items: ['y'], amount: 20 },
      { _id: 3, user: 'u2', items: [], amount: 5 },
    ]);
    const grouped = await orders
      .aggregate([
        { $match: { amount: { $gte: 5 } } },
        { $group: { _id: '$user', total: { $sum: '$amount' }, avg: { $avg: '$amount' }, max: { $max: '$amount' }, min: { $min: '$amount' }, ids: { $push: '$_id' }, n: { $count: {} }, first: { $first: '$_id' } } },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    expect(grouped).toEqual([
      { _id: 'u1', total: 30, avg: 15, max: 20, min: 10, ids: [1, 2], n: 2, first: 1 },
      { _id: 'u2', total: 5, avg: 5, max: 5, min: 5, ids: [3], n: 1, first: 3 },
    ]);
    const unwound = await orders.aggregate([{ $unwind: '$items' }, { $group: { _id: '$items', c: { $sum: 1 } } }, { $sort: { c: -1, _id: 1 } }]).toArray();
    expect(unwound).toEqual([
      { _id: 'y', c: 2 },
      { _id: 'x', c: 1 },
    ]);
    const joined = await orders
      .aggregate([
        { $lookup: { from: 'people', localField: 'user', foreignField: '_id', as: 'who' } },
        { $set: { name: { $arrayElemAt: ['$who.name', 0] } } },
        { $project: { _id: 1, name: 1 } },
        { $sort: { _id: -1 } },
        { $skip: 1 },
        { $limit: 1 },
      ])
      .toArray();
    expect(joined).toEqual([{ _id: 2, name: 'Ann' }]);
    const faceted = await orders
      .aggregate([{ $facet: { count: [{ $count: 'n' }], big: [{ $match: { amount: { $gt: 10 } } }, { $project: { _id: 1 } }] } }, { $addFields: { ok: true } }])
      .toArray();
    expect(faceted).toEqual([{ count: [{ n: 3 }], big: [{ _id: 2 }], ok: true }]);
  });

  it('simple $group shapes (the booking hot path) follow MongoDB: $sum skips non-numbers, missing _id field groups as null', async () => {
    const g = db.collection<Loose>('grp');
    await g.insertMany([
      { _id: 1, k: 'a', q: 2 },
      { _id: 2, k: 'a', q: 'x' },
      { _id: 3, k: 'b', q: 5 },
      { _id: 4, q: 1.5 },
      { _id: 5, k: 'a', q: [1, 2] },
    ]);
    expect(await g.aggregate([{ $group: { _id: null, total: { $sum: '$q' }, n: { $sum: 1 }, c: { $count: {} } } }]).toArray()).toEqual([{ _id: null, total: 8.5, n: 5, c: 5 }]);
    expect(await g.aggregate([{ $group: { _id: '$k', total: { $sum: '$q' } } }, { $sort: { _id: 1 } }]).toArray()).toEqual([
      { _id: null, total: 1.5 },
      { _id: 'a', total: 2 },
      { _id: 'b', total: 5 },
    ]);
    expect(await g.aggregate([{ $match: { k: 'zzz' } }, { $group: { _id: null, n: { $sum: '$q' } } }]).toArray()).toEqual([]);
  });

  it('$out replaces the target collection; $merge upserts into it per whenMatched/whenNotMatched', async () => {
    const src = db.collection<Loose>('src');
    await src.insertMany([
      { _id: 1, x: 1 },
      { _id: 2, x: 2 },
      { _id: 3, x: 3 },
    ]);
    const dst = db.collection<Loose>('dst');
    await dst.insertOne({ _id: 9, old: true });
    await dst.createIndex({ x: 1 });
    expect(await src.aggregate([{ $match: { x: { $gte: 2 } } }, { $out: 'dst' }]).toArray()).toEqual([]);
    expect(await dst.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 2, x: 2 },
      { _id: 3, x: 3 },
    ]);
    expect((await dst.indexes()).map((i) => i.name)).toContain('x_1');

    await src.aggregate([{ $set: { y: 1 } }, { $merge: { into: 'dst' } }]).toArray();
    expect(await dst.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, x: 1, y: 1 },
      { _id: 2, x: 2, y: 1 },
      { _id: 3, x: 3, y: 1 },
    ]);
    await src.aggregate([{ $project: { z: '$x' } }, { $merge: { into: 'dst', whenMatched: 'replace', whenNotMatched: 'discard' } }]).toArray();
    expect(await dst.findOne({ _id: 2 })).toEqual({ _id: 2, z: 2 });
    const err = await errorOf(src.aggregate([{ $merge: { into: 'dst', whenMatched: 'fail' } }]).toArray());
    expect(err).toMatchObject({ code: 11000, keyPattern: { _id: 1 }, keyValue: { _id: 1 } });
    expect((await errorOf(src.aggregate([{ $merge: { into: 'dst', on: 'x' } }]).toArray())).code).toBe(51183);
    expect((await errorOf(src.aggregate([{ $out: 'dst' }, { $match: {} }]).toArray())).code).toBe(40601);
  });

  it('$lookup inside a transaction sees the transaction’s own writes', async () => {
    const session = h.client.startSession();
    try {
      session.startTransaction();
      await db.collection('people').insertOne({ _id: 'u3' as never, name: 'Cy' }, { session });
      await db.collection('orders').insertOne({ _id: 4 as never, user: 'u3', amount: 1 }, { session });
      const [row] = await db
        .collection('orders')
        .aggregate([{ $match: { _id: 4 } }, { $lookup: { from: 'people', localField: 'user', foreignField: '_id', as: 'who' } }], { session })
        .toArray();
      expect(row.who).toEqual([{ _id: 'u3', name: 'Cy' }]);
      await session.abortTransaction();
    } finally {
      await session.endSession();
    }
    expect(await db.collection('people').countDocuments({ _id: 'u3' as never })).toBe(0);
  });
});
