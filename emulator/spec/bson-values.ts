// Helpers that classify and compare the values the driver hands back (plain JS values and the
// bson library's wrapper classes), used by the matcher and by the exact outcome comparison.
import { EJSON } from 'bson';

export type Doc = Record<string, unknown>;

interface BsonTagged {
  _bsontype: string;
}

function bsonTag(v: unknown): string | undefined {
  if (v !== null && typeof v === 'object' && '_bsontype' in v) {
    const tag = (v as BsonTagged)._bsontype;
    return typeof tag === 'string' ? tag : undefined;
  }
  return undefined;
}

/** A plain document: an object that is not an array, a BSON wrapper, a Date, a Buffer or a RegExp. */
export function isDocument(v: unknown): v is Doc {
  return (
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    bsonTag(v) === undefined &&
    !(v instanceof Date) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof RegExp) &&
    !(v instanceof Map)
  );
}

/** Own keys whose value is not `undefined` (the driver never serializes undefined-valued keys we rely on). */
export function presentKeys(d: Doc): string[] {
  return Object.keys(d).filter((k) => d[k] !== undefined);
}

export function has(d: Doc, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(d, key) && d[key] !== undefined;
}

/** Numeric value of int/long/double in any representation, or undefined when not numeric. */
export function numericValue(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  const tag = bsonTag(v);
  if (tag === 'Int32' || tag === 'Double') return (v as { valueOf(): number }).valueOf();
  if (tag === 'Long') return (v as { toNumber(): number }).toNumber();
  return undefined;
}

/**
 * The BSON type names (as the $type query operator spells them) that a value may be.
 * The driver promotes int32, int64 and double to JS numbers, so a JS number may stand for any of
 * them: an integral number is reported as int (if it fits), long and double; a fractional one as double.
 */
export function bsonTypesOf(v: unknown): string[] {
  if (v === null) return ['null'];
  if (v === undefined) return ['undefined'];
  if (typeof v === 'string') return ['string'];
  if (typeof v === 'boolean') return ['bool'];
  if (typeof v === 'bigint') return ['long'];
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return ['double'];
    const t = ['long', 'double'];
    if (v >= -2147483648 && v <= 2147483647) t.unshift('int');
    return t;
  }
  if (Array.isArray(v)) return ['array'];
  if (v instanceof Date) return ['date'];
  if (v instanceof RegExp) return ['regex'];
  if (v instanceof Uint8Array) return ['binData'];
  const tag = bsonTag(v);
  if (tag !== undefined) {
    const byTag: Record<string, string> = {
      Int32: 'int',
      Double: 'double',
      Long: 'long',
      Decimal128: 'decimal',
      ObjectId: 'objectId',
      Binary: 'binData',
      UUID: 'binData',
      Timestamp: 'timestamp',
      BSONRegExp: 'regex',
      BSONSymbol: 'symbol',
      MinKey: 'minKey',
      MaxKey: 'maxKey',
      DBRef: 'object',
      DBPointer: 'dbPointer',
    };
    if (tag === 'Code') {
      const scope = (v as { scope?: unknown }).scope;
      return [scope ? 'javascriptWithScope' : 'javascript'];
    }
    return [byTag[tag] ?? tag];
  }
  return ['object'];
}

/** Whether a value is of the named $type (including the "number" alias). */
export function isOfType(v: unknown, typeName: string): boolean {
  const types = bsonTypesOf(v);
  if (typeName === 'number') return types.some((t) => ['int', 'long', 'double', 'decimal'].includes(t));
  return types.includes(typeName);
}

function bytesOf(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  const tag = bsonTag(v);
  if (tag === 'Binary' || tag === 'UUID') {
    const b = v as { buffer: Uint8Array; position?: number };
    return typeof b.position === 'number' ? b.buffer.subarray(0, b.position) : b.buffer;
  }
  return undefined;
}

export function hexOf(v: unknown): string | undefined {
  if (typeof v === 'string') return undefined;
  const bytes = bytesOf(v);
  return bytes ? Buffer.from(bytes).toString('hex') : undefined;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Equality of two non-document, non-array values, with numeric looseness between int, long and
 * double (Decimal128 is compared exactly, per the format's flexible numeric rule).
 */
export function scalarEquals(expected: unknown, actual: unknown): boolean {
  const en = numericValue(expected);
  const an = numericValue(actual);
  if (en !== undefined || an !== undefined) {
    if (en === undefined || an === undefined) return false;
    return en === an || (Number.isNaN(en) && Number.isNaN(an));
  }
  if (expected === null || actual === null || expected === undefined || actual === undefined) {
    return expected === actual;
  }
  if (typeof expected !== 'object' || typeof actual !== 'object') return expected === actual;
  if (expected instanceof Date || actual instanceof Date) {
    return expected instanceof Date && actual instanceof Date && expected.getTime() === actual.getTime();
  }
  const eb = bytesOf(expected);
  const ab = bytesOf(actual);
  if (eb || ab) {
    if (!eb || !ab) return false;
    const es = (expected as { sub_type?: number }).sub_type ?? 0;
    const as = (actual as { sub_type?: number }).sub_type ?? 0;
    return es === as && sameBytes(eb, ab);
  }
  // Remaining BSON wrappers (ObjectId, Timestamp, Decimal128, regexes, keys, code): compare canonically.
  return canonical(expected) === canonical(actual);
}

function canonical(v: unknown): string {
  try {
    return EJSON.stringify(v as Doc, { relaxed: false });
  } catch {
    return String(v);
  }
}

/** Short, single-line rendering of a value for failure messages. */
export function show(v: unknown, max = 160): string {
  let s: string;
  if (v === undefined) s = '(absent)';
  else {
    try {
      s = EJSON.stringify(v as Doc, { relaxed: true });
    } catch {
      s = String(v);
    }
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** Exact equality used for collection outcomes: same keys (any order), same array lengths. */
export function exactEquals(expected: unknown, actual: unknown): boolean {
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((e, i) => exactEquals(e, actual[i]))
    );
  }
  if (isDocument(expected)) {
    if (!isDocument(actual)) return false;
    const ek = presentKeys(expected);
    const ak = presentKeys(actual);
    return ek.length === ak.length && ek.every((k) => has(actual, k) && exactEquals(expected[k], actual[k]));
  }
  if (Array.isArray(actual) || isDocument(actual)) return false;
  return scalarEquals(expected, actual);
}
