import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { type KeyValueStore, memoryStore, redisStore } from '../src/lib/kv.js';

const redis = new Redis(inject('redisUrl'), { keyPrefix: `test:kv:${randomBytes(4).toString('hex')}:` });
afterAll(() => redis.quit());

let fakeNow = 1_000_000;
const stores: [string, KeyValueStore][] = [
  ['redis', redisStore(redis)],
  ['memory', memoryStore(() => fakeNow)],
];

describe.each(stores)('%s key-value store', (_name, kv) => {
  it('claims a key once and reads back what the winner stored', async () => {
    const key = `claim-${randomBytes(4).toString('hex')}`;
    expect(await kv.setIfAbsentOrGet(key, 'first', 10_000)).toBeNull();
    expect(await kv.setIfAbsentOrGet(key, 'second', 10_000)).toBe('first');
    expect(await kv.get(key)).toBe('first');
    expect(await kv.setIfAbsent(key, 'third', 10_000)).toBe(false);
    await kv.delete(key);
    expect(await kv.setIfAbsent(key, 'fourth', 10_000)).toBe(true);
    expect(await kv.get(key)).toBe('fourth');
  });

  it('forgets keys when their time is up', async () => {
    const key = `ttl-${randomBytes(4).toString('hex')}`;
    await kv.set(key, 'v', 30);
    fakeNow += 1_000;
    await new Promise((r) => setTimeout(r, 60));
    expect(await kv.get(key)).toBeNull();
    expect(await kv.setIfAbsentOrGet(key, 'again', 10_000)).toBeNull();
  });
});
