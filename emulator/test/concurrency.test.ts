import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe('a large concurrent burst through the driver', () => {
  it('200 concurrent withTransaction bookings on one counter document end consistent, never oversold', async () => {
    const db = h.client.db('burst');
    const events = db.collection<{ _id: string; capacity: number; bumps: number }>('events');
    const bookings = db.collection<{ eventId: string; n: number }>('bookings');
    await bookings.createIndex({ eventId: 1 });
    await events.insertOne({ _id: 'e', capacity: 150, bumps: 0 });

    let soldOut = 0;
    let attempts = 0;
    const book = async (n: number): Promise<void> => {
      const session = h.client.startSession();
      let mine = 0;
      try {
        await session.withTransaction(async () => {
          attempts++;
          // withTransaction retries at once; a little jittered backoff (application side) keeps
          // 200 sessions from spending the test's time re-colliding on the counter.
          if (mine++ > 0) await new Promise((r) => setTimeout(r, Math.random() * Math.min(300, 25 * mine)));
          // The common write first (DESIGN.md 1): concurrent bookings conflict here and retry.
          const ev = await events.findOneAndUpdate({ _id: 'e' }, { $inc: { bumps: 1 } }, { session, returnDocument: 'after' });
          const taken = await bookings.countDocuments({ eventId: 'e' }, { session });
          if (taken >= ev!.capacity) throw new Error('sold out');
          await bookings.insertOne({ eventId: 'e', n }, { session });
        });
      } catch (e) {
        if ((e as Error).message !== 'sold out') throw e;
        soldOut++;
      } finally {
        await session.endSession();
      }
    };
    await Promise.all(Array.from({ length: 200 }, (_, i) => book(i)));

    expect(await bookings.countDocuments({ eventId: 'e' })).toBe(150);
    expect(soldOut).toBe(50);
    // Only committed transactions bumped the counter: exactly one bump per booking.
    expect((await events.findOne({ _id: 'e' }))?.bumps).toBe(150);
    expect(new Set((await bookings.find().toArray()).map((b) => b.n)).size).toBe(150);
    expect(attempts).toBeGreaterThan(200);
  });
});
