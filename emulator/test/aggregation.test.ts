// Aggregation stages the emulator evaluates itself rather than through mingo: $lookup with
// localField/foreignField (with and without a pipeline).
import { Decimal128 } from 'bson';
import type { Db } from 'mongodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support.js';

let h: Harness;
let db: Db;

beforeAll(async () => {
  h = await startHarness();
  db = h.client.db('agg_test');
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await db.dropDatabase();
  await coll('orders').insertMany([
    { _id: 1, item: 'almonds', qty: 2 },
    { _id: 2, item: 'pecans', qty: 1 },
    { _id: 3, item: ['almonds', 'cashews'], qty: 5 },
    { _id: 4, qty: 9 },
  ]);
  await coll('stock').insertMany([
    { _id: 10, sku: 'almonds', warehouse: 'A', instock: 120 },
    { _id: 11, sku: 'almonds', warehouse: 'B', instock: 1 },
    { _id: 12, sku: 'pecans', warehouse: 'A', instock: 80 },
    { _id: 13, sku: 'cashews', warehouse: 'A', instock: 60 },
    { _id: 14, sku: null, warehouse: 'C', instock: 0 },
    { _id: 15, warehouse: 'D', instock: 0 },
  ]);
});

type Row = { _id: number | string; [k: string]: unknown };
const coll = (name: string) => db.collection<Row>(name);
const ids = (docs: unknown): unknown[] => (docs as { _id: unknown }[]).map((d) => d._id);

describe('$lookup with localField/foreignField and a pipeline (MongoDB 5.0 concise form)', () => {
  it('joins on the keys first, then runs the pipeline over the matching foreign documents only', async () => {
    const out = await db
      .collection('orders')
      .aggregate([
        { $sort: { _id: 1 } },
        {
          $lookup: {
            from: 'stock',
            localField: 'item',
            foreignField: 'sku',
            let: { need: '$qty' },
            pipeline: [{ $match: { $expr: { $gte: ['$instock', '$$need'] } } }, { $project: { _id: 1, warehouse: 1 } }],
            as: 'sources',
          },
        },
      ])
      .toArray();
    expect(out.map((o) => [o._id, o.sources])).toEqual([
      // almonds: only the two almond rows are candidates; B has 1 < 2.
      [1, [{ _id: 10, warehouse: 'A' }]],
      [2, [{ _id: 12, warehouse: 'A' }]],
      // An array local field joins each element.
      [3, [{ _id: 10, warehouse: 'A' }, { _id: 13, warehouse: 'A' }]],
      // Missing local field joins like null: sku null and missing sku; both fail instock >= 9.
      [4, []],
    ]);
  });

  it('a missing local field joins foreign null and missing values; pipeline stages see only those', async () => {
    const out = await db
      .collection('orders')
      .aggregate([{ $match: { _id: 4 } }, { $lookup: { from: 'stock', localField: 'item', foreignField: 'sku', pipeline: [{ $count: 'n' }], as: 'c' } }])
      .toArray();
    expect(out[0].c).toEqual([{ n: 2 }]);
  });

  it('without a pipeline: BSON equality across number types, foreign arrays match by element, dotted as', async () => {
    await coll('l').insertMany([
      { _id: 1, k: new Decimal128('2') },
      { _id: 2, k: 3 },
      { _id: 3, k: [[1, 2]] },
    ]);
    await coll('f').insertMany([
      { _id: 'a', v: 2 },
      { _id: 'b', v: [3, 4] },
      { _id: 'c', v: [1, 2] },
    ]);
    const out = await db
      .collection('l')
      .aggregate([{ $sort: { _id: 1 } }, { $lookup: { from: 'f', localField: 'k', foreignField: 'v', as: 'j.found' } }])
      .toArray();
    expect(out.map((o) => ids(o.j.found))).toEqual([
      ['a', 'c'],
      ['b'],
      // A nested array in local matches a foreign array as a whole value.
      ['c'],
    ]);
  });

  it('the sub-pipeline works on copies: stored foreign documents stay unchanged', async () => {
    const out = await db
      .collection('orders')
      .aggregate([{ $match: { _id: 1 } }, { $lookup: { from: 'stock', localField: 'item', foreignField: 'sku', pipeline: [{ $set: { instock: -1 } }], as: 's' } }])
      .toArray();
    expect(out[0].s.map((s: { instock: number }) => s.instock)).toEqual([-1, -1]);
    expect(ids(await coll('stock').find({ instock: -1 }).toArray())).toEqual([]);
  });

  it('pipeline-only form: each input document runs the pipeline on its own copies', async () => {
    const out = await coll('orders')
      .aggregate([
        { $match: { _id: { $in: [1, 2] } } },
        { $lookup: { from: 'stock', pipeline: [{ $match: { _id: 10 } }, { $set: { 'nested.n': { $add: [{ $ifNull: ['$nested.n', 0] }, 1] } } }], as: 's' } },
      ])
      .toArray();
    expect(out.map((o) => (o.s as { nested: { n: number } }[])[0].nested.n)).toEqual([1, 1]);
    expect(await coll('stock').findOne({ _id: 10 })).not.toHaveProperty('nested');
  });

  it('reads the foreign collection at the transaction snapshot, including its own writes', async () => {
    const s = h.client.startSession();
    try {
      s.startTransaction();
      await coll('stock').insertOne({ _id: 16, sku: 'pecans', warehouse: 'T', instock: 5 }, { session: s });
      const inTxn = await db
        .collection('orders')
        .aggregate([{ $match: { _id: 2 } }, { $lookup: { from: 'stock', localField: 'item', foreignField: 'sku', pipeline: [{ $project: { _id: 1 } }], as: 's' } }], { session: s })
        .toArray();
      expect(ids(inTxn[0].s)).toEqual([12, 16]);
      await s.abortTransaction();
    } finally {
      await s.endSession();
    }
  });
});
