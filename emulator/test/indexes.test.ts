import { ObjectId, type Collection, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startHarness, type Harness } from './support.js';

let h: Harness;
let db: Db;

beforeAll(async () => {
  h = await startHarness();
  db = h.client.db('ix');
});
afterAll(async () => {
  await h.close();
});

/** Documents the emulator's matcher examined while running fn (exported stat counter). */
async function examined(fn: () => Promise<unknown>): Promise<number> {
  const before = h.em.stats.docsExamined;
  await fn();
  return h.em.stats.docsExamined - before;
}

describe('index use (documents examined, not time)', () => {
  interface Booking {
    eventId: ObjectId;
    status: string;
    quantity: number;
    note?: string;
  }
  let bookings: Collection<Booking>;
  const eventIds = Array.from({ length: 50 }, () => new ObjectId());
  const statuses = ['pending', 'confirmed', 'cancelled', 'expired'];

  beforeAll(async () => {
    bookings = db.collection<Booking>('bookings');
    await bookings.createIndex({ eventId: 1, status: 1 });
    // 50 events x 40 bookings = 2000 documents, 10 per (event, status).
    const docs: Booking[] = [];
    for (const eventId of eventIds) for (let i = 0; i < 40; i++) docs.push({ eventId, status: statuses[i % 4], quantity: 1 + (i % 3) });
    await bookings.insertMany(docs);
  });

  it('the hot aggregate ($match on eventId + status $in, $group) inside a transaction touches only matching documents', async () => {
    const session = h.client.startSession();
    try {
      session.startTransaction();
      let result: { _id: null; tickets: number }[] = [];
      const n = await examined(async () => {
        result = await bookings
          .aggregate<{ _id: null; tickets: number }>(
            [{ $match: { eventId: eventIds[7], status: { $in: ['pending', 'confirmed'] } } }, { $group: { _id: null, tickets: { $sum: '$quantity' } } }],
            { session },
          )
          .toArray();
      });
      expect(n).toBe(20);
      // i%4 in {0,1} over i<40: quantities 1+(i%3).
      const expected = Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 4 < 2).reduce((s, i) => s + 1 + (i % 3), 0);
      expect(result).toEqual([{ _id: null, tickets: expected }]);
      await session.commitTransaction();
    } finally {
      await session.endSession();
    }
  });

  it('a leading-field equality uses the compound index; an unindexed field scans', async () => {
    expect(await examined(() => bookings.countDocuments({ eventId: eventIds[3] }))).toBe(40);
    expect(await examined(() => bookings.find({ eventId: eventIds[3], status: 'expired', quantity: 2 }).toArray())).toBe(10);
    // status alone is not a prefix of { eventId, status }: full scan.
    expect(await examined(() => bookings.countDocuments({ status: 'expired' }))).toBe(2000);
    expect(await examined(() => bookings.countDocuments({ quantity: 3 }))).toBe(2000);
  });

  it('an $in of 500 ids on the leading field is a union of point lookups, in find and a leading $match', async () => {
    const many = db.collection<{ eventId: ObjectId; n: number }>('many');
    await many.createIndex({ eventId: 1 });
    // 5000 documents over 1000 events; the query names 500 of them (and 100 that have none).
    const events = Array.from({ length: 1000 }, () => new ObjectId());
    await many.insertMany(Array.from({ length: 5000 }, (_, n) => ({ eventId: events[n % 1000], n })));
    const wanted = [...events.slice(0, 500), ...Array.from({ length: 100 }, () => new ObjectId())];
    let found: unknown[] = [];
    expect(await examined(async () => (found = await many.find({ eventId: { $in: wanted } }).toArray()))).toBe(2500);
    expect(found).toHaveLength(2500);
    const pipeline = [{ $match: { eventId: { $in: wanted } } }, { $count: 'n' }];
    expect(await examined(() => many.aggregate(pipeline).toArray())).toBe(2500);
    // Matching a candidate against a long list is a set lookup, not one comparison per value: with
    // all 1000 events (+100) the best of 5 runs took ~12 ms on the 2-core development machine,
    // ~140 ms when each of the 5000 candidates was compared with 1100 values.
    const all = [{ $match: { eventId: { $in: [...events, ...wanted.slice(500)] } } }, { $count: 'n' }];
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      expect(await many.aggregate(all).toArray()).toEqual([{ n: 5000 }]);
      best = Math.min(best, performance.now() - t);
    }
    expect(best).toBeLessThan(50);
  });

  it('_id lookups (find and findOneAndUpdate) examine one document', async () => {
    const one = await bookings.findOne({ eventId: eventIds[0] });
    expect(await examined(() => bookings.findOne({ _id: one!._id }))).toBe(1);
    expect(await examined(() => bookings.findOneAndUpdate({ _id: one!._id }, { $set: { note: 'x' } }))).toBe(1);
    expect(await examined(() => bookings.find({ _id: { $in: [one!._id, new ObjectId()] } }).toArray())).toBe(1);
  });

  it('index entries follow updates and deletes', async () => {
    const target = await bookings.findOne({ eventId: eventIds[9], status: 'pending' });
    await bookings.updateOne({ _id: target!._id }, { $set: { status: 'confirmed' } });
    expect(await bookings.countDocuments({ eventId: eventIds[9], status: 'pending' })).toBe(9);
    expect(await bookings.countDocuments({ eventId: eventIds[9], status: 'confirmed' })).toBe(11);
    await bookings.deleteMany({ eventId: eventIds[9], status: 'confirmed' });
    expect(await examined(() => bookings.countDocuments({ eventId: eventIds[9] }))).toBe(29);
  });

  it('a document written twice in one transaction leaves no index entry for its intermediate body', async () => {
    const target = await bookings.findOne({ eventId: eventIds[11], status: 'pending' });
    const session = h.client.startSession();
    try {
      await session.withTransaction(async () => {
        await bookings.updateOne({ _id: target!._id }, { $set: { status: 'held' } }, { session });
        await bookings.updateOne({ _id: target!._id }, { $set: { status: 'paid' } }, { session });
      });
    } finally {
      await session.endSession();
    }
    expect(await examined(() => bookings.countDocuments({ eventId: eventIds[11], status: 'held' }))).toBe(0);
    expect(await examined(() => bookings.countDocuments({ eventId: eventIds[11], status: 'paid' }))).toBe(1);
  });

  it('array values are indexed per element (multikey)', async () => {
    const tagged = db.collection<{ tags: string[] }>('tagged');
    await tagged.createIndex({ tags: 1 });
    await tagged.insertMany([{ tags: ['a', 'b'] }, { tags: ['b'] }, { tags: [] }, { tags: ['c'] }]);
    expect(await tagged.countDocuments({ tags: 'b' })).toBe(2);
    expect(await examined(() => tagged.countDocuments({ tags: 'b' }))).toBe(2);
    expect(await tagged.countDocuments({ tags: ['a', 'b'] })).toBe(1);
  });
});

