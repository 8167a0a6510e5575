import mongoose, { Schema, type Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../src/index.js';

let em: RunningEmulator;
let conn: Connection;

interface Account {
  email: string;
  balance: number;
}

beforeAll(async () => {
  em = await startEmulator({ port: 0 });
  conn = await mongoose.createConnection(em.uri, { dbName: 'mongoose_test' }).asPromise();
});

afterAll(async () => {
  await conn.close();
  await em.stop();
});

describe('Mongoose against the emulator', () => {
  it('sees a replica-set primary', async () => {
    const hello = await conn.db!.admin().command({ hello: 1 });
    expect(hello.isWritablePrimary).toBe(true);
    expect(hello.setName).toBe('rs0');
    expect(hello.hosts).toEqual([new URL(em.uri.replace('mongodb://', 'http://')).host]);
  });

  it('creates a model with a unique index, inserts, finds, updates and rejects duplicates', async () => {
    const Acc = conn.model<Account>('Account', new Schema<Account>({ email: { type: String, unique: true }, balance: Number }));
    await Acc.init();
    const indexes = await Acc.collection.indexes();
    expect(indexes.find((i) => i.name === 'email_1')?.unique).toBe(true);

    await Acc.create({ email: 'a@example.com', balance: 10 });
    const found = await Acc.findOne({ email: 'a@example.com' }).lean();
    expect(found?.balance).toBe(10);

    const updated = await Acc.findOneAndUpdate({ email: 'a@example.com' }, { $inc: { balance: 5 } }, { new: true }).lean();
    expect(updated?.balance).toBe(15);

    const err = await Acc.create({ email: 'a@example.com', balance: 1 }).then(
      () => null,
      (e: unknown) => e as { code: number; keyPattern: unknown; keyValue: unknown; message: string },
    );
    expect(err?.code).toBe(11000);
    expect(err?.keyPattern).toEqual({ email: 1 });
    expect(err?.keyValue).toEqual({ email: 'a@example.com' });
    expect(err?.message).toMatch(/^E11000 duplicate key error collection: mongoose_test\.accounts index: email_1 dup key: \{ email: "a@example\.com" \}/);
  });

  it('commits and aborts with session.withTransaction', async () => {
    const Acc = conn.model<Account>('Account');
    const session = await conn.startSession();
    try {
      await session.withTransaction(async () => {
        await Acc.create([{ email: 'b@example.com', balance: 1 }], { session });
        await Acc.updateOne({ email: 'a@example.com' }, { $inc: { balance: -1 } }, { session });
        // Inside the transaction its own writes are visible, outside not yet.
        expect(await Acc.countDocuments({ email: 'b@example.com' }).session(session)).toBe(1);
        expect(await Acc.countDocuments({ email: 'b@example.com' })).toBe(0);
      });
      expect(await Acc.countDocuments({ email: 'b@example.com' })).toBe(1);
      expect((await Acc.findOne({ email: 'a@example.com' }).lean())?.balance).toBe(14);

      await expect(
        session.withTransaction(async () => {
          await Acc.create([{ email: 'c@example.com', balance: 1 }], { session });
          await Acc.updateOne({ email: 'a@example.com' }, { $inc: { balance: 100 } }, { session });
          throw new Error('rollback please');
        }),
      ).rejects.toThrow('rollback please');
      expect(await Acc.countDocuments({ email: 'c@example.com' })).toBe(0);
      expect((await Acc.findOne({ email: 'a@example.com' }).lean())?.balance).toBe(14);
    } finally {
      await session.endSession();
    }
  });
});
