// Query planning and document-level read/write primitives on top of a transaction.
// Planning: _id equality is a hash lookup; equality ($eq/$in) on the leading fields of a complete
// index is a hash lookup per key combination; anything else scans. Candidates are always re-checked
// with the full filter against the version the transaction sees.
import { calculateObjectSize, ObjectId } from 'bson';
import { containsString, type Collation } from './collation.js';
import { Codes, MongoCommandError } from './errors.js';
import type { Index } from './indexes.js';
import { compileFilter, type Matcher } from './query.js';
import type { Collection, DocChain } from './storage.js';
import { duplicateKey, type Txn } from './txn.js';
import { isPlainObject, keyOf, type Doc } from './values.js';

export interface Hit {
  chain: DocChain;
  doc: Doc;
}

const MAX_KEY_COMBINATIONS = 10_000;

/** Values of an equality-style condition, or undefined if the condition is not an index equality. */
function equalityValues(cond: unknown): unknown[] | undefined {
  const eligible = (v: unknown): boolean =>
    !(v instanceof RegExp) && !Array.isArray(v) && !(isPlainObject(v) && Object.keys(v).some((k) => k.startsWith('$')));
  if (cond instanceof RegExp || Array.isArray(cond)) return undefined;
  if (isPlainObject(cond)) {
    const keys = Object.keys(cond);
    if (!keys.some((k) => k.startsWith('$'))) return [cond];
    if ('$eq' in cond) return eligible(cond.$eq) ? [cond.$eq] : undefined;
    if ('$in' in cond && Array.isArray(cond.$in) && cond.$in.every(eligible)) return cond.$in;
    return undefined;
  }
  return [cond];
}

/**
 * Top-level field conditions, flattening a top-level $and of plain conditions. Under a collation,
 * conditions on strings are left out: indexes (and the _id map) hold binary keys.
 */
function fieldConditions(filter: Doc, coll?: Collation, out = new Map<string, unknown[]>()): Map<string, unknown[]> {
  for (const [k, v] of Object.entries(filter)) {
    if (k === '$and' && Array.isArray(v)) {
      for (const sub of v) if (isPlainObject(sub)) fieldConditions(sub, coll, out);
      continue;
    }
    if (k.startsWith('$')) continue;
    const vals = equalityValues(v);
    if (!vals || (coll && vals.some(containsString))) continue;
    const prev = out.get(k);
    // Two equalities on one field: keep the narrower list, the matcher enforces both.
    if (!prev || vals.length < prev.length) out.set(k, vals);
  }
  return out;
}

function chooseIndex(coll: Collection, conds: Map<string, unknown[]>): { ix: Index; len: number } | undefined {
  let best: { ix: Index; len: number } | undefined;
  for (const ix of coll.indexes.values()) {
    if (ix.isId || !ix.complete) continue;
    let len = 0;
    let combos = 1;
    while (len < ix.fields.length && conds.has(ix.fields[len])) {
      combos *= conds.get(ix.fields[len])!.length;
      if (combos > MAX_KEY_COMBINATIONS) break;
      len++;
    }
    if (len > 0 && (!best || len > best.len)) best = { ix, len };
  }
  return best;
}

function keyCombinations(lists: unknown[][]): string[] {
  let acc = [''];
  lists.forEach((vals, i) => {
    const next: string[] = [];
    const ks = new Set(vals.map(keyOf));
    for (const p of acc) for (const k of ks) next.push(i === 0 ? k : p + '|' + k);
    acc = next;
  });
  return acc;
}

/** Sorts by insertion sequence; index sets are usually in that order already (checked in O(n)). */
function inNaturalOrder(chains: DocChain[]): DocChain[] {
  for (let i = 1; i < chains.length; i++) {
    if (chains[i - 1].seq > chains[i].seq) return chains.sort((a, b) => a.seq - b.seq);
  }
  return chains;
}

/** Candidate documents for a filter, in natural (insertion) order. */
export function candidates(coll: Collection, filter: Doc | undefined, collation?: Collation): Iterable<DocChain> {
  if (!filter || Object.keys(filter).length === 0) return coll.chains.values();
  const conds = fieldConditions(filter, collation);
  const ids = conds.get('_id');
  if (ids) {
    const out: DocChain[] = [];
    for (const k of new Set(ids.map(keyOf))) {
      const c = coll.chains.get(k);
      if (c) out.push(c);
    }
    return out.length > 1 ? out.sort((a, b) => a.seq - b.seq) : out;
  }
  const choice = chooseIndex(coll, conds);
  if (!choice) return coll.chains.values();
  const { ix, len } = choice;
  const keys = keyCombinations(ix.fields.slice(0, len).map((f) => conds.get(f)!));
  if (keys.length === 1) {
    const set = ix.lookup(len, keys[0]);
    return set ? inNaturalOrder([...set]) : [];
  }
  const lists: DocChain[][] = [];
  for (const k of keys) {
    const set = ix.lookup(len, k);
    if (set) lists.push([...set]);
  }
  if (lists.length > MERGE_MAX_LISTS) {
    const found = new Set<DocChain>();
    for (const l of lists) for (const c of l) found.add(c);
    return inNaturalOrder([...found]);
  }
  return lists.map(inNaturalOrder).reduce(mergeBySeq, []);
}

