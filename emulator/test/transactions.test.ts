import { Long, UUID, type Document } from 'bson';
import type { ClientSession, Collection } from 'mongodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, RawClient, startHarness, type Harness } from './support.js';

let h: Harness;
let items: Collection<{ _id: string; n: number; email?: string }>;
let bookings: Collection<{ eventId: string; user: string }>;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

beforeEach(async () => {
  const db = h.client.db('txn_test');
  await db.dropDatabase();
  items = db.collection('items');
  bookings = db.collection('bookings');
  await items.insertMany([
    { _id: 'x', n: 0 },
    { _id: 'y', n: 0 },
  ]);
  await bookings.insertOne({ eventId: 'e1', user: 'seed' });
});

async function inTxn(s: ClientSession): Promise<void> {
  s.startTransaction();
  // The snapshot is taken at the transaction's first statement, as in MongoDB.
  await items.findOne({ _id: 'x' }, { session: s });
}

describe('snapshot isolation', () => {
  it('a transaction keeps reading its snapshot while others commit', async () => {
    const a = h.client.startSession();
    try {
      await inTxn(a);
      await items.updateOne({ _id: 'x' }, { $set: { n: 42 } });
      await items.insertOne({ _id: 'z', n: 1 });
      await items.deleteOne({ _id: 'y' });

      expect((await items.findOne({ _id: 'x' }, { session: a }))?.n).toBe(0);
      expect(await items.findOne({ _id: 'z' }, { session: a })).toBeNull();
      expect(await items.findOne({ _id: 'y' }, { session: a })).not.toBeNull();
      expect(await items.countDocuments({}, { session: a })).toBe(2);

      await a.commitTransaction();
      expect((await items.findOne({ _id: 'x' }))?.n).toBe(42);
      expect(await items.countDocuments({})).toBe(2);
    } finally {
      await a.endSession();
    }
  });

  it("a transaction's own writes are visible to it and to nobody else before commit", async () => {
    const a = h.client.startSession();
    try {
      await inTxn(a);
      await items.updateOne({ _id: 'x' }, { $inc: { n: 5 } }, { session: a });
      await items.insertOne({ _id: 'w', n: 9 }, { session: a });
      expect((await items.findOne({ _id: 'x' }, { session: a }))?.n).toBe(5);
      expect(await items.find({}, { session: a }).sort({ _id: 1 }).toArray()).toHaveLength(3);
      expect((await items.findOne({ _id: 'x' }))?.n).toBe(0);
      expect(await items.findOne({ _id: 'w' })).toBeNull();
      await a.abortTransaction();
      expect(await items.findOne({ _id: 'w' })).toBeNull();
    } finally {
      await a.endSession();
    }
  });
});

describe('write conflicts', () => {
  it('a write to a document another open transaction wrote fails at once with 112, and the loser is aborted', async () => {
    const a = h.client.startSession();
    const b = h.client.startSession();
    try {
      await inTxn(a);
      await inTxn(b);
      await items.updateOne({ _id: 'x' }, { $inc: { n: 1 } }, { session: a });
      const err = await errorOf(items.updateOne({ _id: 'x' }, { $inc: { n: 10 } }, { session: b }));
      expect(err.code).toBe(112);
      expect(err.codeName).toBe('WriteConflict');
      expect(err.errorLabels).toContain('TransientTransactionError');
      // mongod aborted b's transaction: committing it now is NoSuchTransaction.
      const commitErr = await errorOf(b.commitTransaction());
      expect(commitErr.code).toBe(251);
      expect(commitErr.errorLabels).toContain('TransientTransactionError');
      await a.commitTransaction();
      expect((await items.findOne({ _id: 'x' }))?.n).toBe(1);
    } finally {
      await a.endSession();
      await b.endSession();
    }
  });

  it('a write to a document committed after the snapshot fails with 112 (other order)', async () => {
    const a = h.client.startSession();
    const b = h.client.startSession();
    try {
      await inTxn(a);
      await inTxn(b);
      await items.updateOne({ _id: 'x' }, { $inc: { n: 1 } }, { session: b });
      await b.commitTransaction();
      const err = await errorOf(items.updateOne({ _id: 'x' }, { $inc: { n: 10 } }, { session: a }));
      expect(err.code).toBe(112);
      expect(err.errorLabels).toContain('TransientTransactionError');
      await a.abortTransaction();

      // Same after a plain (non-transactional) write.
      await inTxn(a);
      await items.updateOne({ _id: 'y' }, { $set: { n: 7 } });
      expect((await errorOf(items.deleteOne({ _id: 'y' }, { session: a }))).code).toBe(112);
      await a.abortTransaction();
      expect((await items.findOne({ _id: 'x' }))?.n).toBe(1);
      expect((await items.findOne({ _id: 'y' }))?.n).toBe(7);
    } finally {
      await a.endSession();
      await b.endSession();
    }
  });

  it('concurrent inserts of the same _id conflict instead of both succeeding', async () => {
    const a = h.client.startSession();
    const b = h.client.startSession();
    try {
      await inTxn(a);
      await inTxn(b);
      await items.insertOne({ _id: 'new', n: 1 }, { session: a });
      expect((await errorOf(items.insertOne({ _id: 'new', n: 2 }, { session: b }))).code).toBe(112);
      await a.commitTransaction();
      expect((await items.findOne({ _id: 'new' }))?.n).toBe(1);
    } finally {
      await a.endSession();
      await b.endSession();
    }
  });

  it('a plain write to a document held by an open transaction waits for it, then applies', async () => {
    const a = h.client.startSession();
    try {
      await inTxn(a);
      await items.updateOne({ _id: 'x' }, { $inc: { n: 1 } }, { session: a });
      let done = false;
      const plain = items.updateOne({ _id: 'x' }, { $inc: { n: 100 } }).then((r) => {
        done = true;
        return r;
      });
      await new Promise((r) => setTimeout(r, 150));
      expect(done).toBe(false);
      await a.commitTransaction();
      expect((await plain).modifiedCount).toBe(1);
      expect((await items.findOne({ _id: 'x' }))?.n).toBe(101);
    } finally {
      await a.endSession();
    }
  });
});

