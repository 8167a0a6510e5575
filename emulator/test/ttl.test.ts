import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error('condition not reached');
}

describe('TTL indexes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ ttlIntervalMs: 50 });
  });
  afterAll(async () => {
    await h.close();
  });

  it('the monitor removes expired documents and keeps the rest', async () => {
    const holds = h.client.db('ttl').collection<{ _id: string; expiresAt?: unknown }>('holds');
    await holds.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
    const now = Date.now();
    await holds.insertMany([
      { _id: 'past', expiresAt: new Date(now - 1000) },
      { _id: 'future', expiresAt: new Date(now + 60_000) },
      { _id: 'soon', expiresAt: new Date(now + 300) },
      { _id: 'not-a-date', expiresAt: 'yesterday' },
      { _id: 'missing' },
      { _id: 'array', expiresAt: [new Date(now + 60_000), new Date(now - 1000)] },
    ]);
    await waitFor(async () => (await holds.countDocuments({ _id: { $in: ['past', 'array'] } })) === 0);
    expect(await holds.findOne({ _id: 'soon' })).not.toBeNull();
    await waitFor(async () => (await holds.countDocuments({ _id: 'soon' })) === 0);
    const left = (await holds.find().sort({ _id: 1 }).toArray()).map((d) => d._id);
    expect(left).toEqual(['future', 'missing', 'not-a-date']);
    const ix = (await holds.indexes()).find((i) => i.name === 'expiresAt_1');
    expect(ix?.expireAfterSeconds).toBe(0);
  });

  it('expireAfterSeconds is added to the date', async () => {
    const c = h.client.db('ttl').collection<{ _id: string; at: Date }>('delayed');
    await c.createIndex({ at: 1 }, { expireAfterSeconds: 1 });
    await c.insertOne({ _id: 'a', at: new Date(Date.now() - 200) });
    await sleep(300);
    expect(await c.countDocuments()).toBe(1);
    await waitFor(async () => (await c.countDocuments()) === 0);
  });

  it('a document held by an open transaction is left for a later pass', async () => {
    const c = h.client.db('ttl').collection<{ _id: string; at: Date; n?: number }>('held');
    await c.createIndex({ at: 1 }, { expireAfterSeconds: 0 });
    await c.insertOne({ _id: 'h', at: new Date(Date.now() + 150) });
    const s = h.client.startSession();
    s.startTransaction();
    await c.updateOne({ _id: 'h' }, { $set: { n: 1 } }, { session: s });
    await sleep(400);
    // Expired for 250 ms, but the transaction holds it: still there.
    expect(await c.countDocuments()).toBe(1);
    await s.commitTransaction();
    await s.endSession();
    await waitFor(async () => (await c.countDocuments()) === 0);
  });
});

describe('TTL default interval', () => {
  it('runs once a minute by default, so a fresh expired document is not removed at once', async () => {
    const h = await startHarness();
    try {
      const c = h.client.db('ttl').collection<{ at: Date }>('slow');
      await c.createIndex({ at: 1 }, { expireAfterSeconds: 0 });
      await c.insertOne({ at: new Date(Date.now() - 1000) });
      await sleep(300);
      expect(await c.countDocuments()).toBe(1);
    } finally {
      await h.close();
    }
  });
});
