// Collation: ICU string comparison (through Intl.Collator) applied wherever mongod applies a
// command's collation, and clear refusals (238) where the emulator cannot reproduce it.
import type { CollationOptions, Collection, Db, Document } from 'mongodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startHarness, type Harness } from './support.js';

interface Item extends Document {
  _id: number | string;
  x?: unknown;
  tags?: string[];
  n?: number;
}

/** The same documents without Document's index signature, so the driver types array update operators. */
interface Tagged {
  _id: number;
  x?: string;
  tags?: string[];
  n?: number;
}

let h: Harness;
let db: Db;
let c: Collection<Item>;
let t: Collection<Tagged>;

/** Case-insensitive English, the spec tests' collation. */
const ci: CollationOptions = { locale: 'en_US', strength: 2 };

beforeAll(async () => {
  h = await startHarness();
  db = h.client.db('coll');
  c = db.collection<Item>('items');
  t = db.collection<Tagged>('items');
});
afterAll(async () => {
  await h.close();
});

async function reset(docs: Item[]): Promise<void> {
  await c.deleteMany({});
  await c.insertMany(docs);
}

const ids = (docs: Document[]): unknown[] => docs.map((d) => d._id as unknown);

describe('query matching', () => {
  beforeEach(async () => {
    await reset([
      { _id: 1, x: 'ping' },
      { _id: 2, x: 'PING' },
      { _id: 3, x: 'pong' },
      { _id: 4, x: ['a', 'PiNg'] },
      { _id: 5, x: { s: 'Ping' } },
      { _id: 6, x: 'café' },
      { _id: 7, x: 'cafe' },
      { _id: 8, x: 7 },
    ]);
  });

  it('equality, $in, $ne and $nin compare strings by the collation (also in arrays and sub-documents)', async () => {
    const find = (filter: Document): Promise<Item[]> => c.find(filter, { collation: ci, sort: { _id: 1 } }).toArray();
    expect(ids(await find({ x: 'Ping' }))).toEqual([1, 2, 4]);
    expect(ids(await find({ x: { s: 'PING' } }))).toEqual([5]);
    expect(ids(await find({ x: { $in: ['PONG', 'CAFE'] } }))).toEqual([3, 7]);
    // A long $in list (matched through a set without a collation) still honours it.
    const many = ['PONG', ...Array.from({ length: 20 }, (_, i) => `z${i}`)];
    expect(ids(await find({ x: { $in: many } }))).toEqual([3]);
    expect(ids(await find({ x: { $ne: 'PING' } }))).toEqual([3, 5, 6, 7, 8]);
    expect(ids(await find({ x: { $nin: ['PING', 'Pong'] } }))).toEqual([5, 6, 7, 8]);
    // Without a collation (or with "simple") the comparison is binary.
    expect(ids(await c.find({ x: 'Ping' }).toArray())).toEqual([]);
    expect(ids(await c.find({ x: 'ping' }, { collation: { locale: 'simple' } }).toArray())).toEqual([1]);
  });

  it('range operators, $all and $elemMatch use the collation', async () => {
    const find = (filter: Document): Promise<Item[]> => c.find(filter, { collation: ci, sort: { _id: 1 } }).toArray();
    // Binary "PING" < "ping" < "pong"; case-insensitively ping = PING < pong.
    expect(ids(await find({ x: { $gt: 'PING', $lt: 'z' } }))).toEqual([3]);
    expect(ids(await find({ x: { $lte: 'Ping' } }))).toEqual([1, 2, 4, 6, 7]);
    expect(ids(await find({ x: { $all: ['A', 'ping'] } }))).toEqual([4]);
    expect(ids(await find({ x: { $elemMatch: { $eq: 'PING' } } }))).toEqual([4]);
  });

  it('strength 1 ignores accents, strength 2 does not, the default (3) also tells case apart', async () => {
    const matching = async (collation: CollationOptions): Promise<unknown[]> => ids(await c.find({ x: 'CAFE' }, { collation, sort: { _id: 1 } }).toArray());
    expect(await matching({ locale: 'fr', strength: 1 })).toEqual([6, 7]);
    expect(await matching({ locale: 'fr', strength: 2 })).toEqual([7]);
    expect(await matching({ locale: 'fr' })).toEqual([]);
  });

  it('alternate "shifted" ignores punctuation and spaces', async () => {
    await c.insertOne({ _id: 'p', x: 'pi-ng' });
    expect(ids(await c.find({ x: 'ping' }, { collation: { locale: 'en', alternate: 'shifted' } }).toArray())).toEqual([1, 'p']);
    expect(ids(await c.find({ x: 'ping' }, { collation: { locale: 'en' } }).toArray())).toEqual([1]);
  });

  it('an index or the _id map is not used for strings under a collation, so no match is missed', async () => {
    await c.createIndex({ x: 1 });
    await c.insertMany([
      { _id: 'key', x: 0 },
      { _id: 'KEY', x: 0 },
    ]);
    expect(ids(await c.find({ x: 'PING' }, { collation: ci, sort: { _id: 1 } }).toArray())).toEqual([1, 2, 4]);
    // Sorted under the collation too: the two keys tie and keep their insertion order.
    expect(ids(await c.find({ _id: 'Key' }, { collation: ci, sort: { _id: 1 } }).toArray())).toEqual(['key', 'KEY']);
    expect(ids(await c.find({ _id: 'Key' }).toArray())).toEqual([]);
    await c.dropIndex('x_1');
  });

  it('count, countDocuments and distinct apply the collation; distinct keeps the first value met, in collation order', async () => {
    expect(await c.countDocuments({ x: 'PING' }, { collation: ci })).toBe(3);
    expect((await db.command({ count: 'items', query: { x: 'PING' }, collation: ci })).n).toBe(3);
    await reset([
      { _id: 1, x: 'b' },
      { _id: 2, x: 'B' },
      { _id: 3, x: 'a' },
      { _id: 4, x: 'C' },
      { _id: 5, x: 'c' },
    ]);
    expect(await c.distinct('x', {}, { collation: ci })).toEqual(['a', 'b', 'C']);
    expect(await c.distinct('x', {})).toEqual(['B', 'C', 'a', 'b', 'c']);
  });
});

