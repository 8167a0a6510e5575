// find/findAndModify projections. mingo evaluates inclusions, exclusions and expressions; the
// find-only operators are applied here because mingo gets them wrong: `$slice` alone dropped every
// other field, the positional `a.$` yielded [null], `$elemMatch` ignored arrays of scalars. The
// result keeps the stored document's field order (`_id` first), as mongod's projection does.
import { Query } from 'mingo/query';
import { Codes, MongoCommandError } from './errors.js';
import { compileFilter, mingoOptions, translateMingoError } from './query.js';
import { cloneValue, isPlainObject, type Doc } from './values.js';

interface Special {
  slices: [string, number | [number, number]][];
  elemMatches: [string, Doc][];
  positional: string[];
  rest: Doc;
}

/** A find `$slice` (n or [skip, limit]); anything else under `$slice` is the aggregation expression. */
function findSlice(v: unknown): number | [number, number] | undefined {
  if (!isPlainObject(v) || Object.keys(v).length !== 1 || !('$slice' in v)) return undefined;
  const s = v.$slice;
  if (typeof s === 'number') return s;
  if (Array.isArray(s) && s.length === 2 && s.every((x) => typeof x === 'number')) return [s[0] as number, s[1] as number];
  return undefined;
}

function split(projection: Doc): Special {
  const out: Special = { slices: [], elemMatches: [], positional: [], rest: {} };
  for (const [k, v] of Object.entries(projection)) {
    const slice = findSlice(v);
    if (slice !== undefined) out.slices.push([k, slice]);
    else if (isPlainObject(v) && Object.keys(v).length === 1 && isPlainObject(v.$elemMatch)) out.elemMatches.push([k, v.$elemMatch]);
    else if (k.endsWith('.$')) out.positional.push(k.slice(0, -2));
    else out.rest[k] = v;
  }
  if (out.positional.length > 1) throw new MongoCommandError(Codes.BadValue, 'Cannot specify more than one positional projection per query.');
  return out;
}

const isExclusion = (v: unknown): boolean => v === 0 || v === false;

function sliceArray(arr: unknown[], s: number | [number, number]): unknown[] {
  if (typeof s === 'number') return s >= 0 ? arr.slice(0, s) : arr.slice(Math.max(arr.length + s, 0));
  const [skip, limit] = s;
  if (limit <= 0) throw new MongoCommandError(Codes.BadValue, '$slice limit must be positive');
  const start = skip >= 0 ? skip : Math.max(arr.length + skip, 0);
  return arr.slice(start, start + limit);
}

/** Applies fn to the value at a dotted path of `doc` (through subdocuments; arrays by element). */
function updateAt(doc: unknown, parts: string[], fn: (v: unknown) => unknown): void {
  if (Array.isArray(doc)) {
    for (const el of doc) updateAt(el, parts, fn);
    return;
  }
  if (!isPlainObject(doc) || !(parts[0] in doc)) return;
  if (parts.length === 1) doc[parts[0]] = fn(doc[parts[0]]);
  else updateAt(doc[parts[0]], parts.slice(1), fn);
}

/** The stored document's field order, recursively; fields the projection computed come last. */
function reorder(result: Doc, original: Doc): Doc {
  const out: Doc = {};
  for (const k of Object.keys(original)) {
    if (!(k in result)) continue;
    const r = result[k];
    const o = original[k];
    out[k] = isPlainObject(r) && isPlainObject(o) ? reorder(r, o) : r;
  }
  for (const k of Object.keys(result)) if (!(k in out)) out[k] = result[k];
  return out;
}

/** Index of the first array element the query matched, for the positional projection `a.$`. */
function positionalIndex(doc: Doc, field: string, filter: Doc | undefined): number {
  const key = Object.keys(filter ?? {}).find((k) => k === field || k.startsWith(field + '.'));
  const arr = doc[field];
  if (key !== undefined && Array.isArray(arr)) {
    const m = compileFilter({ [key]: (filter as Doc)[key] });
    const i = arr.findIndex((el) => m({ [field]: [el] }));
    if (i >= 0) return i;
  }
  throw new MongoCommandError(51246, "Executor error during find command :: caused by :: positional operator '.$' couldn't find a matching element in the array", { codeName: 'Location51246' });
}

export function applyProjection(docs: Doc[], projection: unknown, filter?: Doc): Doc[] {
  if (projection === undefined || projection === null) return docs;
  if (!isPlainObject(projection)) throw new MongoCommandError(Codes.TypeMismatch, 'projection must be an object');
  if (Object.keys(projection).length === 0) return docs;
  const { slices, elemMatches, positional, rest } = split(projection);
  const restKeys = Object.keys(rest).filter((k) => k !== '_id');
  // The first field decides the kind, as in mongod; a later field of the other kind is an error.
  const firstExcludes = restKeys.length > 0 && isExclusion(rest[restKeys[0]]);
  const odd = restKeys.find((k) => isExclusion(rest[k]) !== firstExcludes);
  if (odd !== undefined) {
    throw firstExcludes
      ? new MongoCommandError(31253, `Cannot do inclusion on field ${odd} in exclusion projection`, { codeName: 'Location31253' })
      : new MongoCommandError(31254, `Cannot do exclusion on field ${odd} in inclusion projection`, { codeName: 'Location31254' });
  }
  const inclusion = restKeys.length ? !restKeys.every((k) => isExclusion(rest[k])) : positional.length > 0 || elemMatches.length > 0 || (slices.length === 0 && '_id' in rest && !isExclusion(rest._id));
  for (const p of positional) {
    if (p.includes('.')) throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support the positional projection on a nested path ('${p}.$')`);
  }
  const base: Doc = { ...rest };
  if (inclusion) for (const [k] of slices) base[k] = 1;
  const matchers = elemMatches.map(([k, cond]) => {
    const m = compileFilter({ [k]: { $elemMatch: cond } });
    return [k, (el: unknown) => m({ [k]: [el] })] as const;
  });
  let projected: Doc[];
  try {
    if (inclusion && Object.keys(base).every((k) => k === '_id')) {
      // Only find operators (positional, $elemMatch) besides _id: nothing else is kept.
      projected = docs.map((d) => (isExclusion(base._id) || d._id === undefined ? {} : { _id: cloneValue(d._id) }));
    } else {
      projected = Object.keys(base).length ? new Query({}, mingoOptions()).find<Doc>(docs, base).all() : docs.map((d) => cloneValue(d));
    }
  } catch (e) {
    throw translateMingoError(e, 'projection');
  }
  return projected.map((r, i) => {
    const original = docs[i];
    for (const [k, s] of slices) updateAt(r, k.split('.'), (v) => (Array.isArray(v) ? sliceArray(v, s) : v));
    for (const [k, test] of matchers) {
      delete r[k];
      const arr = original[k];
      const hit = Array.isArray(arr) ? arr.find(test) : undefined;
      if (hit !== undefined) r[k] = [cloneValue(hit)];
    }
    for (const p of positional) r[p] = [cloneValue((original[p] as unknown[])[positionalIndex(original, p, filter)])];
    return reorder(r, original);
  });
}