describe('unique, sparse and partial indexes', () => {
  it('E11000 on insert, update, upsert and findOneAndUpdate carries keyPattern and keyValue', async () => {
    const users = db.collection<{ _id?: number; org: string; email: string }>('users');
    await users.createIndex({ org: 1, email: 1 }, { unique: true, name: 'org_email' });
    await users.insertMany([
      { _id: 1, org: 'o', email: 'a' },
      { _id: 2, org: 'o', email: 'b' },
      { _id: 3, org: 'p', email: 'a' },
    ]);
    const ins = await errorOf(users.insertOne({ org: 'o', email: 'a' }));
    expect(ins).toMatchObject({ code: 11000, keyPattern: { org: 1, email: 1 }, keyValue: { org: 'o', email: 'a' } });
    expect(ins.message).toContain('index: org_email dup key: { org: "o", email: "a" }');
    const upd = await errorOf(users.updateOne({ _id: 2 }, { $set: { email: 'a' } }));
    expect(upd).toMatchObject({ code: 11000, keyValue: { org: 'o', email: 'a' } });
    const ups = await errorOf(users.updateOne({ _id: 9 }, { $set: { org: 'p', email: 'a' } }, { upsert: true }));
    expect(ups.code).toBe(11000);
    const fam = await errorOf(users.findOneAndUpdate({ _id: 3 }, { $set: { org: 'o' } }));
    expect(fam).toMatchObject({ code: 11000, keyPattern: { org: 1, email: 1 }, keyValue: { org: 'o', email: 'a' } });
    // Freeing the key makes it usable again.
    await users.deleteOne({ _id: 1 });
    await users.updateOne({ _id: 2 }, { $set: { email: 'a' } });
    expect(await users.countDocuments({ email: 'a' })).toBe(2);
  });

  it('duplicate _id is E11000 on the _id_ index', async () => {
    const c = db.collection<{ _id: string }>('ids');
    await c.insertOne({ _id: 'k' });
    const err = await errorOf(c.insertOne({ _id: 'k' }));
    expect(err).toMatchObject({ code: 11000, keyPattern: { _id: 1 }, keyValue: { _id: 'k' } });
    expect(err.message).toContain('index: _id_ dup key: { _id: "k" }');
  });

  it('a non-sparse unique index treats missing as null; sparse skips documents without the field', async () => {
    const dense = db.collection('dense');
    await dense.createIndex({ code: 1 }, { unique: true });
    await dense.insertOne({ x: 1 });
    expect((await errorOf(dense.insertOne({ x: 2 }))).keyValue).toEqual({ code: null });
    const sparse = db.collection('sparse');
    await sparse.createIndex({ code: 1 }, { unique: true, sparse: true });
    await sparse.insertMany([{ x: 1 }, { x: 2 }, { code: 'a' }]);
    expect((await errorOf(sparse.insertOne({ code: 'a' }))).code).toBe(11000);
  });

  it('a partial unique index constrains only documents matching its filter', async () => {
    const c = db.collection('partial');
    await c.createIndex({ user: 1 }, { unique: true, partialFilterExpression: { status: 'active' } });
    await c.insertMany([
      { user: 'u', status: 'active' },
      { user: 'u', status: 'closed' },
      { user: 'u', status: 'closed' },
    ]);
    expect((await errorOf(c.insertOne({ user: 'u', status: 'active' }))).code).toBe(11000);
    await c.updateOne({ status: 'active' }, { $set: { status: 'closed' } });
    await c.insertOne({ user: 'u', status: 'active' });
    const ix = (await c.indexes()).find((i) => i.name === 'user_1');
    expect(ix).toMatchObject({ unique: true, partialFilterExpression: { status: 'active' } });
  });

  it('building a unique index over duplicates fails with E11000 and leaves no index', async () => {
    const c = db.collection('dups');
    await c.insertMany([{ k: 1 }, { k: 1 }]);
    expect((await errorOf(c.createIndex({ k: 1 }, { unique: true }))).code).toBe(11000);
    expect((await c.indexes()).map((i) => i.name)).toEqual(['_id_']);
  });
});