describe('write skew (DESIGN.md section 1)', () => {
  const countActive = (s: ClientSession): Promise<number> => bookings.countDocuments({ eventId: 'e1' }, { session: s });

  it('two transactions that count and insert without a common write both commit (oversell)', async () => {
    const a = h.client.startSession();
    const b = h.client.startSession();
    try {
      a.startTransaction();
      b.startTransaction();
      // Capacity 2, one booking exists: each sees room for exactly one more.
      expect(await countActive(a)).toBe(1);
      expect(await countActive(b)).toBe(1);
      await bookings.insertOne({ eventId: 'e1', user: 'a' }, { session: a });
      await bookings.insertOne({ eventId: 'e1', user: 'b' }, { session: b });
      await a.commitTransaction();
      await b.commitTransaction();
      expect(await bookings.countDocuments({ eventId: 'e1' })).toBe(3);
    } finally {
      await a.endSession();
      await b.endSession();
    }
  });

  it('with a common write first, the second transaction gets WriteConflict', async () => {
    const a = h.client.startSession();
    const b = h.client.startSession();
    try {
      a.startTransaction();
      b.startTransaction();
      await items.findOneAndUpdate({ _id: 'x' }, { $inc: { n: 1 } }, { session: a });
      const err = await errorOf(items.findOneAndUpdate({ _id: 'x' }, { $inc: { n: 1 } }, { session: b }));
      expect(err.code).toBe(112);
      expect(await countActive(a)).toBe(1);
      await bookings.insertOne({ eventId: 'e1', user: 'a' }, { session: a });
      await a.commitTransaction();
      expect(await bookings.countDocuments({ eventId: 'e1' })).toBe(2);
    } finally {
      await a.endSession();
      await b.endSession();
    }
  });
});

describe('unique indexes inside transactions', () => {
  it('reports E11000 for a committed duplicate and aborts the transaction', async () => {
    await items.createIndex({ email: 1 }, { unique: true, sparse: true });
    await items.insertOne({ _id: 'u1', n: 0, email: 'a@x' });
    const a = h.client.startSession();
    try {
      a.startTransaction();
      await items.insertOne({ _id: 'u2', n: 0, email: 'b@x' }, { session: a });
      const err = await errorOf(items.insertOne({ _id: 'u3', n: 0, email: 'a@x' }, { session: a }));
      expect(err.code).toBe(11000);
      expect(err.keyPattern).toEqual({ email: 1 });
      expect(err.keyValue).toEqual({ email: 'a@x' });
      expect(err.message).toContain('E11000 duplicate key error collection: txn_test.items index: email_1 dup key: { email: "a@x" }');
      expect(err.errorLabels ?? []).not.toContain('TransientTransactionError');
      expect((await errorOf(a.commitTransaction())).code).toBe(251);
      expect(await items.findOne({ _id: 'u2' })).toBeNull();
    } finally {
      await a.endSession();
    }
  });

  it('a duplicate within the same transaction is E11000; across open transactions it is a write conflict', async () => {
    await items.createIndex({ email: 1 }, { unique: true, sparse: true });
    const a = h.client.startSession();
    const b = h.client.startSession();
    try {
      a.startTransaction();
      await items.insertOne({ _id: 'p1', n: 0, email: 'same@x' }, { session: a });
      b.startTransaction();
      const conflict = await errorOf(items.insertOne({ _id: 'p2', n: 0, email: 'same@x' }, { session: b }));
      expect(conflict.code).toBe(112);
      const dup = await errorOf(items.insertOne({ _id: 'p3', n: 0, email: 'same@x' }, { session: a }));
      expect(dup.code).toBe(11000);
    } finally {
      await a.endSession();
      await b.endSession();
    }
    expect(await items.countDocuments({ email: 'same@x' })).toBe(0);
  });
});

