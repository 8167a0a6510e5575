// BSON value semantics as MongoDB defines them: cross-type order, numeric equality across
// int/long/double/decimal, a canonical string key (for index maps and hash lookups) and a cheap
// document clone that copies containers but shares immutable BSON scalars.
import { Binary, Decimal128, Long, ObjectId, Timestamp, BSONRegExp, Int32, Double, BSONSymbol } from 'bson';
import type { Collation } from './collation.js';

export type Doc = Record<string, unknown>;

const bsonType = (v: object): string | undefined => (v as { _bsontype?: string })._bsontype;

export function isPlainObject(v: unknown): v is Doc {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Number value of any BSON numeric, or undefined when v is not numeric. */
export function numericValue(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (v === null || typeof v !== 'object') return undefined;
  switch (bsonType(v)) {
    case 'Long':
      return (v as Long).toNumber();
    case 'Int32':
      return (v as Int32).value;
    case 'Double':
      return (v as Double).value;
    case 'Decimal128': {
      const s = (v as Decimal128).toString();
      if (s === 'NaN' || s === '-NaN') return NaN;
      if (s === 'Infinity') return Infinity;
      if (s === '-Infinity') return -Infinity;
      return Number(s);
    }
    default:
      return undefined;
  }
}

/**
 * MongoDB's comparison order of BSON types (MinKey < null < numbers < strings < objects < arrays
 * < binData < ObjectId < bool < date < timestamp < regex < MaxKey). Missing compares as null.
 */
export function typeRank(v: unknown): number {
  if (v === undefined || v === null) return 2;
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 3;
    case 'string':
      return 4;
    case 'boolean':
      return 9;
    case 'object':
      break;
    default:
      return 14;
  }
  if (Array.isArray(v)) return 6;
  if (v instanceof Date) return 10;
  if (v instanceof RegExp) return 12;
  switch (bsonType(v)) {
    case 'MinKey':
      return 1;
    case 'Long':
    case 'Int32':
    case 'Double':
    case 'Decimal128':
      return 3;
    case 'BSONSymbol':
      return 4;
    case 'Binary':
      return 7;
    case 'ObjectId':
      return 8;
    case 'Timestamp':
      return 11;
    case 'BSONRegExp':
      return 12;
    case 'MaxKey':
      return 13;
    default:
      return 5;
  }
}

const cmpPrim = <T extends string | number | bigint>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return cmpPrim(a.length, b.length);
}

function compareNumbers(a: unknown, b: unknown): number {
  if (a instanceof Long && b instanceof Long) return a.compare(b);
  const x = numericValue(a) ?? NaN;
  const y = numericValue(b) ?? NaN;
  // MongoDB orders NaN below every other number and equal to itself.
  if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
  if (Number.isNaN(y)) return 1;
  return cmpPrim(x, y);
}

/**
 * Total order over BSON values, as MongoDB compares them (used for sort and range queries). With a
 * collation, strings (also inside documents and arrays; never field names) compare by its rules.
 */
export function compareValues(a: unknown, b: unknown, coll?: Collation): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 1:
    case 2:
    case 13:
      return 0;
    case 3:
      return compareNumbers(a, b);
    case 4: {
      const x = String(a instanceof BSONSymbol ? a.value : a);
      const y = String(b instanceof BSONSymbol ? b.value : b);
      if (!coll) return cmpPrim(x, y);
      const c = coll.compare(x, y);
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    case 5:
      return compareObjects(a as Doc, b as Doc, coll);
    case 6: {
      const xs = a as unknown[];
      const ys = b as unknown[];
      const n = Math.min(xs.length, ys.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(xs[i], ys[i], coll);
        if (c !== 0) return c;
      }
      return cmpPrim(xs.length, ys.length);
    }
    case 7: {
      const x = a as Binary;
      const y = b as Binary;
      // MongoDB: length first, then subtype, then bytes.
      return cmpPrim(x.length(), y.length()) || cmpPrim(x.sub_type, y.sub_type) || compareBytes(x.buffer, y.buffer);
    }
    case 8:
      return compareBytes((a as ObjectId).id, (b as ObjectId).id);
    case 9:
      return cmpPrim(Number(a), Number(b));
    case 10:
      return cmpPrim((a as Date).getTime(), (b as Date).getTime());
    case 11:
      return (a as Timestamp).compare(b as Timestamp);
    case 12: {
      const x = regexParts(a);
      const y = regexParts(b);
      return cmpPrim(x[0], y[0]) || cmpPrim(x[1], y[1]);
    }
    default:
      return 0;
  }
}

function regexParts(v: unknown): [string, string] {
  if (v instanceof RegExp) return [v.source, v.flags];
  const r = v as BSONRegExp;
  return [r.pattern, r.options];
}