describe('sort', () => {
  const sorted = async (values: string[], collation?: CollationOptions): Promise<unknown[]> => {
    await reset(values.map((x, i) => ({ _id: i, x })));
    return (await c.find({}, { sort: { x: 1, _id: 1 }, ...(collation ? { collation } : {}) }).toArray()).map((d) => d.x);
  };

  it('orders by the locale, not by code point', async () => {
    expect(await sorted(['b', 'A', 'a', 'B'])).toEqual(['A', 'B', 'a', 'b']);
    expect(await sorted(['b', 'A', 'a', 'B'], { locale: 'en' })).toEqual(['a', 'A', 'b', 'B']);
    expect(await sorted(['b', 'A', 'a', 'B'], { locale: 'en', caseFirst: 'upper' })).toEqual(['A', 'a', 'B', 'b']);
    // Swedish sorts ö after z, German next to o.
    expect(await sorted(['z', 'ö', 'o'], { locale: 'sv' })).toEqual(['o', 'z', 'ö']);
    expect(await sorted(['z', 'ö', 'o'], { locale: 'de' })).toEqual(['o', 'ö', 'z']);
  });

  it('numericOrdering compares digit runs as numbers', async () => {
    expect(await sorted(['10', '9', '2'])).toEqual(['10', '2', '9']);
    expect(await sorted(['10', '9', '2'], { locale: 'en', numericOrdering: true })).toEqual(['2', '9', '10']);
  });

  it('fr_CA uses backwards (French) accent ordering, fr does not', async () => {
    expect(await sorted(['côté', 'coté', 'côte', 'cote'], { locale: 'fr_CA' })).toEqual(['cote', 'côte', 'coté', 'côté']);
    expect(await sorted(['côté', 'coté', 'côte', 'cote'], { locale: 'fr' })).toEqual(['cote', 'coté', 'côte', 'côté']);
  });

  it('ties under the collation keep the secondary sort key order', async () => {
    await reset([
      { _id: 3, x: 'PING' },
      { _id: 1, x: 'ping' },
      { _id: 2, x: 'Ping' },
    ]);
    // Binary order would be PING, Ping, ping (3, 2, 1); case-insensitively they tie.
    const out = await c.find({}, { sort: { x: 1, _id: 1 }, collation: ci }).toArray();
    expect(ids(out)).toEqual([1, 2, 3]);
  });
});

