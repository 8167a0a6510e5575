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
