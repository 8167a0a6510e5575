import { MongoClient, type Db } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startHarness, type Harness } from './support.js';

let h: Harness;
let db: Db;

beforeAll(async () => {
  // retryWrites/retryReads off so every failure reaches the test unretried.
  h = await startHarness({}, { retryWrites: false, retryReads: false });
  db = h.client.db('fp');
});
afterAll(async () => {
  await h.close();
});
afterEach(async () => {
  await h.client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
});

const failPoint = (mode: unknown, data: Record<string, unknown>) => h.client.db('admin').command({ configureFailPoint: 'failCommand', mode, data });

describe('failCommand', () => {
  it('errorCode fails the listed command before it runs, {times: n} n times', async () => {
    await failPoint({ times: 2 }, { failCommands: ['insert'], errorCode: 91 });
    const coll = db.collection('a');
    for (let i = 0; i < 2; i++) {
      const err = await errorOf(coll.insertOne({ i }));
      expect(err.code).toBe(91);
      expect(err.codeName).toBe('ShutdownInProgress');
    }
    await coll.insertOne({ i: 2 });
    expect(await coll.countDocuments()).toBe(1);
    // Unlisted commands are untouched.
    expect(await coll.findOne({ i: 2 })).not.toBeNull();
  });

  it('configureFailPoint answers count: how often the fail point fired before this change', async () => {
    const first = await failPoint({ times: 2 }, { failCommands: ['ping'], errorCode: 2 });
    const base = first.count as number;
    expect(typeof base).toBe('number');
    expect((await errorOf(db.command({ ping: 1 }))).code).toBe(2);
    // Not listed: does not enter the fail point.
    await db.command({ count: 'a' });
    const second = await failPoint('alwaysOn', { failCommands: ['ping'], errorCode: 2 });
    expect(second.count).toBe(base + 1);
    expect((await errorOf(db.command({ ping: 1 }))).code).toBe(2);
    expect((await errorOf(db.command({ ping: 1 }))).code).toBe(2);
    const off = await h.client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    expect(off).toMatchObject({ ok: 1, count: base + 3 });
  });

  it('errorLabels replaces the server-computed labels', async () => {
    await failPoint({ times: 1 }, { failCommands: ['find'], errorCode: 112, errorLabels: ['CustomLabel'] });
    const err = await errorOf(db.collection('a').findOne({}));
    expect(err.code).toBe(112);
    expect(err.errorLabels).toEqual(['CustomLabel']);
  });

  it('skip lets the first n matching commands through, alwaysOn fires until off', async () => {
    await failPoint({ skip: 1 }, { failCommands: ['count'], errorCode: 2 });
    await db.command({ count: 'a' });
    expect((await errorOf(db.command({ count: 'a' }))).code).toBe(2);
    expect((await errorOf(db.command({ count: 'a' }))).code).toBe(2);
    await failPoint('off', { failCommands: [] });
    await db.command({ count: 'a' });
    await failPoint('alwaysOn', { failCommands: ['count'], errorCode: 2 });
    for (let i = 0; i < 3; i++) expect((await errorOf(db.command({ count: 'a' }))).code).toBe(2);
  });

  it('closeConnection drops the connection without a reply (driver sees a network error)', async () => {
    await failPoint({ times: 1 }, { failCommands: ['insert'], closeConnection: true });
    const coll = db.collection('b');
    const err = await errorOf(coll.insertOne({ x: 1 }));
    expect(err.message).toMatch(/closed|connection/i);
    expect(await coll.countDocuments()).toBe(0);
    await coll.insertOne({ x: 2 });
    expect(await coll.countDocuments()).toBe(1);
  });

  it('writeConcernError is attached after the command ran', async () => {
    await failPoint({ times: 1 }, { failCommands: ['insert'], writeConcernError: { code: 64, codeName: 'WriteConcernFailed', errmsg: 'waiting for replication timed out' } });
    const coll = db.collection('c');
    const err = await errorOf(coll.insertOne({ x: 1 }));
    expect(err.code).toBe(64);
    expect(await coll.countDocuments()).toBe(1);
  });

  it('blockConnection delays the command by blockTimeMS', async () => {
    await failPoint({ times: 1 }, { failCommands: ['ping'], blockConnection: true, blockTimeMS: 300 });
    const t0 = Date.now();
    await db.command({ ping: 1 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    const t1 = Date.now();
    await db.command({ ping: 1 });
    expect(Date.now() - t1).toBeLessThan(250);
  });

  it('appName restricts the fail point to clients that sent that name in their handshake', async () => {
    await failPoint('alwaysOn', { failCommands: ['find'], errorCode: 8, appName: 'victim' });
    const victim = new MongoClient(h.em.uri, { appName: 'victim', retryReads: false });
    try {
      expect((await errorOf(victim.db('fp').collection('a').findOne({}))).code).toBe(8);
      await db.collection('a').findOne({});
    } finally {
      await victim.close();
    }
  });

  it('configureFailPoint outside admin and unsupported fail points are refused', async () => {
    expect((await errorOf(db.command({ configureFailPoint: 'failCommand', mode: 'off' }))).code).toBe(13);
    const err = await errorOf(h.client.db('admin').command({ configureFailPoint: 'hangBeforeCommit', mode: 'alwaysOn' }));
    expect(err.code).toBe(238);
  });
});