function compareObjects(a: Doc, b: Doc, coll?: Collation): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const c = typeRank(a[ka[i]]) - typeRank(b[kb[i]]) || cmpPrim(ka[i], kb[i]) || compareValues(a[ka[i]], b[kb[i]], coll);
    if (c !== 0) return c < 0 ? -1 : 1;
  }
  return cmpPrim(ka.length, kb.length);
}

/**
 * Byte equality of two short arrays (ObjectIds). A JS loop: Buffer.compare is a native call whose
 * overhead dominates for 12 bytes. From the end, where ObjectIds of one process differ (counter).
 */
function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = x.length - 1; i >= 0; i--) if (x[i] !== y[i]) return false;
  return true;
}

/** BSON equality (numbers of every width equal); strings by the collation when one is given. */
export function valuesEqual(a: unknown, b: unknown, coll?: Collation): boolean {
  if (a === b) return true;
  // Fast paths for the common scalar cases before the general comparison.
  const ta = typeof a;
  if (ta === 'string' || typeof b === 'string') return coll !== undefined && ta === typeof b && coll.compare(a as string, b as string) === 0;
  if (ta === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (a instanceof ObjectId && b instanceof ObjectId) return sameBytes(a.id, b.id);
  return typeRank(a) === typeRank(b) && compareValues(a, b, coll) === 0;
}

/**
 * Canonical string for a value: equal BSON values (1, 1.0, Long(1)) get the same key, so maps
 * keyed by it implement MongoDB equality. Field order inside objects is significant, as in MongoDB.
 */
export function keyOf(v: unknown): string {
  const leaf = leafKey(v);
  if (leaf !== undefined) return leaf;
  if (Array.isArray(v)) return '[' + v.map(keyOf).join(',') + ']';
  let s = '{';
  for (const k of Object.keys(v as Doc)) s += JSON.stringify(k) + ':' + keyOf((v as Doc)[k]) + ',';
  return s + '}';
}

/**
 * keyOf(a) === keyOf(b), without building either string: arrays and objects are compared part by
 * part and the first difference ends it. An update's "did anything change" test runs on every
 * written document, and building both keys of a large document (a booking with 100 tickets) was
 * the largest part of the emulator's time on such writes.
 */
export function sameKey(a: unknown, b: unknown): boolean {
  if (a === b && a !== null && typeof a === 'object') return true;
  const leafA = leafKey(a);
  const leafB = leafKey(b);
  if (leafA !== undefined || leafB !== undefined) return leafA === leafB;
  const arrayA = Array.isArray(a);
  if (arrayA !== Array.isArray(b)) return false;
  if (arrayA) {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!sameKey(x[i], y[i])) return false;
    return true;
  }
  const fieldsA = Object.keys(a as Doc);
  const fieldsB = Object.keys(b as Doc);
  if (fieldsA.length !== fieldsB.length) return false;
  for (let i = 0; i < fieldsA.length; i++) {
    const f = fieldsA[i] as string;
    if (f !== fieldsB[i] || !sameKey((a as Doc)[f], (b as Doc)[f])) return false;
  }
  return true;
}

/** keyOf of a value that is not an array or a document; undefined for those two. */
function leafKey(v: unknown): string | undefined {
  if (v === undefined || v === null) return 'z';
  switch (typeof v) {
    case 'number':
      return 'n' + (Object.is(v, -0) ? 0 : v);
    case 'string':
      return 's' + JSON.stringify(v);
    case 'boolean':
      return v ? 'b1' : 'b0';
    case 'bigint':
      return 'n' + v.toString();
    default:
      break;
  }
  if (Array.isArray(v)) return undefined;
  if (v instanceof Date) return 'd' + v.getTime();
  if (v instanceof RegExp) return 'r' + JSON.stringify([v.source, v.flags]);
  const o = v as object;
  switch (bsonType(o)) {
    case 'ObjectId': {
      // The 12 bytes as 12 characters (fixed length, so unambiguous): several times cheaper than hex.
      const b = (o as ObjectId).id;
      return 'o' + String.fromCharCode(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]);
    }
    case 'Long': {
      const l = o as Long;
      return 'n' + (l.lessThanOrEqual(Number.MAX_SAFE_INTEGER) && l.greaterThanOrEqual(Number.MIN_SAFE_INTEGER) ? l.toNumber() : l.toString());
    }
    case 'Int32':
    case 'Double':
    case 'Decimal128':
      return 'n' + numericValue(o);
    case 'Binary':
      return 'x' + (o as Binary).sub_type + ':' + Buffer.from((o as Binary).buffer).toString('base64');
    case 'Timestamp':
      return 't' + (o as Timestamp).toString();
    case 'BSONRegExp':
      return 'r' + JSON.stringify(regexParts(o));
    case 'BSONSymbol':
      return 's' + JSON.stringify((o as BSONSymbol).value);
    case 'MinKey':
      return 'm-';
    case 'MaxKey':
      return 'm+';
    default:
      return undefined;
  }
}