describe('index management', () => {
  it('lists, recreates idempotently, rejects conflicting specs, drops', async () => {
    const c = db.collection('mgmt');
    expect(await c.createIndex({ a: 1, b: -1 })).toBe('a_1_b_-1');
    expect(await c.createIndex({ a: 1, b: -1 })).toBe('a_1_b_-1');
    expect((await errorOf(c.createIndex({ a: 1, b: -1 }, { unique: true }))).code).toBe(85);
    expect((await errorOf(c.createIndex({ z: 1 }, { name: 'a_1_b_-1' }))).code).toBe(86);
    expect((await errorOf(c.createIndex({ loc: '2dsphere' }))).code).toBe(238);
    expect((await c.indexes()).map((i) => [i.name, i.key])).toEqual([
      ['_id_', { _id: 1 }],
      ['a_1_b_-1', { a: 1, b: -1 }],
    ]);
    expect((await errorOf(c.dropIndex('_id_'))).code).toBe(72);
    expect((await errorOf(c.dropIndex('nope'))).code).toBe(27);
    await c.dropIndex('a_1_b_-1');
    expect((await c.indexes()).map((i) => i.name)).toEqual(['_id_']);
    expect((await errorOf(db.collection('no_such_coll').indexes())).code).toBe(26);
  });
});
