import { Long, UUID } from 'bson';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startHarness, type Harness } from './support.js';

let h: Harness;
let raw: RawClient;

beforeAll(async () => {
  h = await startHarness();
  raw = await RawClient.connect(h.em.port);
});
afterAll(async () => {
  raw.close();
  await h.close();
});

describe('retryable writes', () => {
  it('a retried write (same lsid and txnNumber) returns the first result and is not applied twice', async () => {
    const lsid = { id: new UUID() };
    await h.client.db('rw').collection('c').insertOne({ _id: 1 as never, n: 0 });
    const cmd = { update: 'c', updates: [{ q: { _id: 1 }, u: { $inc: { n: 1 } } }], $db: 'rw', lsid, txnNumber: Long.fromNumber(7) };
    const first = await raw.command(cmd);
    const second = await raw.command(cmd);
    expect(first).toMatchObject({ ok: 1, n: 1, nModified: 1 });
    expect(second).toMatchObject({ ok: 1, n: 1, nModified: 1 });
    expect((await h.client.db('rw').collection('c').findOne({ _id: 1 as never }))?.n).toBe(1);

    const ins = { insert: 'c', documents: [{ _id: 2 }], $db: 'rw', lsid, txnNumber: Long.fromNumber(8) };
    expect(await raw.command(ins)).toMatchObject({ ok: 1, n: 1 });
    const again = await raw.command(ins);
    expect(again).toMatchObject({ ok: 1, n: 1 });
    expect(again.writeErrors).toBeUndefined();

    const fam = { findAndModify: 'c', query: { _id: 1 }, update: { $inc: { n: 5 } }, new: true, $db: 'rw', lsid, txnNumber: Long.fromNumber(9) };
    expect((await raw.command(fam)).value).toEqual({ _id: 1, n: 6 });
    expect((await raw.command(fam)).value).toEqual({ _id: 1, n: 6 });
    expect((await h.client.db('rw').collection('c').findOne({ _id: 1 as never }))?.n).toBe(6);

    // A new txnNumber is a new write; an older one is refused.
    expect(await raw.command({ ...cmd, txnNumber: Long.fromNumber(10) })).toMatchObject({ ok: 1, nModified: 1 });
    expect(await raw.command({ ...cmd, txnNumber: Long.fromNumber(3) })).toMatchObject({ ok: 0, code: 225 });
    expect((await h.client.db('rw').collection('c').findOne({ _id: 1 as never }))?.n).toBe(7);
  });

  it('the driver retrying after a RetryableWriteError does not insert twice', async () => {
    const client = new MongoClient(h.em.uri, { monitorCommands: true });
    const coll = client.db('rw').collection('d');
    // The insert runs, then the reply carries a retryable writeConcernError: the driver retries it.
    await h.client.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['insert'], writeConcernError: { code: 91, errmsg: 'Replication is being shut down' } },
    });
    const txnNumbers: string[] = [];
    client.on('commandStarted', (e) => {
      if (e.commandName === 'insert') txnNumbers.push(String(e.command.txnNumber));
    });
    try {
      await coll.insertOne({ _id: 'once' as never });
      // Sent twice under one txnNumber; applied once.
      expect(txnNumbers).toHaveLength(2);
      expect(txnNumbers[0]).toBe(txnNumbers[1]);
      expect(await coll.countDocuments({ _id: 'once' as never })).toBe(1);
    } finally {
      await client.close();
    }
  });
});
