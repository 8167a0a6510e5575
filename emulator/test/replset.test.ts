// A node started like a fresh `mongod --replSet rs0`: no config until replSetInitiate, then primary.
import { MongoClient } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/index.js';
import { errorOf, RawClient } from './support.js';

let em: RunningEmulator | undefined;
let clients: { close(): unknown }[] = [];
afterEach(async () => {
  for (const c of clients) await c.close();
  clients = [];
  await em?.stop();
  em = undefined;
});

async function uninitialized(): Promise<{ em: RunningEmulator; raw: RawClient; member: string }> {
  em = await startEmulator({ port: 0, replSetInitiated: false });
  const raw = await RawClient.connect(em.port);
  clients.push({ close: () => raw.close() });
  return { em, raw, member: `127.0.0.1:${em.port}` };
}

describe('before replSetInitiate', () => {
  it('says it is a set member without a config, and refuses reads and writes as a non-primary', async () => {
    const { raw } = await uninitialized();
    const hello = await raw.command({ hello: 1, $db: 'admin' });
    expect(hello).toMatchObject({ ok: 1, isWritablePrimary: false, secondary: false, isreplicaset: true });
    expect(hello).not.toHaveProperty('setName');
    expect(hello).not.toHaveProperty('hosts');

    expect(await raw.command({ insert: 'c', documents: [{ _id: 1 }], $db: 'test' })).toMatchObject({ ok: 0, code: 10107, codeName: 'NotWritablePrimary' });
    expect(await raw.command({ find: 'c', $db: 'test' })).toMatchObject({ ok: 0, code: 13435, codeName: 'NotPrimaryNoSecondaryOk' });
    expect(await raw.command({ replSetGetStatus: 1, $db: 'admin' })).toMatchObject({ ok: 0, code: 94, codeName: 'NotYetInitialized' });
    expect(await raw.command({ ping: 1, $db: 'admin' })).toMatchObject({ ok: 1 });
  });

  it('refuses a config for another set name, a malformed member, or more than one member', async () => {
    const { raw, member } = await uninitialized();
    const initiate = (config: unknown) => raw.command({ replSetInitiate: config, $db: 'admin' });
    expect(await initiate({ _id: 'other', members: [{ _id: 0, host: member }] })).toMatchObject({ ok: 0, code: 93, codeName: 'InvalidReplicaSetConfig' });
    expect(await initiate({ _id: 'rs0', members: [{ _id: 0, host: 'no-port' }] })).toMatchObject({ ok: 0, code: 93 });
    expect(await initiate({ _id: 'rs0', members: [{ _id: 0, host: member }, { _id: 1, host: 'other:27017' }] })).toMatchObject({ ok: 0, code: 238 });
    expect(await raw.command({ replSetInitiate: { _id: 'rs0', members: [{ _id: 0, host: member }] }, $db: 'test' })).toMatchObject({ ok: 0, code: 13 });
    expect((await raw.command({ hello: 1, $db: 'admin' })).isWritablePrimary).toBe(false);
  });
});

describe('replSetInitiate', () => {
  it('makes the member primary under the host its config names, once', async () => {
    const { em, raw, member } = await uninitialized();
    const asNamed = `localhost:${em.port}`;
    expect(await raw.command({ replSetInitiate: { _id: 'rs0', members: [{ _id: 0, host: asNamed }] }, $db: 'admin' })).toMatchObject({ ok: 1 });
    const hello = await raw.command({ hello: 1, $db: 'admin' });
    expect(hello).toMatchObject({ isWritablePrimary: true, setName: 'rs0', hosts: [asNamed], primary: asNamed });
    const status = await raw.command({ replSetGetStatus: 1, $db: 'admin' });
    expect(status).toMatchObject({ ok: 1, set: 'rs0', myState: 1, members: [{ name: asNamed, stateStr: 'PRIMARY', self: true }] });
    expect(await raw.command({ replSetInitiate: { _id: 'rs0', members: [{ _id: 0, host: member }] }, $db: 'admin' })).toMatchObject({ ok: 0, code: 23, codeName: 'AlreadyInitialized' });

    // A replica-set client now finds its primary through the advertised name and writes.
    const client = new MongoClient(`mongodb://${asNamed}/?replicaSet=rs0`, { serverSelectionTimeoutMS: 5000 });
    clients.push(client);
    await client.db('t').collection<{ _id: number }>('c').insertOne({ _id: 1 });
    expect(await client.db('t').collection('c').countDocuments()).toBe(1);
  });

  it('with an empty config, takes its own address', async () => {
    const { raw, member } = await uninitialized();
    expect(await raw.command({ replSetInitiate: {}, $db: 'admin' })).toMatchObject({ ok: 1 });
    expect(await raw.command({ hello: 1, $db: 'admin' })).toMatchObject({ isWritablePrimary: true, hosts: [member] });
  });

  it('answers a waiting (awaitable) hello at once, with the next topology version', async () => {
    const { raw, member } = await uninitialized();
    const first = await raw.command({ hello: 1, $db: 'admin' });
    const other = await RawClient.connect(Number(member.split(':')[1]));
    clients.push({ close: () => other.close() });
    const started = Date.now();
    const waiting = raw.command({ hello: 1, topologyVersion: first.topologyVersion, maxAwaitTimeMS: 10_000, $db: 'admin' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await other.command({ replSetInitiate: {}, $db: 'admin' });
    const answered = await waiting;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(answered).toMatchObject({ isWritablePrimary: true });
    expect(Number(answered.topologyVersion.counter)).toBe(Number(first.topologyVersion.counter) + 1);
  });

  it('is what a driver with directConnection can send to the uninitialized node', async () => {
    const { em } = await uninitialized();
    const direct = new MongoClient(`mongodb://127.0.0.1:${em.port}/?directConnection=true`, { serverSelectionTimeoutMS: 5000 });
    clients.push(direct);
    const admin = direct.db('admin');
    expect(await errorOf(admin.command({ replSetGetStatus: 1 }))).toMatchObject({ code: 94 });
    await admin.command({ replSetInitiate: { _id: 'rs0', members: [{ _id: 0, host: `127.0.0.1:${em.port}` }] } });
    expect((await admin.command({ hello: 1 })).isWritablePrimary).toBe(true);
  });
});