describe('transaction state machine (raw commands)', () => {
  let raw: RawClient;
  const lsid = (): Document => ({ id: new UUID() });
  beforeAll(async () => {
    raw = await RawClient.connect(h.em.port);
  });
  afterAll(() => raw.close());

  it('commit retried after success answers ok; abort after commit is TransactionCommitted', async () => {
    const s = lsid();
    const t = { lsid: s, txnNumber: Long.fromNumber(1), autocommit: false };
    expect((await raw.command({ insert: 'items', documents: [{ _id: 'r1', n: 1 }], $db: 'txn_test', ...t, startTransaction: true })).ok).toBe(1);
    expect((await raw.command({ commitTransaction: 1, $db: 'admin', ...t })).ok).toBe(1);
    expect((await raw.command({ commitTransaction: 1, $db: 'admin', ...t })).ok).toBe(1);
    const abort = await raw.command({ abortTransaction: 1, $db: 'admin', ...t });
    expect(abort).toMatchObject({ ok: 0, code: 256, codeName: 'TransactionCommitted' });
    expect(await items.countDocuments({ _id: 'r1' })).toBe(1);
  });

  it('continuing an unknown transaction is NoSuchTransaction with TransientTransactionError', async () => {
    const reply = await raw.command({ find: 'items', $db: 'txn_test', lsid: lsid(), txnNumber: Long.fromNumber(3), autocommit: false });
    expect(reply).toMatchObject({ ok: 0, code: 251, codeName: 'NoSuchTransaction', errorLabels: ['TransientTransactionError'] });
  });

  it('an older txnNumber is TransactionTooOld', async () => {
    const s = lsid();
    await raw.command({ find: 'items', $db: 'txn_test', lsid: s, txnNumber: Long.fromNumber(5), autocommit: false, startTransaction: true });
    const reply = await raw.command({ find: 'items', $db: 'txn_test', lsid: s, txnNumber: Long.fromNumber(4), autocommit: false, startTransaction: true });
    expect(reply).toMatchObject({ ok: 0, code: 225, codeName: 'TransactionTooOld' });
  });

  it('commands not allowed in a transaction are refused with 263', async () => {
    const reply = await raw.command({ count: 'items', $db: 'txn_test', lsid: lsid(), txnNumber: Long.fromNumber(1), autocommit: false, startTransaction: true });
    expect(reply).toMatchObject({ ok: 0, code: 263, codeName: 'OperationNotSupportedInTransaction' });
  });
});

describe('transaction lifetime limit', () => {
  it('aborts transactions older than transactionLifetimeMs and releases their documents', async () => {
    const short = await startHarness({ transactionLifetimeMs: 200 });
    try {
      const coll = short.client.db('life').collection<{ _id: string; n: number }>('c');
      await coll.insertOne({ _id: 'k', n: 0 });
      const s = short.client.startSession();
      s.startTransaction();
      await coll.updateOne({ _id: 'k' }, { $inc: { n: 1 } }, { session: s });
      await new Promise((r) => setTimeout(r, 500));
      // The document is free again: a plain write does not wait.
      await coll.updateOne({ _id: 'k' }, { $inc: { n: 10 } });
      const err = await errorOf(coll.updateOne({ _id: 'k' }, { $inc: { n: 1 } }, { session: s }));
      expect(err.code).toBe(251);
      await s.endSession();
      expect((await coll.findOne({ _id: 'k' }))?.n).toBe(10);
    } finally {
      await short.close();
    }
  });

  it('transactionLifetimeLimitSeconds is settable with setParameter, as on mongod', async () => {
    const hh = await startHarness();
    try {
      const admin = hh.client.db('admin');
      expect((await admin.command({ getParameter: 1, transactionLifetimeLimitSeconds: 1 })).transactionLifetimeLimitSeconds).toBe(60);
      expect((await errorOf(admin.command({ setParameter: 1, transactionLifetimeLimitSeconds: 0 }))).code).toBe(2);
      expect((await errorOf(admin.command({ setParameter: 1, notAParameter: 1 }))).code).toBe(238);
      expect((await errorOf(hh.client.db('life').command({ setParameter: 1, transactionLifetimeLimitSeconds: 1 }))).code).toBe(13);
      expect((await admin.command({ setParameter: 1, transactionLifetimeLimitSeconds: 1 })).was).toBe(60);
      expect((await admin.command({ getParameter: 1, transactionLifetimeLimitSeconds: 1 })).transactionLifetimeLimitSeconds).toBe(1);
      const coll = hh.client.db('life').collection<{ _id: string; n: number }>('c');
      await coll.insertOne({ _id: 'k', n: 0 });
      const s = hh.client.startSession();
      s.startTransaction();
      await coll.updateOne({ _id: 'k' }, { $inc: { n: 1 } }, { session: s });
      await new Promise((r) => setTimeout(r, 1300));
      expect((await errorOf(coll.updateOne({ _id: 'k' }, { $inc: { n: 1 } }, { session: s }))).code).toBe(251);
      await s.endSession();
      expect((await coll.findOne({ _id: 'k' }))?.n).toBe(0);
    } finally {
      await hh.close();
    }
  });
});