/** Up to this many key lookups are merged (each list is in natural order already); more are sorted. */
const MERGE_MAX_LISTS = 4;

/** Merges two lists in natural order, dropping duplicates (a multikey document under two keys). */
function mergeBySeq(a: DocChain[], b: DocChain[]): DocChain[] {
  if (a.length === 0) return b;
  const out: DocChain[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i].seq <= b[j].seq) ? a[i++] : b[j++];
    if (out[out.length - 1] !== next) out.push(next);
  }
  return out;
}

/** Documents of `coll` matching `filter` as `txn` sees them. */
export interface ScanOptions {
  limit?: number;
  matcher?: Matcher;
  /** `let` variables for $expr. */
  variables?: Doc;
  /** The command's collation (absent: binary string comparison). */
  collation?: Collation;
}

export function scan(txn: Txn, coll: Collection | undefined, filter: Doc | undefined, opts: ScanOptions = {}): Hit[] {
  if (!coll) return [];
  const matcher = opts.matcher ?? compileFilter(filter, opts.variables, opts.collation);
  const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
  const out: Hit[] = [];
  let examined = 0;
  for (const chain of candidates(coll, filter, opts.collation)) {
    examined++;
    const doc = txn.read(chain);
    if (doc && matcher(doc)) {
      out.push({ chain, doc });
      if (out.length >= limit) break;
    }
  }
  coll.store.stats.docsExamined += examined;
  return out;
}

/** Like scan, for readers that need only the documents (no per-hit objects). */
export function scanDocs(txn: Txn, coll: Collection | undefined, filter: Doc | undefined, opts: ScanOptions = {}): Doc[] {
  if (!coll) return [];
  const matcher = opts.matcher ?? compileFilter(filter, opts.variables, opts.collation);
  const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
  const out: Doc[] = [];
  let examined = 0;
  for (const chain of candidates(coll, filter, opts.collation)) {
    examined++;
    const doc = txn.read(chain);
    if (doc && matcher(doc)) {
      out.push(doc);
      if (out.length >= limit) break;
    }
  }
  coll.store.stats.docsExamined += examined;
  return out;
}

export function validateId(id: unknown): void {
  if (Array.isArray(id)) throw new MongoCommandError(Codes.InvalidIdField, `The '_id' value cannot be of type array`);
  if (id instanceof RegExp) throw new MongoCommandError(Codes.InvalidIdField, `The '_id' value cannot be of type regex`);
  if (id === undefined) throw new MongoCommandError(Codes.InvalidIdField, `The '_id' value cannot be undefined`);
  if (isPlainObject(id)) {
    const bad = Object.keys(id).find((k) => k.startsWith('$'));
    if (bad) throw new MongoCommandError(Codes.DollarPrefixedFieldName, `_id fields may not contain '$'-prefixed fields: ${bad} is not valid for storage.`);
  }
}

/** Puts _id first (generating an ObjectId if absent), as mongod stores it. */
export function withId(doc: Doc): Doc {
  if ('_id' in doc && Object.keys(doc)[0] === '_id') return doc;
  const { _id, ...rest } = doc;
  return { _id: _id === undefined ? new ObjectId() : _id, ...rest };
}

export interface WriteOptions {
  /** The command's bypassDocumentValidation: true. */
  bypassValidation?: boolean;
}

/** mongod's limit on a stored document (BSONObjMaxUserSize). */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

function checkSize(doc: Doc, message: (size: number) => string): void {
  const size = calculateObjectSize(doc);
  if (size > MAX_DOCUMENT_BYTES) throw new MongoCommandError(Codes.BSONObjectTooLarge, message(size));
}

export function insertDoc(txn: Txn, coll: Collection, input: Doc, opts: WriteOptions = {}): Doc {
  const doc = withId(input);
  validateId(doc._id);
  checkSize(doc, (size) => `object to insert too large. size in bytes: ${size}, max size: ${MAX_DOCUMENT_BYTES}`);
  if (coll.validator && !opts.bypassValidation) coll.validator.check(doc, null);
  const chain = coll.chainFor(keyOf(doc._id));
  txn.claim(chain);
  if (txn.read(chain)) throw duplicateKey(coll, '_id_', doc);
  txn.checkUnique(coll, chain, doc);
  txn.put(chain, doc);
  return doc;
}

export function replaceDoc(txn: Txn, coll: Collection, chain: DocChain, doc: Doc, opts: WriteOptions = {}): void {
  checkSize(doc, () => `Resulting document after update is larger than ${MAX_DOCUMENT_BYTES}`);
  if (coll.validator && !opts.bypassValidation) coll.validator.check(doc, txn.read(chain));
  txn.claim(chain);
  txn.checkUnique(coll, chain, doc);
  txn.put(chain, doc);
}

export function deleteDoc(txn: Txn, chain: DocChain): void {
  txn.claim(chain);
  txn.put(chain, null);
}
