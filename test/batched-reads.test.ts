import { describe, expect, it } from 'vitest';
import { BatchedReads } from '../src/lib/batched-reads.js';

/** A reader over a map that records each query's keys. */
function readerOver(data: Map<string, number>, fail: (keys: string[]) => boolean = () => false) {
  const queries: string[][] = [];
  const reader = new BatchedReads<number>(async (keys) => {
    queries.push(keys);
    // The database answers as it was when the query arrived; the answer takes a while to come back.
    const found = new Map(keys.flatMap((key) => (data.has(key) ? [[key, data.get(key) as number] as const] : [])));
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (fail(keys)) throw new Error('query failed');
    return found;
  });
  return { reader, queries };
}

describe('BatchedReads', () => {
  it('answers the reads of one turn with one query of the distinct keys, each read its own value', async () => {
    const { reader, queries } = readerOver(new Map([['a', 1], ['b', 2]]));
    const answers = await Promise.all(['a', 'b', 'a', 'missing'].map((key) => reader.read(key)));
    expect(answers).toEqual([1, 2, 1, undefined]);
    expect(queries).toEqual([['a', 'b', 'missing']]);
  });

  it('never answers a read with a query sent before it was asked: a later turn queries again and sees the change', async () => {
    const data = new Map([['a', 1]]);
    const { reader, queries } = readerOver(data);
    const first = reader.read('a');
    await new Promise((resolve) => setImmediate(resolve)); // the first query is on its way
    data.set('a', 2);
    const second = reader.read('a');
    expect(await first).toBe(1);
    expect(await second).toBe(2);
    expect(queries).toEqual([['a'], ['a']]);
  });

  it('splits a large turn into queries of at most 100 keys', async () => {
    const data = new Map(Array.from({ length: 250 }, (_, i) => [`k${i}`, i] as const));
    const { reader, queries } = readerOver(data);
    const answers = await Promise.all([...data.keys()].map((key) => reader.read(key)));
    expect(answers).toEqual([...data.values()]);
    expect(queries.map((q) => q.length)).toEqual([100, 100, 50]);
  });

  it('a failed query fails only its own reads; the next turn reads again', async () => {
    let failing = true;
    const { reader } = readerOver(new Map([['a', 1]]), () => failing);
    const failed = await Promise.allSettled([reader.read('a'), reader.read('a')]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    failing = false;
    expect(await reader.read('a')).toBe(1);
  });
});
