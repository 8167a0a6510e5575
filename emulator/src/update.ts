// Update documents: operator updates (evaluated by mingo after MongoDB's type checks, which mingo
// skips), replacements, pipeline updates, and the document an upsert inserts.
import { Timestamp } from 'bson';
import { Aggregator } from 'mingo/aggregator';
import { update as mingoUpdate } from 'mingo/updater';
import { containsString, refuseUnderCollation, type Collation } from './collation.js';
import { Codes, MongoCommandError } from './errors.js';
import { compileFilter, mingoOptions, translateMingoError, updaterQueryOptions } from './query.js';
import { bsonTypeName, cloneDoc, getPath, hasWideNumber, isPlainObject, keyOf, numericValue, valuesEqual, type Doc } from './values.js';
import { formatValue } from './indexes.js';

const supportedOps = new Set(['$set', '$unset', '$inc', '$mul', '$min', '$max', '$rename', '$push', '$addToSet', '$pull', '$pullAll', '$pop', '$currentDate', '$bit', '$setOnInsert']);
const pipelineStages = new Set(['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith']);
const arrayOps = new Set(['$push', '$addToSet', '$pull', '$pullAll', '$pop']);

export type UpdateKind = 'operators' | 'replacement' | 'pipeline';

export function updateKind(u: unknown): UpdateKind {
  if (Array.isArray(u)) return 'pipeline';
  if (!isPlainObject(u)) throw new MongoCommandError(Codes.FailedToParse, 'Update argument must be either an object or an array');
  const keys = Object.keys(u);
  if (keys.length > 0 && keys[0].startsWith('$')) return 'operators';
  return 'replacement';
}

/** `$`, `$[]` or `$[id]`; other `$`-prefixed parts are ordinary (5.0+) field names. */
const isPositionalPart = (p: string): boolean => p === '$' || p.startsWith('$[');
const hasPositional = (path: string): boolean => path.split('.').some(isPositionalPart);

/**
 * Update operators that compare values (mongod applies the statement's collation to them). $pull
 * and $pullAll need nothing: mingo evaluates them with the emulator's collation-aware query operators.
 */
const comparingOps = new Set(['$addToSet', '$min', '$max']);

/** mingo compares these with binary equality/order; refused when a string meets a collation. */
function refuseBinaryComparison(op: string, path: string, val: unknown, doc: Doc, coll: Collation | undefined): void {
  if (!coll) return;
  const sorts = op === '$push' && isPlainObject(val) && '$sort' in val;
  if (!comparingOps.has(op) && !sorts) return;
  // A positional path's current value is not known here: assume it may hold strings.
  if (hasPositional(path) || containsString(val) || containsString(getPath(doc, path))) {
    throw refuseUnderCollation(`the update operator ${op}${sorts ? ' with $sort' : ''} on strings`);
  }
}

/** Checks mongod performs and mingo does not: operand and target types. */
function validateOperators(doc: Doc, u: Doc, coll?: Collation): void {
  const idDesc = `{_id: ${formatValue(doc._id)}}`;
  for (const [op, arg] of Object.entries(u)) {
    if (!supportedOps.has(op)) {
      throw new MongoCommandError(Codes.FailedToParse, `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
    }
    if (!isPlainObject(arg)) {
      throw new MongoCommandError(Codes.FailedToParse, `Modifiers operate on fields but we found type ${bsonTypeName(arg)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${formatValue(arg)}}`);
    }
    for (const [path, val] of Object.entries(arg)) {
      checkFieldNames(path);
      if (op === '$rename') checkRename(doc, path, val, idDesc);
      refuseBinaryComparison(op, path, val, doc, coll);
      refuseInheritedNames(path);
      if (op === '$rename' && typeof val === 'string') refuseInheritedNames(val);
      if (creatingOps.has(op) && !hasPositional(path)) checkViable(doc, path);
      if (op === '$rename' && typeof val === 'string') checkViable(doc, val);
      if (path === '_id' || path.startsWith('_id.')) {
        if (op !== '$set' && op !== '$setOnInsert' && op !== '$min' && op !== '$max') {
          throw new MongoCommandError(Codes.ImmutableField, `Performing an update on the path '_id' would modify the immutable field '_id'`);
        }
      }
      if (op === '$inc' || op === '$mul' || op === '$bit') {
        if (hasWideNumber(val) || hasWideNumber(hasPositional(path) ? undefined : getPath(doc, path))) {
          throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support ${op} on Decimal128 or 64-bit integer (long) values (field '${path}')`);
        }
      }
      if (op === '$inc' || op === '$mul') {
        if (numericValue(val) === undefined) {
          const verb = op === '$inc' ? 'increment' : 'multiply';
          throw new MongoCommandError(Codes.TypeMismatch, `Cannot ${verb} with non-numeric argument: {${path}: ${formatValue(val)}}`);
        }
      }
      if (hasPositional(path)) continue;
      const cur = getPath(doc, path);
      if ((op === '$inc' || op === '$mul') && cur !== undefined && numericValue(cur) === undefined) {
        const verb = op === '$inc' ? '$inc' : '$mul';
        throw new MongoCommandError(Codes.TypeMismatch, `Cannot apply ${verb} to a value of non-numeric type. ${idDesc} has the field '${path}' of non-numeric type ${bsonTypeName(cur)}`);
      }
      if (arrayOps.has(op) && cur !== undefined && !Array.isArray(cur)) {
        const msg = op === '$pull' || op === '$pullAll' ? 'Cannot apply $pull to a non-array value' : `The field '${path}' must be an array but is of type ${bsonTypeName(cur)} in document ${idDesc}`;
        throw new MongoCommandError(op === '$pull' || op === '$pullAll' ? Codes.BadValue : Codes.BadValue, msg);
      }
    }
  }
}

