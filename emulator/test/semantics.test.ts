// BSON type semantics where mingo alone would differ from MongoDB (see README "mingo differences").
import { Binary, Decimal128, Long, MaxKey, MinKey, ObjectId, Timestamp, type Document } from 'bson';
import type { Collection } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startHarness, type Harness } from './support.js';

/** Test documents with non-ObjectId _id values. */
interface Loose extends Document {
  _id?: number | string;
}

let h: Harness;
let c: Collection<Loose>;

beforeAll(async () => {
  h = await startHarness();
  c = h.client.db('sem').collection<Loose>('values');
});
afterAll(async () => {
  await h.close();
});

const ids = async (filter: Document, sort: Document = { _id: 1 }): Promise<unknown[]> => (await c.find(filter).sort(sort).toArray()).map((d) => d._id);

describe('BSON comparison semantics', () => {
  beforeAll(async () => {
    await c.insertMany([
      { _id: 1, v: 5 },
      { _id: 2, v: Long.fromString('5') },
      { _id: 3, v: Decimal128.fromString('5.0') },
      { _id: 4, v: Decimal128.fromString('10') },
      { _id: 5, v: 7.5 },
      { _id: 6, v: 'text' },
      { _id: 7, v: null },
      { _id: 8 },
      { _id: 9, v: [1, 9] },
      { _id: 10, v: { a: 1 } },
      { _id: 11, v: new ObjectId('000000000000000000000001') },
      { _id: 12, v: true },
      { _id: 13, v: new Date(0) },
      { _id: 14, v: new Binary(Buffer.from('ab')) },
      { _id: 15, v: Long.fromString('9007199254740993') },
      { _id: 16, v: new Timestamp({ t: 1, i: 1 }) },
      { _id: 17, v: new MinKey() },
      { _id: 18, v: new MaxKey() },
    ]);
  });

  it('numbers of every BSON width are equal when their values are', async () => {
    expect(await ids({ v: 5 })).toEqual([1, 2, 3]);
    expect(await ids({ v: Decimal128.fromString('5') })).toEqual([1, 2, 3]);
    expect(await ids({ v: { $in: [Long.fromNumber(10)] } })).toEqual([4]);
    expect(await ids({ v: Long.fromString('9007199254740993') })).toEqual([15]);
  });

  it('range queries compare within the type bracket (numbers vs numbers only)', async () => {
    expect(await ids({ v: { $gt: 6 } })).toEqual([4, 5, 9, 15]);
    expect(await ids({ v: { $lte: 5 } })).toEqual([1, 2, 3, 9]);
    expect(await ids({ v: { $gt: 'a' } })).toEqual([6]);
    expect(await ids({ v: { $gte: new Date(0) } })).toEqual([13]);
  });

  it('null matches null and missing; $ne / $nin negate array-aware equality', async () => {
    expect(await ids({ v: null })).toEqual([7, 8]);
    expect(await ids({ v: { $exists: false } })).toEqual([8]);
    expect(await ids({ v: 9 })).toEqual([9]);
    expect(await ids({ v: { $ne: 9, $type: 'array' } })).toEqual([]);
    expect(await ids({ v: { $nin: [5, null, 'text'] }, _id: { $lt: 10 } })).toEqual([4, 5, 9]);
  });

  it('ObjectId and Binary equality is by value', async () => {
    expect(await ids({ v: new ObjectId('000000000000000000000001') })).toEqual([11]);
    expect(await ids({ v: new Binary(Buffer.from('ab')) })).toEqual([14]);
  });

  it('sorts by MongoDB cross-type order: MinKey, null/missing, numbers, strings, objects, arrays, binData, ObjectId, bool, date, timestamp, MaxKey', async () => {
    // Ascending, arrays sort by their smallest element (1), so _id 9 sits with the numbers.
    const order = await ids({}, { v: 1, _id: 1 });
    expect(order).toEqual([17, 7, 8, 9, 1, 2, 3, 5, 4, 15, 6, 10, 14, 11, 12, 13, 16, 18]);
    // Descending, the array sorts by its largest element (9).
    const desc = await ids({ _id: { $in: [1, 4, 5, 9] } }, { v: -1 });
    expect(desc).toEqual([4, 9, 5, 1]);
  });

  it('$sort in aggregation uses the same order as find', async () => {
    const agg = (await c.aggregate([{ $match: { _id: { $in: [4, 5, 6, 11] } } }, { $sort: { v: 1 } }]).toArray()).map((d) => d._id);
    expect(agg).toEqual([5, 4, 6, 11]);
  });

  it('ObjectIds sort by their bytes (creation time first)', async () => {
    const oc = h.client.db('sem').collection<{ _id: ObjectId }>('oids');
    const a = ObjectId.createFromTime(1000);
    const b = ObjectId.createFromTime(2000);
    const cc = ObjectId.createFromTime(3000);
    await oc.insertMany([{ _id: b }, { _id: cc }, { _id: a }]);
    expect((await oc.find().sort({ _id: 1 }).toArray()).map((d) => d._id.toHexString())).toEqual([a, b, cc].map((x) => x.toHexString()));
    expect(await oc.countDocuments({ _id: { $gt: a, $lt: cc } })).toBe(1);
  });

  it('$type knows every BSON type name and number, and looks into arrays', async () => {
    expect(await ids({ v: { $type: 'objectId' } })).toEqual([11]);
    expect(await ids({ v: { $type: 'binData' } })).toEqual([14]);
    expect(await ids({ v: { $type: 'decimal' } })).toEqual([3, 4]);
    // Integral numbers in the documents (5 stored as int32) may have been int, long or double: refused.
    expect((await errorOf(c.find({ v: { $type: 'long' } }).toArray())).code).toBe(238);
    expect(await ids({ v: { $type: 'long' }, _id: 15 })).toEqual([15]);
    expect(await ids({ v: { $type: 17 } })).toEqual([16]);
    expect(await ids({ v: { $type: 'number' }, _id: { $lt: 10 } })).toEqual([1, 2, 3, 4, 5, 9]);
    expect(await ids({ v: { $type: ['null', 'bool'] } })).toEqual([7, 12]);
    expect(await ids({ v: { $type: 'array' } })).toEqual([9]);
  });

  it('refuses arithmetic mingo cannot do on Decimal128 / wide Long instead of answering wrongly', async () => {
    const inc = await c.updateOne({ _id: 4 }, { $inc: { v: 1 } }).then(
      () => null,
      (e: { code?: number }) => e.code,
    );
    expect(inc).toBe(238);
    const agg = await c.aggregate([{ $group: { _id: null, s: { $sum: '$v' } } }]).toArray().then(
      () => null,
      (e: { code?: number }) => e.code,
    );
    expect(agg).toBe(238);
    // Filtering and sorting such values is fine.
    expect((await c.aggregate([{ $match: { v: { $type: 'decimal' } } }, { $sort: { v: -1 } }]).toArray()).map((d) => d._id)).toEqual([4, 3]);
  });

  it('documents round-trip with their BSON types', async () => {
    const rt = h.client.db('sem').collection<Loose>('roundtrip');
    const doc = { _id: 'rt', d: Decimal128.fromString('1.10'), big: Long.fromString('9007199254740993'), bin: new Binary(Buffer.from([1, 2, 3]), 4), ts: new Timestamp({ t: 5, i: 6 }), date: new Date(123), nested: { arr: [1, 'a', null] } };
    await rt.insertOne(doc);
    const back = await rt.findOne({ _id: 'rt' }, { promoteLongs: false });
    expect(back?.d.toString()).toBe('1.10');
    expect((back?.big as Long).toString()).toBe('9007199254740993');
    expect((back?.bin as Binary).sub_type).toBe(4);
    expect(back?.ts).toEqual(new Timestamp({ t: 5, i: 6 }));
    expect(back?.nested).toEqual({ arr: [1, 'a', null] });
  });
});
