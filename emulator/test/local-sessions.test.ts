// $listLocalSessions: the logical sessions the server holds, as mongod's session cache lists them,
// from a database-level aggregate ({aggregate: 1}) only.
import { createHash } from 'node:crypto';
import type { Binary } from 'bson';
import type { ClientSession, Db, Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startHarness, type Harness } from './support.js';

let h: Harness;
let admin: Db;
let db: Db;

beforeAll(async () => {
  h = await startHarness();
  admin = h.client.db('admin');
  db = h.client.db('lls');
});
afterAll(async () => {
  await h.close();
});

const hex = (b: Binary): string => Buffer.from(b.buffer).toString('hex');
const anonymousUid = createHash('sha256').update('').digest('hex');

/** A session that has run one command (so the server knows it), and its id as hex. */
async function usedSession(): Promise<{ s: ClientSession; id: string }> {
  const s = h.client.startSession();
  await db.collection('touch').insertOne({ at: new Date() }, { session: s });
  return { s, id: hex(s.id!.id as Binary) };
}

const listedIds = async (spec: Document = {}): Promise<string[]> => (await admin.aggregate([{ $listLocalSessions: spec }]).toArray()).map((d) => hex(d._id.id as Binary));

describe('$listLocalSessions', () => {
  it("lists each session the server has seen with mongod's record shape", async () => {
    const before = Date.now();
    const { s, id } = await usedSession();
    const docs = await admin.aggregate([{ $listLocalSessions: {} }]).toArray();
    const mine = docs.find((d) => hex(d._id.id as Binary) === id);
    expect(mine).toBeDefined();
    expect(Object.keys(mine!)).toEqual(['_id', 'lastUse']);
    expect(Object.keys(mine!._id as Document)).toEqual(['id', 'uid']);
    expect((mine!._id.id as Binary).sub_type).toBe(4);
    // Without authentication every session belongs to the user "", whose uid is SHA-256("").
    expect(hex(mine!._id.uid as Binary)).toBe(anonymousUid);
    expect(mine!.lastUse).toBeInstanceOf(Date);
    expect((mine!.lastUse as Date).getTime()).toBeGreaterThanOrEqual(before);
    await s.endSession();
  });

  it('lastUse moves with each command of the session', async () => {
    const { s, id } = await usedSession();
    const lastUse = async (): Promise<number> => {
      const [doc] = await admin.aggregate([{ $listLocalSessions: {} }, { $match: { '_id.id': s.id!.id } }]).toArray();
      expect(hex(doc._id.id as Binary)).toBe(id);
      return (doc.lastUse as Date).getTime();
    };
    const first = await lastUse();
    await new Promise((r) => setTimeout(r, 20));
    await db.collection('touch').findOne({}, { session: s });
    expect(await lastUse()).toBeGreaterThanOrEqual(first + 20);
    await s.endSession();
  });

  it('allUsers and users select by user; ended sessions are gone', async () => {
    const { s, id } = await usedSession();
    expect(await listedIds({ allUsers: true })).toContain(id);
    expect(await listedIds({ users: [{ user: '', db: '' }] })).toContain(id);
    expect(await listedIds({ users: [{ user: 'app', db: 'admin' }] })).toEqual([]);
    await admin.command({ endSessions: [s.id] });
    expect(await listedIds({ allUsers: true })).not.toContain(id);
    await s.endSession();
  });

  it('runs on any database and feeds later stages, $out included', async () => {
    const out = await db.aggregate([{ $listLocalSessions: {} }, { $limit: 1 }, { $addFields: { dummy: 'dummy field' } }, { $project: { _id: 0, dummy: 1 } }]).toArray();
    expect(out).toEqual([{ dummy: 'dummy field' }]);
    await db.aggregate([{ $listLocalSessions: {} }, { $limit: 1 }, { $project: { _id: 1 } }, { $out: 'sessionsOut' }]).toArray();
    const written = await db.collection<{ _id: { id: Binary; uid: Binary } }>('sessionsOut').find().toArray();
    expect(written).toHaveLength(1);
    expect(hex(written[0]._id.uid)).toBe(anonymousUid);
  });

  it('refuses what mongod refuses', async () => {
    expect(await errorOf(db.collection('touch').aggregate([{ $listLocalSessions: {} }]).toArray())).toMatchObject({ code: 73 });
    expect(await errorOf(admin.aggregate([{ $documents: [{}] }, { $listLocalSessions: {} }]).toArray())).toMatchObject({ code: 40602 });
    expect(await errorOf(admin.aggregate([{ $match: {} }, { $listLocalSessions: {} }]).toArray())).toMatchObject({ code: 40602 });
    expect(await errorOf(admin.aggregate([{ $documents: [{}] }, { $facet: { s: [{ $listLocalSessions: {} }] } }]).toArray())).toMatchObject({ code: 40600 });
    expect(await errorOf(admin.aggregate([{ $listLocalSessions: { allUsers: true, users: [{ user: 'a', db: 'b' }] } }]).toArray())).toMatchObject({ code: 12 });
    expect(await errorOf(admin.aggregate([{ $listLocalSessions: 'all' }]).toArray())).toMatchObject({ code: 14 });
    expect(await errorOf(admin.aggregate([{ $listLocalSessions: { everyone: true } }]).toArray())).toMatchObject({ code: 40415 });
    expect(await errorOf(admin.aggregate([{ $listLocalSessions: { users: [{ user: 'a' }] } }]).toArray())).toMatchObject({ code: 40414 });
    expect(await errorOf(admin.aggregate([{ $listLocalSessions: {} }], { readConcern: { level: 'majority' } }).toArray())).toMatchObject({ code: 72 });
    expect(await errorOf(db.collection('touch').aggregate([{ $lookup: { from: 'touch', pipeline: [{ $listLocalSessions: {} }], as: 'x' } }]).toArray())).toMatchObject({ code: 73 });
    const s = h.client.startSession();
    s.startTransaction();
    await db.collection('touch').findOne({}, { session: s });
    expect(await errorOf(db.aggregate([{ $listLocalSessions: {} }], { session: s }).toArray())).toMatchObject({ code: 263 });
    await s.abortTransaction().catch(() => undefined);
    await s.endSession();
  });
});