describe('writes', () => {
  beforeEach(async () => {
    await reset([
      { _id: 1, x: 'ping', tags: ['a', 'B'] },
      { _id: 2, x: 'pINg', tags: ['A'] },
      { _id: 3, x: 'pong' },
    ]);
  });

  it('update, delete and findAndModify select documents by the collation', async () => {
    const r = await c.updateMany({ x: 'PING' }, { $set: { hit: true } }, { collation: ci });
    expect([r.matchedCount, r.modifiedCount]).toEqual([2, 2]);
    const old = await c.findOneAndUpdate({ x: 'PING' }, { $set: { x: 'done' } }, { collation: ci, sort: { x: -1 } });
    // Descending by the collation: "ping" and "pINg" tie, natural order decides (the first one).
    expect(old?._id).toBe(1);
    expect((await c.deleteOne({ x: 'PONG' })).deletedCount).toBe(0);
    expect((await c.deleteMany({ x: 'PONG' }, { collation: ci })).deletedCount).toBe(1);
    const up = await c.updateOne({ x: 'PANG' }, { $set: { n: 1 } }, { collation: ci, upsert: true });
    expect(up.upsertedCount).toBe(1);
    expect(await c.find({ n: 1 }, { projection: { _id: 0 } }).toArray()).toEqual([{ x: 'PANG', n: 1 }]);
  });

  it('the positional $, arrayFilters, $pull and $pullAll compare with the collation', async () => {
    await c.updateOne({ _id: 1, tags: 'b' }, { $set: { 'tags.$': 'x' } }, { collation: ci });
    expect((await c.findOne({ _id: 1 }))?.tags).toEqual(['a', 'x']);
    await c.updateOne({ _id: 1 }, { $set: { 'tags.$[t]': 'y' } }, { collation: ci, arrayFilters: [{ t: 'A' }] });
    expect((await c.findOne({ _id: 1 }))?.tags).toEqual(['y', 'x']);
    await t.updateOne({ _id: 1 }, { $pull: { tags: 'Y' } }, { collation: ci });
    expect((await c.findOne({ _id: 1 }))?.tags).toEqual(['x']);
    await t.updateOne({ _id: 2 }, { $pullAll: { tags: ['a'] } }, { collation: ci });
    expect((await c.findOne({ _id: 2 }))?.tags).toEqual([]);
    // Binary: nothing pulled.
    await t.updateOne({ _id: 1 }, { $pull: { tags: 'X' } });
    expect((await c.findOne({ _id: 1 }))?.tags).toEqual(['x']);
  });

  it('operators that compare values the emulator does not collate are refused when strings meet a collation', async () => {
    expect(await errorOf(c.updateOne({ _id: 1 }, { $addToSet: { tags: 'b' } }, { collation: ci }))).toMatchObject({ code: 238 });
    expect((await errorOf(c.updateOne({ _id: 3 }, { $max: { x: 'PONG' } }, { collation: ci }))).message).toContain('$max');
    expect(await errorOf(t.updateOne({ _id: 1 }, { $push: { tags: { $each: ['c'], $sort: 1 } } }, { collation: ci }))).toMatchObject({ code: 238 });
    // Nothing changed; numbers and the simple collation are unaffected.
    expect((await c.findOne({ _id: 1 }))?.tags).toEqual(['a', 'B']);
    await c.updateOne({ _id: 3 }, { $max: { n: 5 } }, { collation: ci });
    await c.updateOne({ _id: 1 }, { $addToSet: { tags: 'b' } });
    expect(await c.find({ _id: { $in: [1, 3] } }).sort({ _id: 1 }).toArray()).toMatchObject([{ tags: ['a', 'B', 'b'] }, { n: 5 }]);
  });
});

