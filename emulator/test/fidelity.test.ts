// Behaviours where the emulator once answered differently from MongoDB without a word (found by
// driving it with other projects' test suites). Each is now either MongoDB's answer or a refusal.
import { Double, Long, Timestamp, type Document } from 'bson';
import { MongoClient, type Collection } from 'mongodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startHarness, type Harness } from './support.js';

interface Loose extends Document {
  _id?: number;
}

let h: Harness;
let c: Collection<Loose>;

beforeAll(async () => {
  h = await startHarness();
  c = h.client.db('fidelity').collection<Loose>('docs');
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await c.deleteMany({});
});

describe('updates', () => {
  it('$pull with an $or condition removes every matching subdocument', async () => {
    await c.insertOne({ _id: 1, ticks: [{ name: 'eggs' }, { name: 'bacon' }, { name: 'spam' }] });
    const r = await c.updateOne({ _id: 1 }, { $pull: { ticks: { $or: [{ name: 'eggs' }, { name: 'bacon' }] } } } as Document);
    expect(r.modifiedCount).toBe(1);
    expect((await c.findOne({ _id: 1 }))?.ticks).toEqual([{ name: 'spam' }]);
    // Every document of a multi update gets the same $pull.
    await c.insertMany([{ _id: 2, ticks: [{ name: 'eggs' }, 'eggs'] }, { _id: 3, ticks: [{ name: 'bacon' }] }]);
    const m = await c.updateMany({ _id: { $in: [2, 3] } }, { $pull: { ticks: { $or: [{ name: 'eggs' }, { name: 'bacon' }] } } } as Document);
    expect(m.modifiedCount).toBe(2);
    expect((await c.find({ _id: { $in: [2, 3] } }).sort({ _id: 1 }).toArray()).map((d) => d.ticks)).toEqual([['eggs'], []]);
  });

  it('$pull with a condition on a field of subdocuments and a nested $elemMatch', async () => {
    await c.insertOne({ _id: 1, a: [{ x: 1, y: [1, 2] }, { x: 2, y: [3] }, { x: 3, y: [] }] });
    await c.updateOne({ _id: 1 }, { $pull: { a: { $and: [{ x: { $gte: 2 } }, { y: { $size: 1 } }] } } } as Document);
    expect((await c.findOne({ _id: 1 }))?.a).toEqual([{ x: 1, y: [1, 2] }, { x: 3, y: [] }]);
  });

  it('$set of a field through an array of subdocuments fails with PathNotViable (28)', async () => {
    await c.insertOne({ _id: 1, comments: [{ body: 'a' }, { body: 'b' }] });
    const e = await errorOf(c.updateOne({ _id: 1 }, { $set: { 'comments.body': 'x' } }));
    expect(e.code).toBe(28);
    expect(e.message).toMatch(/Cannot create field 'body' in element \{comments: \[/);
    expect((await c.findOne({ _id: 1 }))?.comments).toEqual([{ body: 'a' }, { body: 'b' }]);
    // Numeric parts address elements, and a scalar on the way is not viable either.
    await c.updateOne({ _id: 1 }, { $set: { 'comments.1.body': 'y' } });
    expect((await c.findOne({ _id: 1 }))?.comments).toEqual([{ body: 'a' }, { body: 'y' }]);
    await c.insertOne({ _id: 2, n: 5 });
    expect((await errorOf(c.updateOne({ _id: 2 }, { $set: { 'n.x': 1 } }))).code).toBe(28);
    expect((await errorOf(c.updateOne({ _id: 1 }, { $inc: { 'comments.n': 1 } }))).code).toBe(28);
  });

  it('sibling positional paths ($, $[]) in one update are no conflict', async () => {
    await c.insertOne({ _id: 1, children: [{ id: 1, name: 'a' }, { id: 2, name: 'b' }] });
    const when = new Date(5);
    await c.updateOne({ _id: 1, 'children.id': 2 }, { $set: { 'children.$.name': 'B', 'children.$.updatedAt': when } });
    expect((await c.findOne({ _id: 1 }))?.children).toEqual([{ id: 1, name: 'a' }, { id: 2, name: 'B', updatedAt: when }]);
    await c.updateOne({ _id: 1 }, { $set: { 'children.$[].seen': true, 'children.$[].n': 0 } });
    expect((await c.findOne({ _id: 1 }))?.children).toEqual([
      { id: 1, name: 'a', seen: true, n: 0 },
      { id: 2, name: 'B', updatedAt: when, seen: true, n: 0 },
    ]);
    // The same path twice still conflicts, as in MongoDB.
    expect((await errorOf(c.updateOne({ _id: 1, 'children.id': 1 }, { $set: { 'children.$.name': 'x' }, $unset: { 'children.$.name': '' } }))).code).toBe(40);
  });

  it('$-prefixed field names: nested ones are set, a top-level one only by an upsert insert (MongoDB 5.0+)', async () => {
    await c.insertOne({ _id: 1 });
    await c.updateOne({ _id: 1 }, { $set: { 'sub.$inner': 2 } });
    expect(await c.findOne({ _id: 1 })).toEqual({ _id: 1, sub: { $inner: 2 } });
    // As documented for 5.0+: an update of an existing document may not create a top-level $ field.
    expect((await errorOf(c.updateOne({ _id: 1 }, { $set: { $myKey: 1 } }))).code).toBe(52);
    await c.updateOne({ _id: 2 }, { $set: { phone: 1, $hotel: 320 } }, { upsert: true });
    expect(await c.findOne({ _id: 2 })).toEqual({ _id: 2, phone: 1, $hotel: 320 });
  });

  it('update paths through inherited JavaScript names are refused (238) and pollute nothing', async () => {
    await c.insertOne({ _id: 1, a: 7 });
    expect((await errorOf(c.updateOne({ _id: 1 }, { $rename: { a: '__proto__.x' } }))).code).toBe(238);
    expect((await errorOf(c.updateOne({ _id: 1 }, { $set: { 'constructor.prototype.polluted': 1 } }))).code).toBe(238);
    expect((await errorOf(c.updateOne({ _id: 1 }, { $set: { 'a.__proto__.polluted': 1 } }))).code).toBe(238);
    expect(await c.findOne({ _id: 1 })).toEqual({ _id: 1, a: 7 });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('more silent differences found while fixing these', () => {
  it('$rename to or from an array element fails with BadValue (2) instead of padding the array', async () => {
    await c.insertOne({ _id: 1, arr: [1, 2], s: 'x', o: { a: 1 } });
    expect((await errorOf(c.updateOne({ _id: 1 }, { $rename: { s: 'arr.5' } }))).code).toBe(2);
    expect((await errorOf(c.updateOne({ _id: 1 }, { $rename: { 'arr.0': 'y' } }))).code).toBe(2);
    await c.updateOne({ _id: 1 }, { $rename: { 'o.a': 'o.b' } });
    expect(await c.findOne({ _id: 1 })).toEqual({ _id: 1, arr: [1, 2], s: 'x', o: { b: 1 } });
  });

  it('empty field names in update paths fail with EmptyFieldName (56)', async () => {
    await c.insertOne({ _id: 1 });
    expect((await errorOf(c.updateOne({ _id: 1 }, { $set: { '': 1 } }))).code).toBe(56);
    expect((await errorOf(c.updateOne({ _id: 1 }, { $set: { 'a.': 1 } }))).code).toBe(56);
    expect(await c.findOne({ _id: 1 })).toEqual({ _id: 1 });
  });

  it('$currentDate with $type timestamp stores a BSON Timestamp, and a date otherwise', async () => {
    await c.insertOne({ _id: 1 });
    await c.updateOne({ _id: 1 }, { $currentDate: { ts: { $type: 'timestamp' }, d: true, e: { $type: 'date' } } } as Document);
    const d = await c.findOne({ _id: 1 });
    expect((d?.ts as Timestamp | undefined)?._bsontype).toBe('Timestamp');
    expect(d?.d).toBeInstanceOf(Date);
    expect(d?.e).toBeInstanceOf(Date);
    expect(await c.countDocuments({ ts: { $type: 'timestamp' }, d: { $type: 'date' } })).toBe(1);
  });

  it('an upsert seeds its document from a one-value $in, as mongod (which treats it as equality)', async () => {
    await c.updateOne({ _id: { $in: [9] }, k: { $in: ['v'] }, m: { $in: [1, 2] } }, { $set: { q: 1 } }, { upsert: true });
    expect(await c.findOne({ q: 1 })).toEqual({ _id: 9, k: 'v', q: 1 });
  });

  it('the regular expression option x (not in JavaScript) is refused (238)', async () => {
    await c.insertOne({ _id: 1, s: 'abc' });
    expect((await errorOf(c.find({ s: { $regex: 'a b c', $options: 'x' } }).toArray())).code).toBe(238);
  });
});

describe('document size limit', () => {
  const big = 'x'.repeat(16 * 1024 * 1024);

  it('an insert over 16 MiB fails with BSONObjectTooLarge (10334) and stores nothing', async () => {
    const e = await errorOf(c.insertOne({ _id: 1, big }));
    expect(e.code).toBe(10334);
    expect(await c.countDocuments({})).toBe(0);
  });

  it('an update that grows a document past 16 MiB fails with 10334', async () => {
    const half = 'y'.repeat(9 * 1024 * 1024);
    await c.insertOne({ _id: 1, a: half });
    const e = await errorOf(c.updateOne({ _id: 1 }, { $set: { b: half } }));
    expect(e.code).toBe(10334);
    expect((await c.findOne({ _id: 1 }))?.b).toBeUndefined();
  });
});

describe('queries', () => {
  it('$all on a non-array field is equality with each value', async () => {
    await c.insertMany([{ _id: 1, title: 'Aristocats' }, { _id: 2, title: 'Bambi' }, { _id: 3, title: ['Aristocats', 'x'] }]);
    expect((await c.find({ title: { $all: ['Aristocats'] } }).sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([1, 3]);
    expect(await c.countDocuments({ title: { $all: ['Aristocats', 'Bambi'] } })).toBe(0);
  });

  it('$elemMatch with DBRef fields ($id, $ref)', async () => {
    await c.insertMany([
      { _id: 1, refs: [{ $ref: 'users', $id: 10 }, { $ref: 'users', $id: 11 }] },
      { _id: 2, refs: [{ $ref: 'users', $id: 12 }] },
    ]);
    expect((await c.find({ refs: { $elemMatch: { $id: 11 } } }).toArray()).map((d) => d._id)).toEqual([1]);
    expect((await c.find({ refs: { $elemMatch: { $ref: 'users', $id: { $gte: 11 } } } }).sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([1, 2]);
  });

  it('$where, $function, $geoWithin and $geoIntersects are refused with 238', async () => {
    await c.insertOne({ _id: 1, a: 1 });
    for (const filter of [
      { $where: 'this.a == 1' },
      { loc: { $geoWithin: { $centerSphere: [[0, 0], 1] } } },
      { loc: { $geoIntersects: { $geometry: { type: 'Point', coordinates: [0, 0] } } } },
      { $expr: { $function: { body: 'function() { return true; }', args: [], lang: 'js' } } },
    ]) {
      const e = await errorOf(c.find(filter).toArray());
      expect(e.code, JSON.stringify(filter)).toBe(238);
    }
  });
});

describe('projections', () => {
  beforeEach(async () => {
    await c.insertOne({ _id: 1, title: 't', author: 'a', fans: [1, 2, 3, 4], tags: [{ tag: 'spam' }, { tag: 'eggs' }], nums: [1, 7, 9], x: 1 });
  });

  it('a projection with only $slice keeps every other field', async () => {
    const d = await c.findOne({ _id: 1 }, { projection: { fans: { $slice: [0, 2] } } });
    expect(d).toEqual({ _id: 1, title: 't', author: 'a', fans: [1, 2], tags: [{ tag: 'spam' }, { tag: 'eggs' }], nums: [1, 7, 9], x: 1 });
  });

  it('$slice beside an exclusion', async () => {
    const d = await c.findOne({ _id: 1 }, { projection: { x: 0, fans: { $slice: 1 } } });
    expect(d).toEqual({ _id: 1, title: 't', author: 'a', fans: [1], tags: [{ tag: 'spam' }, { tag: 'eggs' }], nums: [1, 7, 9] });
  });

  it('$slice beside an inclusion keeps only the included fields', async () => {
    const d = await c.findOne({ _id: 1 }, { projection: { title: 1, fans: { $slice: -1 } } });
    expect(d).toEqual({ _id: 1, title: 't', fans: [4] });
  });

  it('a positional projection returns the matching element', async () => {
    const d = await c.findOne({ 'tags.tag': 'eggs' }, { projection: { 'tags.$': 1 } });
    expect(d).toEqual({ _id: 1, tags: [{ tag: 'eggs' }] });
    const n = await c.findOne({ nums: { $gt: 5 } }, { projection: { 'nums.$': 1, title: 1 } });
    expect(n).toEqual({ _id: 1, title: 't', nums: [7] });
  });

  it('an inclusion projection puts _id first', async () => {
    const d = await c.findOne({ _id: 1 }, { projection: { title: 1, author: 1 } });
    expect(Object.keys(d ?? {})).toEqual(['_id', 'title', 'author']);
  });

  it('mixing inclusion and exclusion fails with mongod\'s codes (31254, 31253)', async () => {
    expect((await errorOf(c.findOne({ _id: 1 }, { projection: { title: 1, x: 0 } }))).code).toBe(31254);
    expect((await errorOf(c.findOne({ _id: 1 }, { projection: { x: 0, title: 1 } }))).code).toBe(31253);
    expect(await c.findOne({ _id: 1 }, { projection: { _id: 0, title: 1 } })).toEqual({ title: 't' });
  });

  it('$elemMatch in a projection on an array of scalars', async () => {
    const d = await c.findOne({ _id: 1 }, { projection: { nums: { $elemMatch: { $gt: 5 } } } });
    expect(d).toEqual({ _id: 1, nums: [7] });
  });
});

describe('snapshot sessions', () => {
  it('reads in a snapshot session are refused (238), writes fail like mongod (72)', async () => {
    await c.insertOne({ _id: 1 });
    const s = h.client.startSession({ snapshot: true });
    try {
      expect((await errorOf(c.find({}, { session: s }).toArray())).code).toBe(238);
      expect((await errorOf(c.insertOne({ _id: 2 }, { session: s }))).code).toBe(72);
      expect(await c.countDocuments({})).toBe(1);
    } finally {
      await s.endSession();
    }
  });
});

describe('fail points on retried writes', () => {
  it('failCommand times 2 with writeConcernError fails the retried insert too', async () => {
    const admin = h.client.db('admin');
    await admin.command({
      configureFailPoint: 'failCommand',
      mode: { times: 2 },
      data: { failCommands: ['insert'], writeConcernError: { code: 262, errmsg: 'operation exceeded time limit' } },
    });
    const e = await errorOf(c.insertOne({ _id: 1 }));
    await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
    expect(e.code).toBe(262);
    expect(e.errorLabels).toContain('RetryableWriteError');
    // Applied once (by the first attempt), not twice.
    expect(await c.countDocuments({})).toBe(1);
  });
});

describe('hint', () => {
  it('orders results by the hinted index', async () => {
    await c.createIndex({ n: 1 });
    await c.createIndex({ n: -1, s: 1 }, { name: 'n_desc' });
    await c.insertMany([{ _id: 1, n: 3 }, { _id: 2, n: 1 }, { _id: 3, n: 2 }]);
    expect((await c.find({}).hint({ n: 1 }).toArray()).map((d) => d._id)).toEqual([2, 3, 1]);
    expect((await c.find({}).hint('n_desc').toArray()).map((d) => d._id)).toEqual([1, 3, 2]);
    expect((await c.find({}).hint({ $natural: 1 }).toArray()).map((d) => d._id)).toEqual([1, 2, 3]);
    expect((await c.find({}).hint({ $natural: -1 }).toArray()).map((d) => d._id)).toEqual([3, 2, 1]);
  });

  it('a hinted sparse index returns only the documents it holds', async () => {
    await c.createIndex({ s: 1 }, { sparse: true });
    await c.insertMany([{ _id: 1, s: 'b' }, { _id: 2 }, { _id: 3, s: 'a' }]);
    expect((await c.find({}).hint({ s: 1 }).toArray()).map((d) => d._id)).toEqual([3, 1]);
    expect(await c.countDocuments({}, { hint: { s: 1 } })).toBe(2);
  });
});

describe('numeric types', () => {
  it('an int64 keeps its BSON type (inserted, replaced and $set), and compares with other widths', async () => {
    const raw = new MongoClient(h.em.uri, { promoteLongs: false });
    await raw.connect();
    try {
      const rc = raw.db('fidelity').collection('docs');
      await rc.insertOne({ _id: 1 as never, l: Long.fromNumber(5), n: 5 });
      await rc.insertOne({ _id: 2 as never, l: Long.fromNumber(6) });
      await rc.replaceOne({ _id: 2 as never }, { l: Long.fromNumber(7) });
      await rc.updateOne({ _id: 1 as never }, { $set: { m: Long.fromNumber(8) } });
      const d1 = await rc.findOne({ _id: 1 as never });
      expect((d1?.l as Long)._bsontype).toBe('Long');
      expect((d1?.m as Long)._bsontype).toBe('Long');
      expect(typeof d1?.n).toBe('number');
      expect(((await rc.findOne({ _id: 2 as never }))?.l as Long)._bsontype).toBe('Long');
      // Equality and $type across widths, from filters sent with int32 and int64 values.
      expect(await rc.countDocuments({ l: 5 })).toBe(1);
      expect(await rc.countDocuments({ n: Long.fromNumber(5) })).toBe(1);
      expect(await rc.countDocuments({ l: { $type: 'long' } })).toBe(2);
      // Arithmetic on a stored int64 is refused rather than answered with another type.
      expect((await errorOf(rc.updateOne({ _id: 1 as never }, { $inc: { l: 1 } }))).code).toBe(238);
    } finally {
      await raw.close();
    }
  });

  it('$type on number subtypes answers where the type is kept and refuses where it is not', async () => {
    await c.insertMany([{ _id: 1, v: 42.5 }, { _id: 2, v: 'x' }]);
    expect((await c.find({ v: { $type: 'double' } }).toArray()).map((d) => d._id)).toEqual([1]);
    expect((await c.find({ v: { $type: 'number' } }).toArray()).map((d) => d._id)).toEqual([1]);
    await c.insertOne({ _id: 3, v: new Double(42) });
    for (const t of ['double', 'int', 'long', 1, 16, 18]) {
      expect((await errorOf(c.find({ v: { $type: t } }).toArray())).code, String(t)).toBe(238);
    }
  });
});
