import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FinishedAnswer, ReplayCache } from '../src/bookings/replay-cache.js';

const answer = (body: string, until = 10_000): FinishedAnswer => ({ fingerprint: 'f', status: 201, contentType: 'application/json', body, until });

describe('ReplayCache', () => {
  it('answers until the expiry it was given, not at or after it', () => {
    const cache = new ReplayCache(1000);
    cache.remember('a', answer('x', 500), 0);
    expect(cache.get('a', 499)?.body).toBe('x');
    expect(cache.get('a', 500)).toBeUndefined();
    expect(cache.size).toBe(0);
    cache.remember('b', answer('y', 500), 500);
    expect(cache.get('b', 0)).toBeUndefined();
  });

  it('holds at most its byte budget of bodies, oldest out first', () => {
    const cache = new ReplayCache(10);
    cache.remember('a', answer('aaaa'), 0);
    cache.remember('b', answer('bbbb'), 0);
    cache.remember('c', answer('cccc'), 0);
    expect(cache.get('a', 1)).toBeUndefined();
    expect([cache.get('b', 1)?.body, cache.get('c', 1)?.body]).toEqual(['bbbb', 'cccc']);
    cache.remember('huge', answer('h'.repeat(11)), 0);
    expect(cache.get('huge', 1)).toBeUndefined();
    expect(cache.size).toBe(2);
  });

  it('keeps the first copy of a key (a finished answer never changes)', () => {
    const cache = new ReplayCache(100);
    cache.remember('a', answer('first'), 0);
    cache.remember('a', answer('second'), 0);
    expect(cache.get('a', 1)?.body).toBe('first');
  });
});

describe('ReplayCache against a model (fast-check)', () => {
  type Op = { kind: 'remember'; key: number; size: number; ttl: number } | { kind: 'get'; key: number } | { kind: 'tick'; ms: number };
  const op = fc.oneof(
    fc.record({ kind: fc.constant('remember' as const), key: fc.integer({ min: 0, max: 7 }), size: fc.integer({ min: 0, max: 40 }), ttl: fc.integer({ min: -5, max: 60 }) }),
    fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 20 }) }),
  );

  it('never answers with anything but the first answer of a key, never after its expiry, never over budget', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops: Op[]) => {
        const budget = 100;
        const cache = new ReplayCache(budget);
        // The model: the first answer ever given for each key (a finished answer never changes).
        const firstAnswer = new Map<number, FinishedAnswer>();
        let now = 0;
        for (const o of ops) {
          if (o.kind === 'tick') now += o.ms;
          else if (o.kind === 'remember') {
            const given = firstAnswer.get(o.key) ?? answer(`${o.key}:`.padEnd(o.size, 'x'), now + o.ttl);
            firstAnswer.set(o.key, given);
            cache.remember(String(o.key), given, now);
          } else {
            const got = cache.get(String(o.key), now);
            if (got !== undefined) {
              expect(got).toBe(firstAnswer.get(o.key));
              expect(got.until).toBeGreaterThan(now);
            }
          }
          let bytes = 0;
          for (const key of firstAnswer.keys()) bytes += cache.get(String(key), Number.NEGATIVE_INFINITY)?.body.length ?? 0;
          expect(bytes).toBeLessThanOrEqual(budget);
        }
      }),
      { numRuns: 300 },
    );
  });
});