/** mongod's EmptyFieldName (56): mingo would create a field named '' instead. */
function checkFieldNames(path: string): void {
  if (path === '') throw new MongoCommandError(56, 'An empty update path is not valid.', { codeName: 'EmptyFieldName' });
  if (path.split('.').includes('')) throw new MongoCommandError(56, `The update path '${path}' contains an empty field name, which is not allowed.`, { codeName: 'EmptyFieldName' });
}

/** $rename moves fields of documents, never array elements (mingo would pad the array). */
function checkRename(doc: Doc, from: string, to: unknown, idDesc: string): void {
  if (typeof to !== 'string') throw new MongoCommandError(Codes.BadValue, `The 'to' field for $rename must be a string: ${from}: ${formatValue(to)}`);
  checkFieldNames(to);
  for (const [side, path] of [['source', from], ['destination', to]] as const) {
    if (hasPositional(path)) throw new MongoCommandError(Codes.BadValue, `The ${side} field for $rename may not be dynamic: ${path}`);
    const parts = path.split('.');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('.');
      if (Array.isArray(getPath(doc, prefix))) {
        throw new MongoCommandError(Codes.BadValue, `The ${side} field cannot be an array element, '${path}' in doc with ${idDesc.slice(1, -1)} has an array field called '${prefix}'`);
      }
    }
  }
}

/**
 * $currentDate as mongod: a date, or with {$type: "timestamp"} a BSON Timestamp (mingo stored the
 * milliseconds as a number). Rewritten to a $set of the value, taken once per update.
 */
function currentDateAsSet(ops: Doc): void {
  const cd = ops.$currentDate;
  if (!isPlainObject(cd)) return;
  const now = new Date();
  const set: Doc = isPlainObject(ops.$set) ? { ...ops.$set } : {};
  for (const [path, spec] of Object.entries(cd)) {
    if (Object.hasOwn(set, path)) throw new MongoCommandError(Codes.ConflictingUpdateOperators, `Updating the path '${path}' would create a conflict at '${path}'`);
    const type = isPlainObject(spec) ? spec.$type : spec === true ? 'date' : undefined;
    if (type === 'timestamp') set[path] = new Timestamp({ t: Math.floor(now.getTime() / 1000), i: nextTimestampIncrement() });
    else if (type === 'date') set[path] = now;
    else throw new MongoCommandError(Codes.BadValue, `The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}`);
  }
  delete ops.$currentDate;
  ops.$set = set;
}
let timestampIncrement = 0;
const nextTimestampIncrement = (): number => (timestampIncrement = (timestampIncrement % 0xffffffff) + 1);

/** Operators that create the field their path names when it is missing. */
const creatingOps = new Set(['$set', '$setOnInsert', '$inc', '$mul', '$min', '$max', '$push', '$addToSet', '$currentDate', '$bit']);

/**
 * mongod's PathNotViable (28): a path that must be created cannot go through an array by a field
 * name (`comments.body` with `comments` an array) or through a scalar. mingo would silently do
 * nothing (or set a property on the array).
 */
