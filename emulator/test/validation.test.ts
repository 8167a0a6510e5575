// Document validation: create/collMod validator (query operators and $jsonSchema),
// validationLevel, validationAction, bypassDocumentValidation; failures are
// DocumentValidationFailure (121) with errInfo { failingDocumentId, details }.
import { Decimal128 } from 'bson';
import type { Db } from 'mongodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, startHarness, type Harness } from './support.js';

let h: Harness;
let db: Db;

type Row = { _id: number; [k: string]: unknown };
const coll = (name: string) => db.collection<Row>(name);

beforeAll(async () => {
  h = await startHarness({}, { retryWrites: false });
  db = h.client.db('validation_test');
});
afterAll(async () => {
  await h.close();
});
beforeEach(async () => {
  await db.dropDatabase();
});

describe('query-operator validators', () => {
  it('insert, update, replace, upsert and findAndModify of invalid documents fail with 121 and errInfo', async () => {
    await db.createCollection('c', { validator: { x: { $type: 'string' } } });
    const c = coll('c');
    await c.insertOne({ _id: 1, x: 'ok' });
    const ins = await errorOf(c.insertOne({ _id: 2, x: 5 }));
    expect(ins.code).toBe(121);
    expect(ins.message).toBe('Document failed validation');
    expect(ins.errInfo).toEqual({
      failingDocumentId: 2,
      details: { operatorName: '$type', specifiedAs: { x: { $type: 'string' } }, reason: 'type did not match', consideredValue: 5, consideredType: 'int' },
    });
    const missing = await errorOf(c.insertOne({ _id: 3 }));
    expect(missing.errInfo).toMatchObject({ failingDocumentId: 3, details: { operatorName: '$type', reason: 'field was missing' } });
    expect((await errorOf(c.updateOne({ _id: 1 }, { $set: { x: 1 } }))).code).toBe(121);
    expect((await errorOf(c.replaceOne({ _id: 1 }, { x: null }))).code).toBe(121);
    expect((await errorOf(c.updateOne({ _id: 9 }, { $set: { x: 1 } }, { upsert: true }))).code).toBe(121);
    const fam = await errorOf(c.findOneAndUpdate({ _id: 1 }, { $set: { x: 1 } }));
    expect(fam).toMatchObject({ code: 121, codeName: 'DocumentValidationFailure' });
    expect(fam.errInfo).toMatchObject({ failingDocumentId: 1, details: { operatorName: '$type' } });
    expect(await c.find().toArray()).toEqual([{ _id: 1, x: 'ok' }]);
  });

  it('several clauses: details list the ones not satisfied under $and', async () => {
    await db.createCollection('c', { validator: { n: { $gte: 0, $lte: 10 }, s: { $in: ['a', 'b'] } } });
    const err = await errorOf(coll('c').insertOne({ _id: 1, n: 11, s: 'a' }));
    expect(err.errInfo).toEqual({
      failingDocumentId: 1,
      details: {
        operatorName: '$and',
        clausesNotSatisfied: [{ index: 1, details: { operatorName: '$lte', specifiedAs: { n: { $lte: 10 } }, reason: 'comparison failed', consideredValue: 11 } }],
      },
    });
  });

  it('collMod adds a validator to an existing collection; existing documents stay; bypassDocumentValidation skips it', async () => {
    const c = coll('c');
    await c.insertMany([
      { _id: 1, x: 'foo' },
      { _id: 2, x: 7 },
    ]);
    expect((await db.command({ collMod: 'c', validator: { x: { $type: 'string' } } })).ok).toBe(1);
    expect(await c.countDocuments()).toBe(2);
    expect((await errorOf(c.updateOne({ _id: 1 }, { $set: { x: 1 } }))).code).toBe(121);
    // strict (the default): an update of an already invalid document is checked too.
    expect((await errorOf(c.updateOne({ _id: 2 }, { $set: { y: 1 } }))).code).toBe(121);
    await c.updateOne({ _id: 1 }, { $set: { x: 1 } }, { bypassDocumentValidation: true });
    await c.insertOne({ _id: 3, x: 3 }, { bypassDocumentValidation: true });
    expect(await c.countDocuments({ x: { $type: 'number' } })).toBe(3);
    expect(await db.listCollections({ name: 'c' }).toArray()).toMatchObject([{ options: { validator: { x: { $type: 'string' } } } }]);
  });

  it("validationLevel 'moderate' skips updates of already invalid documents; 'off' and action 'warn' let writes through", async () => {
    const c = coll('c');
    await c.insertMany([
      { _id: 1, x: 'foo' },
      { _id: 2, x: 7 },
    ]);
    await db.command({ collMod: 'c', validator: { x: { $type: 'string' } }, validationLevel: 'moderate' });
    await c.updateOne({ _id: 2 }, { $set: { x: 8 } });
    expect((await errorOf(c.updateOne({ _id: 1 }, { $set: { x: 1 } }))).code).toBe(121);
    expect((await errorOf(c.insertOne({ _id: 3, x: 1 }))).code).toBe(121);
    await db.command({ collMod: 'c', validationAction: 'warn' });
    await c.insertOne({ _id: 3, x: 1 });
    await db.command({ collMod: 'c', validationAction: 'error', validationLevel: 'off' });
    await c.insertOne({ _id: 4, x: 1 });
    expect(await c.countDocuments()).toBe(4);
    expect((await errorOf(db.command({ collMod: 'c', validationLevel: 'sometimes' }))).code).toBe(2);
  });

  it('a validation failure inside a transaction aborts it, as any failed statement does', async () => {
    await db.createCollection('c', { validator: { x: { $exists: true } } });
    const s = h.client.startSession();
    try {
      s.startTransaction();
      await coll('c').insertOne({ _id: 1, x: 1 }, { session: s });
      expect((await errorOf(coll('c').insertOne({ _id: 2 }, { session: s }))).code).toBe(121);
      expect((await errorOf(s.commitTransaction())).code).toBe(251);
      expect(await coll('c').countDocuments()).toBe(0);
    } finally {
      await s.endSession();
    }
  });

  it('collMod on a missing collection is NamespaceNotFound; refused and unknown options say so', async () => {
    expect((await errorOf(db.command({ collMod: 'nope', validator: {} }))).code).toBe(26);
    await db.createCollection('c');
    expect((await errorOf(db.command({ collMod: 'c', index: { name: 'x', hidden: true } }))).code).toBe(238);
    expect((await errorOf(db.command({ collMod: 'c', bogus: 1 }))).code).toBe(40415);
    expect((await errorOf(db.createCollection('d', { validator: { $where: 'true' } }))).code).toBe(224);
  });
});

