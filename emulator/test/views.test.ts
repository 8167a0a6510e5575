// Read-only views (create with viewOn + pipeline): reads run the view's pipeline over the base
// collection (at the reader's snapshot); writes are refused with CommandNotSupportedOnView (166).
import type { Db } from 'mongodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startHarness, type Harness } from './support.js';

let h: Harness;
let db: Db;

type Row = { _id: number; kind?: string; n?: number; [k: string]: unknown };
const coll = (name: string) => db.collection<Row>(name);

beforeAll(async () => {
  h = await startHarness();
  db = h.client.db('views_test');
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await db.dropDatabase();
  await coll('items').insertMany([
    { _id: 1, kind: 'a', n: 5 },
    { _id: 2, kind: 'b', n: 3 },
    { _id: 3, kind: 'a', n: 9 },
    { _id: 4, kind: 'c', n: 1 },
  ]);
  await db.createCollection('big', { viewOn: 'items', pipeline: [{ $match: { n: { $gt: 2 } } }, { $set: { double: { $multiply: ['$n', 2] } } }] });
});

describe('views', () => {
  it('find, count, countDocuments, estimatedDocumentCount and distinct read through the pipeline', async () => {
    const big = coll('big');
    expect(await big.find({ kind: 'a' }, { sort: { n: -1 }, projection: { _id: 1, double: 1 } }).toArray()).toEqual([
      { _id: 3, double: 18 },
      { _id: 1, double: 10 },
    ]);
    expect(await big.find({}, { sort: { _id: 1 }, skip: 1, limit: 1 }).toArray()).toEqual([{ _id: 2, kind: 'b', n: 3, double: 6 }]);
    expect(await big.countDocuments({ kind: 'a' })).toBe(2);
    expect(await big.estimatedDocumentCount()).toBe(3);
    expect(await big.distinct('kind')).toEqual(['a', 'b']);
    expect(await big.aggregate([{ $group: { _id: null, total: { $sum: '$double' } } }]).toArray()).toEqual([{ _id: null, total: 34 }]);
  });

  it('always reflects the base collection, views on views too, and $lookup may read a view', async () => {
    await db.createCollection('bigA', { viewOn: 'big', pipeline: [{ $match: { kind: 'a' } }] });
    expect((await coll('bigA').find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([1, 3]);
    await coll('items').insertOne({ _id: 5, kind: 'a', n: 7 });
    await coll('items').updateOne({ _id: 1 }, { $set: { n: 0 } });
    expect((await coll('bigA').find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([3, 5]);
    const joined = await coll('items')
      .aggregate([{ $match: { _id: 4 } }, { $lookup: { from: 'bigA', localField: 'kind', foreignField: 'kind', as: 'x' } }])
      .toArray();
    expect(joined[0].x).toEqual([]);
    const joinedA = await coll('items')
      .aggregate([{ $match: { _id: 3 } }, { $lookup: { from: 'bigA', localField: 'kind', foreignField: 'kind', as: 'x' } }])
      .toArray();
    expect(joinedA[0].x.map((d: Row) => d._id)).toEqual([3, 5]);
  });

  it('inside a transaction reads the snapshot with the transaction\'s own writes', async () => {
    const s = h.client.startSession();
    try {
      s.startTransaction();
      await coll('items').insertOne({ _id: 6, kind: 'b', n: 50 }, { session: s });
      expect(await coll('big').countDocuments({}, { session: s })).toBe(4);
      expect(await coll('big').countDocuments({})).toBe(3);
      await s.abortTransaction();
    } finally {
      await s.endSession();
    }
  });

  it('listCollections reports type view with its definition; drop removes only the view', async () => {
    const infos = await db.listCollections({ name: 'big' }).toArray();
    expect(infos).toEqual([
      {
        name: 'big',
        type: 'view',
        options: { viewOn: 'items', pipeline: [{ $match: { n: { $gt: 2 } } }, { $set: { double: { $multiply: ['$n', 2] } } }] },
        info: { readOnly: true },
      },
    ]);
    expect(await db.listCollections({ type: 'view' }, { nameOnly: true }).toArray()).toEqual([{ name: 'big', type: 'view' }]);
    expect(await db.dropCollection('big')).toBe(true);
    expect(await db.listCollections({ name: 'big' }).toArray()).toEqual([]);
    expect(await coll('items').countDocuments()).toBe(4);
  });

  it('writes and index commands on a view fail with CommandNotSupportedOnView (166)', async () => {
    const big = coll('big');
    const attempts: (() => Promise<unknown>)[] = [
      () => big.insertOne({ _id: 9 }),
      () => big.updateOne({ _id: 1 }, { $set: { n: 1 } }),
      () => big.updateOne({ _id: 99 }, { $set: { n: 1 } }, { upsert: true }),
      () => big.deleteOne({ _id: 1 }),
      () => big.findOneAndUpdate({ _id: 1 }, { $set: { n: 1 } }),
      () => big.findOneAndDelete({ _id: 1 }),
      () => big.createIndex({ n: 1 }),
      () => big.listIndexes().toArray(),
      () => coll('items').aggregate([{ $out: 'big' }]).toArray(),
    ];
    for (const attempt of attempts) {
      const err = await errorOf(attempt());
      expect(err.code).toBe(166);
      expect(err.codeName).toBe('CommandNotSupportedOnView');
    }
    expect(await coll('items').countDocuments()).toBe(4);
  });

  it('refuses duplicate names, cycles, $out in the definition, and creating a view in a transaction', async () => {
    expect((await errorOf(db.createCollection('big', { viewOn: 'items', pipeline: [] }))).code).toBe(48);
    expect((await errorOf(db.createCollection('items', { viewOn: 'big', pipeline: [] }))).code).toBe(48);
    await db.createCollection('v2', { viewOn: 'big', pipeline: [] });
    // Redefining big on v2 (which reads big) would be a cycle.
    expect((await errorOf(db.command({ collMod: 'big', viewOn: 'v2', pipeline: [] }))).code).toBe(5);
    expect((await errorOf(db.createCollection('v3', { viewOn: 'items', pipeline: [{ $out: 'x' }] }))).code).toBe(167);
    await db.command({ collMod: 'big', viewOn: 'items', pipeline: [{ $match: { kind: 'c' } }] });
    expect(await coll('v2').countDocuments()).toBe(1);
    const s = h.client.startSession();
    try {
      s.startTransaction();
      await coll('items').findOne({}, { session: s });
      expect((await errorOf(db.createCollection('v4', { viewOn: 'items', session: s }))).code).toBe(263);
    } finally {
      await s.endSession();
    }
  });
});
