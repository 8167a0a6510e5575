import { Double, Int32, Long, ObjectId } from 'bson';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneValue, keyOf, sameKey, type Doc } from '../src/values.js';

// sameKey must say exactly what comparing the two canonical keys says: writes use it to decide
// whether an update changed the document (a no-op update writes nothing, as in MongoDB).

const ids = [new ObjectId('64b000000000000000000001'), new ObjectId('64b000000000000000000002')];
const leaf = fc.oneof(
  fc.constantFrom(null, undefined, true, false, 0, -0, 1, 1.5, Number.NaN, '', 'a', 'a,b', '"', '{', 'z'),
  fc.integer({ min: -3, max: 3 }),
  fc.integer({ min: -3, max: 3 }).map((n) => new Int32(n)),
  fc.integer({ min: -3, max: 3 }).map((n) => new Double(n)),
  fc.integer({ min: -3, max: 3 }).map((n) => Long.fromNumber(n)),
  fc.integer({ min: 0, max: 2 }).map((n) => new Date(1_700_000_000_000 + n)),
  fc.constantFrom(...ids),
);
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'c', '_id', 'tickets'), tie('value'), { maxKeys: 4 }),
  ),
}));

/** A copy of v with at most one leaf replaced: pairs that are often equal and differ in one place. */
function variant(v: unknown, path: number[], replacement: unknown): unknown {
  if (path.length === 0 || v === null || typeof v !== 'object' || !(Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype)) {
    return path.length === 0 ? replacement : cloneValue(v);
  }
  const [step, ...rest] = path as [number, ...number[]];
  if (Array.isArray(v)) return v.map((x, i) => (i === step % Math.max(v.length, 1) ? variant(x, rest, replacement) : cloneValue(x)));
  const fields = Object.keys(v);
  const out: Doc = {};
  fields.forEach((f, i) => (out[f] = i === step % Math.max(fields.length, 1) ? variant((v as Doc)[f], rest, replacement) : cloneValue((v as Doc)[f])));
  return out;
}

describe('sameKey', () => {
  it('agrees with comparing keyOf strings, on unrelated values', () => {
    fc.assert(fc.property(value, value, (a, b) => sameKey(a, b) === (keyOf(a) === keyOf(b))), { numRuns: 2000 });
  });

  it('agrees with comparing keyOf strings, on a value and a copy differing in at most one place', () => {
    const pair = fc.tuple(value, fc.array(fc.nat(5), { maxLength: 4 }), leaf, fc.boolean());
    fc.assert(
      fc.property(pair, ([a, path, replacement, change]) => {
        const b = change ? variant(a, path, replacement) : cloneValue(a);
        expect(sameKey(a, b)).toBe(keyOf(a) === keyOf(b));
        expect(sameKey(b, a)).toBe(sameKey(a, b));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with comparing keyOf strings, on a copy with the fields of every document reversed', () => {
    const reversed = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(reversed);
      if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return v;
      return Object.fromEntries(Object.entries(v).reverse().map(([f, x]) => [f, reversed(x)]));
    };
    fc.assert(fc.property(value, (a) => sameKey(a, reversed(a)) === (keyOf(a) === keyOf(reversed(a)))), { numRuns: 2000 });
  });

  it('treats equal numbers of different BSON types as the same, and field order as significant', () => {
    expect(sameKey({ n: 1 }, { n: new Int32(1) })).toBe(true);
    expect(sameKey({ n: Long.fromNumber(2) }, { n: new Double(2) })).toBe(true);
    expect(sameKey({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
    expect(sameKey({ a: null }, { a: undefined })).toBe(true);
    expect(sameKey({ a: null }, {})).toBe(false);
    expect(sameKey([1, [2]], [1, [2]])).toBe(true);
    expect(sameKey([1, [2]], [1, 2])).toBe(false);
  });
});