describe('$jsonSchema validators', () => {
  const schema = {
    bsonType: 'object',
    required: ['name', 'qty'],
    properties: {
      name: { bsonType: 'string', description: 'the name' },
      qty: { bsonType: ['int', 'long'], minimum: 1, maximum: 10 },
      status: { enum: ['new', 'old'] },
      price: { bsonType: 'decimal' },
    },
  };

  it('checks required, properties, bsonType, minimum, maximum and enum, with schemaRulesNotSatisfied details', async () => {
    await db.createCollection('j', { validator: { $jsonSchema: schema } });
    const j = coll('j');
    await j.insertOne({ _id: 1, name: 'a', qty: 3, status: 'new', price: Decimal128.fromString('1.50') });
    const err = await errorOf(j.insertOne({ _id: 2, name: 5, qty: 11, status: 'gone' }));
    expect(err.code).toBe(121);
    expect(err.errInfo).toEqual({
      failingDocumentId: 2,
      details: {
        operatorName: '$jsonSchema',
        schemaRulesNotSatisfied: [
          {
            operatorName: 'properties',
            propertiesNotSatisfied: [
              { propertyName: 'name', details: [{ operatorName: 'bsonType', specifiedAs: { bsonType: 'string' }, reason: 'type did not match', consideredValue: 5, consideredType: 'int' }] },
              { propertyName: 'qty', details: [{ operatorName: 'maximum', specifiedAs: { maximum: 10 }, reason: 'comparison failed', consideredValue: 11 }] },
              { propertyName: 'status', details: [{ operatorName: 'enum', specifiedAs: { enum: ['new', 'old'] }, reason: 'value was not found in enum', consideredValue: 'gone' }] },
            ],
          },
        ],
      },
    });
    const req = await errorOf(j.insertOne({ _id: 3, name: 'x' }));
    expect(req.errInfo).toMatchObject({ details: { schemaRulesNotSatisfied: [{ operatorName: 'required', specifiedAs: { required: ['name', 'qty'] }, missingProperties: ['qty'] }] } });
    expect((await errorOf(j.insertOne({ _id: 4, name: 'x', qty: 0 }))).code).toBe(121);
    expect((await errorOf(j.insertOne({ _id: 5, name: 'x', qty: 2.5 }))).code).toBe(121);
    await j.insertOne({ _id: 6, name: 'x', qty: 10 });
    expect(await j.countDocuments()).toBe(2);
  });

  it('$jsonSchema also works as a query filter; keywords it does not evaluate are refused by name (238)', async () => {
    await coll('q').insertMany([
      { _id: 1, name: 'a', qty: 2 },
      { _id: 2, name: 'b' },
      { _id: 3, name: 'c', qty: 20 },
    ]);
    expect((await coll('q').find({ $jsonSchema: schema }).toArray()).map((d) => d._id)).toEqual([1]);
    const refused = await errorOf(db.createCollection('r', { validator: { $jsonSchema: { anyOf: [{ required: ['a'] }] } } }));
    expect(refused.code).toBe(238);
    expect(refused.message).toContain("'anyOf'");
    expect(await db.listCollections({ name: 'r' }).toArray()).toEqual([]);
    expect((await errorOf(coll('q').find({ $jsonSchema: { oneOf: [] } }).toArray())).code).toBe(238);
  });
});