function checkViable(doc: Doc, path: string): void {
  const parts = path.split('.');
  let cur: unknown = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i];
    const next: unknown = Array.isArray(cur) ? (/^\d+$/.test(part) ? cur[Number(part)] : undefined) : (cur as Doc)[part];
    if (Array.isArray(cur) && !/^\d+$/.test(part)) return;
    if (next === undefined) return;
    const child = parts[i + 1];
    const traversable = isPlainObject(next) || (Array.isArray(next) && /^\d+$/.test(child));
    if (!traversable) {
      throw new MongoCommandError(Codes.PathNotViable, `Cannot create field '${child}' in element {${part}: ${formatValue(next)}}`);
    }
    cur = next;
  }
}

/**
 * Field names JavaScript objects inherit (`__proto__`, `constructor`, `toString`...) would make the
 * update engine walk into Object.prototype; MongoDB treats them as ordinary names. An update path
 * through such a name is refused rather than risked (inserts may still store such fields).
 */
const inherited = new Set(Object.getOwnPropertyNames(Object.prototype));
function refuseInheritedNames(path: string): void {
  for (const part of path.split('.')) {
    if (inherited.has(part)) {
      throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support update paths through the field name '${part}' (path '${path}')`);
    }
  }
}

/** mingo's $push on a missing field ignores $sort/$slice/$position; start from [] instead. */
function seedPushTargets(doc: Doc, u: Doc): void {
  const push = u.$push;
  if (!isPlainObject(push)) return;
  for (const [path, spec] of Object.entries(push)) {
    if (hasPositional(path) || getPath(doc, path) !== undefined) continue;
    if (isPlainObject(spec) && '$each' in spec) setPath(doc, path, []);
  }
}

function setPath(doc: Doc, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur: Doc = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = cur[parts[i]];
    if (!isPlainObject(next)) return;
    cur = next;
  }
  cur[parts[parts.length - 1]] = value;
}

function translateUpdateError(e: unknown): MongoCommandError {
  if (e instanceof MongoCommandError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const conflict = /updating the path '([^']*)' would create a conflict at '([^']*)'/i.exec(msg);
  if (conflict) return new MongoCommandError(Codes.ConflictingUpdateOperators, `Updating the path '${conflict[1]}' would create a conflict at '${conflict[2]}'`);
  if (/immutable field '_id'/.test(msg)) return new MongoCommandError(Codes.ImmutableField, msg.replace(/\.$/, ''));
  const unknown = /Unknown update operator: '(\$\w+)'/.exec(msg);
  if (unknown) return new MongoCommandError(Codes.FailedToParse, `Unknown modifier: ${unknown[1]}. Expected a valid update modifier or pipeline-style update specified as an array`);
  return translateMingoError(e, 'update');
}

export interface UpdateOptions {
  arrayFilters?: Doc[];
  /** The query filter, for the positional `$` operator. */
  filter?: Doc;
  /** True when building the document an upsert inserts ($setOnInsert applies). */
  inserting?: boolean;
  /** `let` variables (pipeline updates). */
  variables?: Doc;
  /** The statement's collation: for the filter's `$`, arrayFilters, $pull and pipeline expressions. */
  collation?: Collation;
}

/** Returns the updated copy of `doc`; `doc` itself is never mutated. */
export function applyUpdate(doc: Doc, u: unknown, opts: UpdateOptions = {}): Doc {
  const kind = updateKind(u);
  if (kind === 'replacement') return replacement(doc, u as Doc);
  if (kind === 'pipeline') return pipelineUpdate(doc, u as Doc[], opts.variables, opts.collation);
  const ops = { ...(u as Doc) };
  validateOperators(doc, ops, opts.collation);
  currentDateAsSet(ops);
  const onInsert = ops.$setOnInsert as Doc | undefined;
  delete ops.$setOnInsert;
  if (opts.inserting && onInsert && Object.keys(onInsert).length) {
    const set = isPlainObject(ops.$set) ? { ...ops.$set } : {};
    for (const [k, v] of Object.entries(onInsert)) {
      if (k in set) throw new MongoCommandError(Codes.ConflictingUpdateOperators, `Updating the path '${k}' would create a conflict at '${k}'`);
      set[k] = v;
    }
    ops.$set = set;
  }
  const out = cloneDoc(doc);
  if (Object.keys(ops).length === 0) return out;
  if (!simpleTopLevel(out, ops)) {
    checkConflicts(ops);
    const dollarFields = takeDollarFields(ops, opts.inserting === true);
    const pulls = takePulls(ops);
    const concrete = siblingPositionals(ops) ? expandPositionals(out, ops, opts) : ops;
    seedPushTargets(out, concrete);
    try {
      if (Object.keys(concrete).length) mingoUpdate(out, concrete, opts.arrayFilters, opts.filter, { cloneMode: 'deep', queryOptions: updaterQueryOptions(opts.collation) });
    } catch (e) {
      throw translateUpdateError(e);
    }
    for (const [path, spec] of pulls) applyPull(out, path, spec, opts.collation);
    for (const [field, v] of dollarFields) Object.defineProperty(out, field, { value: cloneDoc({ v }).v, enumerable: true, writable: true, configurable: true });
  }
  if (keyOf(out._id) !== keyOf(doc._id) && !opts.inserting) {
    throw new MongoCommandError(Codes.ImmutableField, `Performing an update on the path '_id' would modify the immutable field '_id'`);
  }
  return out;
}

/**
 * Fast path for $set/$inc/$unset on distinct top-level fields (the common case, e.g. bumping a
 * counter), applied in place to the copy; returns false to let mingo handle anything else.
 * Validation has already run (types, _id immutability).
 */
function simpleTopLevel(out: Doc, ops: Doc): boolean {
  const seen = new Set<string>();
  for (const [op, arg] of Object.entries(ops)) {
    if (op !== '$set' && op !== '$inc' && op !== '$unset') return false;
    for (const [path, v] of Object.entries(arg as Doc)) {
      if (path.includes('.') || path.startsWith('$') || path === '' || seen.has(path)) return false;
      if (op === '$inc' && typeof v !== 'number') return false;
      if (op === '$inc' && out[path] !== undefined && typeof out[path] !== 'number') return false;
      seen.add(path);
    }
  }
  for (const [op, arg] of Object.entries(ops)) {
    for (const [path, v] of Object.entries(arg as Doc)) {
      if (op === '$set') out[path] = cloneDoc({ v }).v;
      else if (op === '$unset') delete out[path];
      else out[path] = ((out[path] as number | undefined) ?? 0) + (v as number);
    }
  }
  return true;
}

/** The paths an operator update touches (with $rename's targets), for MongoDB's conflict rule. */
function touchedPaths(ops: Doc): string[] {
  const out: string[] = [];
  for (const [op, arg] of Object.entries(ops)) {
    for (const [path, v] of Object.entries(arg as Doc)) {
      out.push(path);
      if (op === '$rename' && typeof v === 'string') out.push(v);
    }
  }
  return out;
}

/**
 * Two paths conflict when one is the other or a prefix of it (positional parts compared as
 * written, as mongod does): code 40. mingo's own check compares only the part before the first
 * positional, so `children.$.name` and `children.$.updatedAt` looked like one path to it.
 */
function checkConflicts(ops: Doc): void {
  const paths = touchedPaths(ops);
  for (let i = 0; i < paths.length; i++) {
    for (let j = 0; j < paths.length; j++) {
      const a = paths[i];
      const b = paths[j];
      if (i !== j && (a === b || b.startsWith(a + '.'))) throw new MongoCommandError(Codes.ConflictingUpdateOperators, `Updating the path '${b}' would create a conflict at '${a}'`);
    }
  }
}

/**
 * Top-level `$`-prefixed fields in $set/$setOnInsert: MongoDB (5.0+) accepts them when an upsert
 * inserts and refuses them for an existing document (not valid for storage, 52). mingo refuses
 * both, so they are taken out and set by the emulator.
 */
function takeDollarFields(ops: Doc, inserting: boolean): [string, unknown][] {
  const taken: [string, unknown][] = [];
  for (const op of ['$set', '$setOnInsert']) {
    if (!isPlainObject(ops[op])) continue;
    // A copy: the statement's own object is shared by every document a multi update changes.
    const arg = { ...(ops[op] as Doc) };
    ops[op] = arg;
    for (const [path, v] of Object.entries(arg)) {
      if (!path.startsWith('$') || isPositionalPart(path.split('.')[0])) continue;
      if (path.includes('.')) throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support update paths below a $-prefixed top-level field ('${path}')`);
      if (!inserting) throw new MongoCommandError(Codes.DollarPrefixedFieldName, `The dollar ($) prefixed field '${path}' in '${path}' is not valid for storage.`);
      taken.push([path, v]);
      delete arg[path];
    }
    if (Object.keys(arg).length === 0) delete ops[op];
  }
  return taken;
}

