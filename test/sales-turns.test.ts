import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { salesTurns } from '../src/bookings/sales-turns.js';
import { redisStore } from '../src/lib/kv.js';

const redis = new Redis(inject('redisUrl'), { keyPrefix: `test:turns:${randomBytes(4).toString('hex')}:` });
afterAll(() => redis.quit());
const kv = redisStore(redis);

const event = () => randomBytes(12).toString('hex');
const far = () => performance.now() + 10_000;

/** How long awaitTurn kept its caller waiting, in ms. */
async function waited(turn: Promise<void>): Promise<number> {
  const t0 = performance.now();
  await turn;
  return performance.now() - t0;
}

describe('sales turns between instances (Redis)', () => {
  const a = salesTurns(kv, { instanceId: 'a', turnMs: 2_000 });
  const b = salesTurns(kv, { instanceId: 'b', turnMs: 2_000 });

  it('an instance that lost a conflict gets the next turn; the other waits until it is handed back', async () => {
    const id = event();
    expect(await a.requestTurn(id)).toBe(true);
    // b asks too while a holds it: not b's.
    expect(await b.requestTurn(id)).toBe(false);
    // a's own turn never holds a up.
    expect(await waited(a.awaitTurn(id, far()))).toBeLessThan(100);

    let bWent = false;
    const bTurn = b.awaitTurn(id, far()).then(() => (bWent = true));
    await sleep(50);
    expect(bWent).toBe(false);
    await a.release(id);
    await bTurn;
    expect(bWent).toBe(true);
    expect(await redis.exists(`sales-turn:${id}`)).toBe(0);
  });

  it('without anyone asking, nobody waits; asking twice keeps the turn', async () => {
    const id = event();
    expect(await waited(b.awaitTurn(id, far()))).toBeLessThan(100);
    expect(await b.requestTurn(id)).toBe(true);
    expect(await b.requestTurn(id)).toBe(true);
    await b.release(id);
    expect(await waited(a.awaitTurn(id, far()))).toBeLessThan(100);
  });

  it('a turn never handed back (a crashed instance) holds the others up for its lifetime at most, and never past their deadline', async () => {
    const crashed = salesTurns(kv, { instanceId: 'crashed', turnMs: 300 });
    const id = event();
    expect(await crashed.requestTurn(id)).toBe(true);
    const byLifetime = await waited(a.awaitTurn(id, far()));
    expect(byLifetime).toBeGreaterThanOrEqual(150);
    expect(byLifetime).toBeLessThan(1_500);

    const other = event();
    expect(await crashed.requestTurn(other)).toBe(true);
    const byDeadline = await waited(a.awaitTurn(other, performance.now() + 60));
    expect(byDeadline).toBeLessThan(250);
  });

  it('release hands back only its own turn, not one that ran out and went to another instance', async () => {
    const short = salesTurns(kv, { instanceId: 'short', turnMs: 50 });
    const id = event();
    expect(await short.requestTurn(id)).toBe(true);
    await sleep(120);
    expect(await b.requestTurn(id)).toBe(true);
    await short.release(id);
    // release does not wait for Redis (the sale's answers need not): give it time to do wrong.
    await sleep(100);
    expect(await redis.get(`sales-turn:${id}`)).toBe('b');
    await b.release(id);
  });

  it('a Redis that does not answer (until its command timeout) holds a sale up for a moment, and release not at all', async () => {
    const never = new Promise<never>(() => undefined);
    const hung = { ...kv, get: () => never, setIfAbsentOrGet: () => never, delete: () => never };
    const turns = salesTurns(hung, { instanceId: 'hung', turnMs: 200 });
    const id = event();
    const t0 = performance.now();
    expect(await turns.requestTurn(id)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(150);
    expect(await waited(turns.awaitTurn(id, far()))).toBeLessThan(150);

    const holding = salesTurns({ ...kv, get: () => never, delete: () => never }, { instanceId: 'holding' });
    expect(await holding.requestTurn(id)).toBe(true);
    expect(await waited(holding.release(id))).toBeLessThan(50);
    await redis.del(`sales-turn:${id}`);
  });

  it('with Redis unreachable, nobody waits and nobody gets a turn', async () => {
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    const turns = salesTurns(redisStore(down), { instanceId: 'down' });
    const id = event();
    expect(await turns.requestTurn(id)).toBe(false);
    expect(await waited(turns.awaitTurn(id, far()))).toBeLessThan(100);
    await turns.release(id);
    down.disconnect();
  });
});