describe('aggregation', () => {
  beforeEach(async () => {
    await reset([
      { _id: 1, x: 'ping', n: 1 },
      { _id: 2, x: 'PING', n: 2 },
      { _id: 3, x: 'pong', n: 3 },
      { _id: 4, x: 'Pong', n: 4 },
      { _id: 5, x: 'pang', n: 5 },
    ]);
  });

  it('$match (leading or later), $sort and $expr use the collation', async () => {
    const out = await c.aggregate([{ $match: { x: 'PONG' } }, { $sort: { _id: -1 } }], { collation: ci }).toArray();
    expect(ids(out)).toEqual([4, 3]);
    const later = await c.aggregate([{ $sort: { x: 1, _id: 1 } }, { $match: { x: { $gte: 'PING' } } }], { collation: ci }).toArray();
    expect(ids(later)).toEqual([1, 2, 3, 4]);
    expect(ids(await c.find({ $expr: { $eq: ['$x', 'PONG'] } }, { collation: ci, sort: { _id: 1 } }).toArray())).toEqual([3, 4]);
  });

  it('comparison expressions ($eq, $cmp, $in, ...) compare strings by the collation', async () => {
    const out = await c
      .aggregate(
        [
          { $match: { _id: { $in: [2, 5] } } },
          { $sort: { _id: 1 } },
          { $project: { _id: 0, eq: { $eq: ['$x', 'ping'] }, cmp: { $cmp: ['$x', 'Ping'] }, lt: { $lt: ['$x', 'PING'] }, in: { $in: ['$x', ['PANG']] } } },
        ],
        { collation: ci },
      )
      .toArray();
    expect(out).toEqual([
      { eq: true, cmp: 0, lt: false, in: false },
      { eq: false, cmp: -1, lt: true, in: true },
    ]);
    const binary = await c.aggregate([{ $match: { _id: 2 } }, { $project: { _id: 0, eq: { $eq: ['$x', 'ping'] } } }]).toArray();
    expect(binary).toEqual([{ eq: false }]);
  });

  it('$group and $sortByCount group equal strings together, keeping the first key met', async () => {
    const groups = await c.aggregate([{ $group: { _id: '$x', total: { $sum: '$n' }, ids: { $push: '$_id' } } }, { $sort: { total: 1 } }], { collation: ci }).toArray();
    expect(groups).toEqual([
      { _id: 'ping', total: 3, ids: [1, 2] },
      { _id: 'pang', total: 5, ids: [5] },
      { _id: 'pong', total: 7, ids: [3, 4] },
    ]);
    const counts = await c.aggregate([{ $sortByCount: '$x' }], { collation: ci }).toArray();
    expect(counts.map((d) => d.count)).toEqual([2, 2, 1]);
    expect(counts[2]).toEqual({ _id: 'pang', count: 1 });
    expect(await c.aggregate([{ $group: { _id: '$x' } }]).toArray()).toHaveLength(5);
  });

  it('$lookup joins on keys equal under the collation', async () => {
    const other = db.collection<Item>('others');
    await other.deleteMany({});
    await other.insertMany([
      { _id: 'a', x: 'PONG' },
      { _id: 'b', x: 'pang' },
      { _id: 'c', x: 5 },
    ]);
    const joined = await c.aggregate([{ $lookup: { from: 'others', localField: 'x', foreignField: 'x', as: 'j' } }, { $project: { j: '$j._id' } }, { $sort: { _id: 1 } }], { collation: ci }).toArray();
    expect(joined.map((d) => d.j)).toEqual([[], [], ['a'], ['a'], ['b']]);
    const binary = await c.aggregate([{ $lookup: { from: 'others', localField: 'x', foreignField: 'x', as: 'j' } }, { $project: { j: '$j._id' } }, { $sort: { _id: 1 } }]).toArray();
    expect(binary.map((d) => d.j)).toEqual([[], [], [], [], ['b']]);
    const byNumber = await c.aggregate([{ $match: { _id: 5 } }, { $lookup: { from: 'others', localField: 'n', foreignField: 'x', as: 'j' } }], { collation: ci }).toArray();
    expect(byNumber[0].j).toEqual([{ _id: 'c', x: 5 }]);
  });

  it('stages and accumulators that would compare strings without the collation are refused', async () => {
    expect((await errorOf(c.aggregate([{ $group: { _id: null, m: { $max: '$x' } } }], { collation: ci }).toArray())).message).toContain('$max');
    expect((await errorOf(c.aggregate([{ $project: { s: { $setUnion: [['$x'], ['PING']] } } }], { collation: ci }).toArray())).message).toContain('$setUnion');
    expect((await errorOf(c.aggregate([{ $bucket: { groupBy: '$n', boundaries: [0, 10] } }], { collation: ci }).toArray())).message).toContain('$bucket');
    expect((await errorOf(c.aggregate([{ $match: {} }, { $merge: { into: 'merged' } }], { collation: ci }).toArray())).code).toBe(238);
    // The same accumulator over numbers is answered.
    expect(await c.aggregate([{ $group: { _id: null, m: { $max: '$n' } } }], { collation: ci }).toArray()).toEqual([{ _id: null, m: 5 }]);
  });
});