/**
 * $pull on plain (non-positional) paths, taken out of mingo's hands: mingo treats a condition
 * with any operator key ({$or: [...]}) as a condition on the element itself and so removes
 * nothing. mongod's rule: a document whose first key is a path operator ($gt, $in, $elemMatch...)
 * is a condition on each element; any other document (also with $or/$and/$nor) is a query each
 * subdocument element must match; other values are compared for equality.
 */
function takePulls(ops: Doc): [string, unknown][] {
  if (!isPlainObject(ops.$pull)) return [];
  const pull = { ...ops.$pull };
  ops.$pull = pull;
  const taken: [string, unknown][] = [];
  for (const [path, spec] of Object.entries(pull)) {
    if (hasPositional(path)) {
      if (isPlainObject(spec) && ['$or', '$and', '$nor'].includes(Object.keys(spec)[0] ?? '')) {
        throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support $pull with a logical operator condition on a positional path ('${path}')`);
      }
      continue;
    }
    taken.push([path, spec]);
    delete pull[path];
  }
  if (Object.keys(pull).length === 0) delete ops.$pull;
  return taken;
}

const pathOperators = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$type', '$size', '$all', '$elemMatch', '$regex', '$options', '$not', '$mod', '$bitsAllSet', '$bitsAnySet', '$bitsAllClear', '$bitsAnyClear']);

function applyPull(doc: Doc, path: string, spec: unknown, coll?: Collation): void {
  const parts = path.split('.');
  let parent: unknown = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i];
    parent = Array.isArray(parent) ? (/^\d+$/.test(part) ? parent[Number(part)] : undefined) : isPlainObject(parent) ? parent[part] : undefined;
    if (parent === undefined || parent === null) return;
  }
  const last = parts[parts.length - 1];
  const container = parent as Doc & unknown[];
  const arr = Array.isArray(container) ? (/^\d+$/.test(last) ? container[Number(last)] : undefined) : isPlainObject(container) ? container[last] : undefined;
  if (arr === undefined) return;
  if (!Array.isArray(arr)) throw new MongoCommandError(Codes.BadValue, 'Cannot apply $pull to a non-array value');
  let test: (el: unknown) => boolean;
  if (isPlainObject(spec) && pathOperators.has(Object.keys(spec)[0] ?? '')) {
    const m = compileFilter({ k: spec }, undefined, coll);
    test = (el) => m({ k: el });
  } else if (isPlainObject(spec)) {
    const m = compileFilter(spec, undefined, coll);
    test = (el) => isPlainObject(el) && m(el);
  } else if (spec instanceof RegExp) {
    test = (el) => typeof el === 'string' && spec.test(el);
  } else {
    test = (el) => valuesEqual(el, spec, coll);
  }
  const kept = arr.filter((el) => !test(el));
  if (kept.length !== arr.length) container[last as unknown as number] = kept;
}

/** Two paths with the same part before their first positional: mingo would see a conflict. */
function siblingPositionals(ops: Doc): boolean {
  const heads = new Set<string>();
  for (const path of touchedPaths(ops)) {
    const parts = path.split('.');
    const at = parts.findIndex(isPositionalPart);
    if (at < 0) continue;
    const head = parts.slice(0, at).join('.');
    if (heads.has(head)) return true;
    heads.add(head);
  }
  return false;
}

/**
 * Rewrites positional paths ($, $[], $[id]) to the concrete element indexes they address, all
 * resolved on the document before the update (as mongod does), so sibling positional paths are
 * applied as distinct paths.
 */
function expandPositionals(doc: Doc, ops: Doc, opts: UpdateOptions): Doc {
  const filters = new Map<string, (el: unknown) => boolean>();
  for (const f of opts.arrayFilters ?? []) {
    const id = Object.keys(f)[0]?.split('.')[0];
    if (!id) continue;
    const m = compileFilter(f, undefined, opts.collation);
    filters.set(id, (el) => m({ [id]: el }));
  }
  const positionOf = (field: string, arr: unknown[]): number => {
    const cond = opts.filter ?? {};
    const key = Object.keys(cond).find((k) => k === field || k.startsWith(field + '.'));
    if (key === undefined) throw new MongoCommandError(Codes.BadValue, 'The positional operator did not find the match needed from the query.');
    const m = compileFilter({ [key]: cond[key] }, undefined, opts.collation);
    const i = arr.findIndex((el) => m({ [field]: [el] }));
    if (i < 0) throw new MongoCommandError(Codes.BadValue, 'The positional operator did not find the match needed from the query.');
    return i;
  };
  const expand = (path: string): string[] => {
    let out: string[] = [''];
    for (const part of path.split('.')) {
      const next: string[] = [];
      for (const prefix of out) {
        const join = (p: string | number): string => (prefix ? `${prefix}.${p}` : String(p));
        if (!isPositionalPart(part)) {
          next.push(join(part));
          continue;
        }
        const arr = getPath(doc, prefix);
        if (!Array.isArray(arr)) throw new MongoCommandError(Codes.BadValue, `The path '${prefix}' must exist in the document in order to apply array updates.`);
        if (part === '$') next.push(join(positionOf(prefix, arr)));
        else if (part === '$[]') arr.forEach((_, i) => next.push(join(i)));
        else {
          const test = filters.get(part.slice(2, -1));
          if (!test) throw new MongoCommandError(Codes.BadValue, `No array filter found for identifier '${part.slice(2, -1)}' in path '${path}'`);
          arr.forEach((el, i) => test(el) && next.push(join(i)));
        }
      }
      out = next;
    }
    return out;
  };
  const result: Doc = {};
  for (const [op, arg] of Object.entries(ops)) {
    const concrete: Doc = {};
    for (const [path, v] of Object.entries(arg as Doc)) for (const p of expand(path)) concrete[p] = v;
    if (Object.keys(concrete).length) result[op] = concrete;
  }
  return result;
}

function replacement(doc: Doc, r: Doc): Doc {
  for (const k of Object.keys(r)) {
    if (k.startsWith('$')) throw new MongoCommandError(Codes.DollarPrefixedFieldName, `The dollar ($) prefixed field '${k}' in '${k}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`);
  }
  if ('_id' in r && doc._id !== undefined && keyOf(r._id) !== keyOf(doc._id)) {
    throw new MongoCommandError(Codes.ImmutableField, `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${formatValue(r._id)}`);
  }
  const { _id: _ignored, ...rest } = cloneDoc(r);
  return doc._id === undefined ? { ...cloneDoc(r) } : { _id: doc._id, ...rest };
}

function pipelineUpdate(doc: Doc, stages: Doc[], variables?: Doc, collation?: Collation): Doc {
  for (const st of stages) {
    const name = isPlainObject(st) ? Object.keys(st)[0] : undefined;
    if (!name || !pipelineStages.has(name)) {
      throw new MongoCommandError(Codes.InvalidOptions, `${name ?? 'stage'} is not allowed to be used within an update`);
    }
  }
  let out: Doc[];
  try {
    out = new Aggregator(stages, mingoOptions(variables, collation)).run([cloneDoc(doc)]);
  } catch (e) {
    throw translateMingoError(e, 'aggregate');
  }
  const res = out[0] ?? {};
  // A pipeline that drops _id (e.g. $replaceRoot) keeps the original one, as in mongod.
  if (res._id === undefined) return doc._id === undefined ? res : { _id: doc._id, ...res };
  if (doc._id !== undefined && keyOf(res._id) !== keyOf(doc._id)) {
    throw new MongoCommandError(Codes.ImmutableField, `Performing an update on the path '_id' would modify the immutable field '_id'`);
  }
  return { _id: res._id, ...res };
}

/** Equality fields of an upsert's filter: the seed of the inserted document. */
export function upsertSeed(filter: Doc | undefined): Doc {
  const seed: Doc = {};
  const visit = (f: Doc): void => {
    for (const [k, v] of Object.entries(f)) {
      if (k === '$and' && Array.isArray(v)) {
        for (const sub of v) if (isPlainObject(sub)) visit(sub);
        continue;
      }
      if (k.startsWith('$')) continue;
      let val: unknown = v;
      if (isPlainObject(v) && Object.keys(v).some((x) => x.startsWith('$'))) {
        // mongod's optimizer turns a one-value $in into an equality, which then seeds the upsert.
        if ('$eq' in v) val = v.$eq;
        else if (Array.isArray(v.$in) && v.$in.length === 1) val = v.$in[0];
        else continue;
      }
      if (val instanceof RegExp) continue;
      setDotted(seed, k, cloneDoc({ v: val }).v);
    }
  };
  if (filter) visit(filter);
  return seed;
}

function setDotted(doc: Doc, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = cur[parts[i]];
    if (!isPlainObject(next)) cur[parts[i]] = {};
    cur = cur[parts[i]] as Doc;
  }
  cur[parts[parts.length - 1]] = value;
}