/** Copies plain objects and arrays; BSON scalars (ObjectId, Long, Binary...) are shared as immutable. */
export function cloneValue<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(cloneValue) as T;
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (!isPlainObject(v)) return v;
  const out: Doc = {};
  for (const k of Object.keys(v)) out[k] = cloneValue((v as Doc)[k]);
  return out as T;
}

export const cloneDoc = (d: Doc): Doc => cloneValue(d);

/**
 * All values a dotted path reaches in a document, descending through arrays like MongoDB's index
 * key generation does. Missing paths yield [undefined].
 */
export function pathValues(doc: unknown, path: string): unknown[] {
  if (path.indexOf('.') < 0) {
    // Top-level field: no array traversal needed.
    return [doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Doc)[path] : undefined];
  }
  return collect(doc, path.split('.'), 0);
}

function collect(v: unknown, parts: string[], i: number): unknown[] {
  if (i === parts.length) return [v];
  if (Array.isArray(v)) {
    const p = parts[i];
    if (/^\d+$/.test(p) && Number(p) < v.length) return collect(v[Number(p)], parts, i + 1);
    const out: unknown[] = [];
    for (const el of v) if (el !== null && typeof el === 'object') out.push(...collect(el, parts, i));
    return out.length ? out : [undefined];
  }
  if (v === null || typeof v !== 'object') return [undefined];
  return collect((v as Doc)[parts[i]], parts, i + 1);
}

/** The value at a dotted path without array traversal (undefined when absent). */
export function getPath(doc: unknown, path: string): unknown {
  let v = doc;
  for (const p of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Doc)[p];
  }
  return v;
}

/** True when the value contains a Decimal128 or a Long (numbers mingo cannot do arithmetic on; int64 values that writes store stay Long). */
export function hasWideNumber(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.some(hasWideNumber);
  const t = bsonType(v);
  if (t === 'Decimal128' || t === 'Long') return true;
  if (!isPlainObject(v)) return false;
  for (const k in v) if (hasWideNumber(v[k])) return true;
  return false;
}

const typeAliases: Record<string, string> = {
  double: 'double', 1: 'double', string: 'string', 2: 'string', object: 'object', 3: 'object', array: 'array', 4: 'array',
  binData: 'binData', 5: 'binData', undefined: 'undefined', 6: 'undefined', objectId: 'objectId', 7: 'objectId', bool: 'bool', 8: 'bool',
  date: 'date', 9: 'date', null: 'null', 10: 'null', regex: 'regex', 11: 'regex', javascript: 'javascript', 13: 'javascript',
  int: 'int', 16: 'int', timestamp: 'timestamp', 17: 'timestamp', long: 'long', 18: 'long', decimal: 'decimal', 19: 'decimal',
  minKey: 'minKey', '-1': 'minKey', maxKey: 'maxKey', 127: 'maxKey', number: 'number',
};

/** Canonical $type name for an alias or BSON type number, or undefined when unknown. */
export const typeAlias = (t: unknown): string | undefined => (typeof t === 'string' || typeof t === 'number' ? typeAliases[String(t)] : undefined);

/** Whether v has the BSON type named by a canonical alias ("number" = any numeric type). */
export function hasBsonType(v: unknown, alias: string): boolean {
  if (v === undefined) return false;
  const name = v === null ? 'null' : typeRank(v) === 1 ? 'minKey' : typeRank(v) === 13 ? 'maxKey' : bsonTypeName(v);
  if (alias === 'number') return typeRank(v) === 3;
  return name === alias;
}

export function bsonTypeName(v: unknown): string {
  switch (typeRank(v)) {
    case 2:
      return v === undefined ? 'missing' : 'null';
    case 3: {
      if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 31 ? 'int' : 'double';
      const t = bsonType(v as object);
      return t === 'Decimal128' ? 'decimal' : t === 'Int32' ? 'int' : t === 'Long' ? 'long' : 'double';
    }
    case 4:
      return 'string';
    case 6:
      return 'array';
    case 7:
      return 'binData';
    case 8:
      return 'objectId';
    case 9:
      return 'bool';
    case 10:
      return 'date';
    case 11:
      return 'timestamp';
    case 12:
      return 'regex';
    default:
      return 'object';
  }
}
