// killSessions / killAllSessionsByPattern: killing a session aborts its open transaction at once
// (releasing the documents it wrote), as mongod does; the session stays usable afterwards.
import { createHash } from 'node:crypto';
import { Binary, UUID } from 'bson';
import { MongoClient, type ClientSession, type Collection } from 'mongodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, RawClient, startHarness, type Harness } from './support.js';

let h: Harness;
let other: MongoClient;
let events: Collection<{ _id: string; sold: number }>;

beforeAll(async () => {
  h = await startHarness();
  other = new MongoClient(h.em.uri);
  await other.connect();
});
afterAll(async () => {
  await other.close();
  await h.close();
});
beforeEach(async () => {
  const db = h.client.db('kill_test');
  await db.dropDatabase();
  events = db.collection('events');
  await events.insertMany([
    { _id: 'e1', sold: 0 },
    { _id: 'e2', sold: 0 },
  ]);
});

/** Starts a transaction in `s` that has written (and so holds) event `id`. */
async function holdEvent(s: ClientSession, id: string): Promise<void> {
  s.startTransaction();
  await events.updateOne({ _id: id }, { $inc: { sold: 1 } }, { session: s });
}

/** A transaction from the second client that writes `id`: succeeds unless someone holds it. */
async function writeFromOther(id: string): Promise<void> {
  const s = other.startSession();
  try {
    s.startTransaction();
    await other.db('kill_test').collection<{ _id: string; sold: number }>('events').updateOne({ _id: id }, { $inc: { sold: 10 } }, { session: s });
    await s.commitTransaction();
  } finally {
    await s.endSession();
  }
}

describe('killSessions', () => {
  it('aborts the open transaction of the killed session and releases its document at once', async () => {
    const a = h.client.startSession();
    try {
      await holdEvent(a, 'e1');
      // While a holds e1, another transaction conflicts.
      expect((await errorOf(writeFromOther('e1'))).code).toBe(112);

      const reply = await other.db('admin').command({ killSessions: [a.id] });
      expect(reply.ok).toBe(1);

      await writeFromOther('e1');
      expect((await events.findOne({ _id: 'e1' }))?.sold).toBe(10);
      // The killed transaction is gone: its commit is NoSuchTransaction, its write never happened.
      const err = await errorOf(a.commitTransaction());
      expect(err.code).toBe(251);
      expect(err.errorLabels).toContain('TransientTransactionError');
      expect((await events.findOne({ _id: 'e1' }))?.sold).toBe(10);

      // The session itself stays usable.
      await holdEvent(a, 'e1');
      await a.commitTransaction();
      expect((await events.findOne({ _id: 'e1' }))?.sold).toBe(11);
    } finally {
      await a.endSession();
    }
  });

  it('kills only the listed sessions; an empty list kills all', async () => {
    const a = h.client.startSession();
    const b = h.client.startSession();
    try {
      await holdEvent(a, 'e1');
      await holdEvent(b, 'e2');
      await other.db('admin').command({ killSessions: [a.id] });
      await writeFromOther('e1');
      expect((await errorOf(writeFromOther('e2'))).code).toBe(112);

      await other.db('admin').command({ killSessions: [] });
      await writeFromOther('e2');
      expect((await errorOf(b.commitTransaction())).code).toBe(251);
    } finally {
      await a.endSession();
      await b.endSession();
    }
  });

  it('an unknown session is fine; a malformed list is refused', async () => {
    expect((await other.db('admin').command({ killSessions: [{ id: new UUID() }] })).ok).toBe(1);
    expect((await errorOf(other.db('admin').command({ killSessions: { id: new UUID() } }))).code).toBe(14);
  });

  it('closes the cursors of the killed session', async () => {
    const raw = await RawClient.connect(h.em.port);
    try {
      const lsid = { id: new UUID() };
      await raw.command({ insert: 'many', documents: Array.from({ length: 5 }, (_, i) => ({ i })), $db: 'kill_test' });
      const first = await raw.command({ find: 'many', batchSize: 2, lsid, $db: 'kill_test' });
      const cursorId = first.cursor.id;
      expect(Number(cursorId)).toBeGreaterThan(0);
      await raw.command({ killSessions: [lsid], $db: 'admin' });
      const more = await raw.command({ getMore: cursorId, collection: 'many', lsid, $db: 'kill_test' });
      expect(more.ok).toBe(0);
      expect(more.code).toBe(43);
    } finally {
      raw.close();
    }
  });
});

describe('killAllSessionsByPattern', () => {
  it('kills sessions matching an lsid pattern; uid of the unauthenticated user or {} match all', async () => {
    const a = h.client.startSession();
    const b = h.client.startSession();
    try {
      await holdEvent(a, 'e1');
      await holdEvent(b, 'e2');
      await other.db('admin').command({ killAllSessionsByPattern: [{ lsid: a.id }] });
      await writeFromOther('e1');
      expect((await errorOf(writeFromOther('e2'))).code).toBe(112);

      // A uid nobody has kills nothing; the unauthenticated user's uid (SHA-256 of "") kills all.
      await other.db('admin').command({ killAllSessionsByPattern: [{ uid: new Binary(Buffer.alloc(32, 1)) }] });
      expect((await errorOf(writeFromOther('e2'))).code).toBe(112);
      const anonymous = new Binary(createHash('sha256').update('').digest());
      await other.db('admin').command({ killAllSessionsByPattern: [{ uid: anonymous }] });
      await writeFromOther('e2');
    } finally {
      await a.endSession();
      await b.endSession();
    }
  });

  it('refuses users/roles patterns (no authentication) with 238', async () => {
    const err = await errorOf(other.db('admin').command({ killAllSessionsByPattern: [{ users: [{ user: 'u', db: 'admin' }] }] }));
    expect(err.code).toBe(238);
  });
});