describe('collation documents', () => {
  it('malformed documents fail like mongod', async () => {
    // Deliberately malformed documents: not CollationOptions as the driver types them.
    const fails = (collation: Document): Promise<{ code?: number; message: string }> => errorOf(c.find({}, { collation: collation as CollationOptions }).toArray());
    expect(await fails({ locale: 'xx' })).toMatchObject({ code: 2 });
    expect(await fails({ locale: 'en-US' })).toMatchObject({ code: 2 });
    expect(await fails({ strength: 2 })).toMatchObject({ code: 40414 });
    expect(await fails({ locale: 'en', color: 'red' })).toMatchObject({ code: 40415 });
    expect(await fails({ locale: 'en', strength: 9 })).toMatchObject({ code: 9 });
    expect(await fails({ locale: 'en', caseFirst: 'sideways' })).toMatchObject({ code: 9 });
    expect(await fails({ locale: 'en', strength: 1, caseFirst: 'upper' })).toMatchObject({ code: 2 });
    expect(await fails({ locale: 'fr', strength: 1, backwards: true })).toMatchObject({ code: 2 });
  });

  it('what Intl.Collator cannot express is refused with 238, not approximated', async () => {
    const refused = async (collation: CollationOptions): Promise<void> => {
      expect(await errorOf(c.find({}, { collation }).toArray())).toMatchObject({ code: 238, codeName: 'NotImplemented' });
    };
    await refused({ locale: 'en', strength: 4 });
    await refused({ locale: 'en', strength: 5 });
    await refused({ locale: 'en', strength: 2, caseLevel: true });
    await refused({ locale: 'en', alternate: 'shifted', maxVariable: 'space' });
    await refused({ locale: 'fr', backwards: true });
    await refused({ locale: 'fr_CA', backwards: false });
    await refused({ locale: 'es@collation=search' });
    await refused({ locale: 'en', version: '99.1' } as CollationOptions);
  });

  it('variants Intl provides are used (German phone book: ä sorts as ae, after ad)', async () => {
    await reset([
      { _id: 1, x: 'ad' },
      { _id: 2, x: 'ä' },
    ]);
    const order = async (locale: string): Promise<unknown[]> => ids(await c.find({}, { collation: { locale }, sort: { x: 1 } }).toArray());
    expect(await order('de')).toEqual([2, 1]);
    expect(await order('de@collation=phonebook')).toEqual([1, 2]);
  });

  it('strings in neither NFC nor NFD are compared only with normalization: true', async () => {
    await reset([{ _id: 1, x: '\u1ea1\u0301' }]); // NFC of a + dot below + acute
    const odd = 'a\u0301\u0323'; // acute before dot below: canonically equal to "ạ́", but not normalized
    expect(await errorOf(c.find({ x: odd }, { collation: ci }).toArray())).toMatchObject({ code: 238 });
    expect(ids(await c.find({ x: odd }, { collation: { ...ci, normalization: true } }).toArray())).toEqual([1]);
  });

  it('views, collections and indexes keep the simple collation', async () => {
    await db.createCollection('ciView', { viewOn: 'items', pipeline: [] });
    expect(await errorOf(db.collection('ciView').find({}, { collation: ci }).toArray())).toMatchObject({ code: 167 });
    expect(await db.collection('ciView').find({}, { collation: { locale: 'simple' } }).toArray()).toHaveLength(await c.countDocuments());
    expect(await errorOf(c.aggregate([{ $lookup: { from: 'ciView', localField: 'x', foreignField: 'x', as: 'j' } }], { collation: ci }).toArray())).toMatchObject({ code: 167 });
    expect(await errorOf(db.createCollection('ciColl', { collation: ci }))).toMatchObject({ code: 238 });
    expect(await errorOf(db.createCollection('ciView2', { viewOn: 'items', pipeline: [], collation: ci }))).toMatchObject({ code: 238 });
    expect(await errorOf(db.createCollection('badColl', { collation: { locale: 'xx' } }))).toMatchObject({ code: 2 });
    expect(await errorOf(c.createIndex({ x: 1 }, { collation: ci }))).toMatchObject({ code: 238 });
    expect(await errorOf(c.find({ $jsonSchema: { required: ['x'] } }, { collation: ci }).toArray())).toMatchObject({ code: 238 });
  });
});
