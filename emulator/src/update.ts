// Update documents: operator updates (evaluated by mingo after MongoDB's type checks, which mingo
// skips), replacements, pipeline updates, and the document an upsert inserts.
import { Aggregator } from 'mingo/aggregator';
import { update as mingoUpdate } from 'mingo/updater';
import { containsString, refuseUnderCollation, type Collation } from './collation.js';
import { Codes, MongoCommandError } from './errors.js';
import { mingoOptions, translateMingoError, updaterQueryOptions } from './query.js';
import { bsonTypeName, cloneDoc, getPath, hasWideNumber, isPlainObject, keyOf, numericValue, type Doc } from './values.js';
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

const hasPositional = (path: string): boolean => path.split('.').some((p) => p.startsWith('$'));

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
      refuseBinaryComparison(op, path, val, doc, coll);
      if (path === '_id' || path.startsWith('_id.')) {
        if (op !== '$set' && op !== '$setOnInsert' && op !== '$min' && op !== '$max') {
          throw new MongoCommandError(Codes.ImmutableField, `Performing an update on the path '_id' would modify the immutable field '_id'`);
        }
      }
      if (op === '$inc' || op === '$mul' || op === '$bit') {
        if (hasWideNumber(val) || hasWideNumber(hasPositional(path) ? undefined : getPath(doc, path))) {
          throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support ${op} on Decimal128 or 64-bit integers beyond 2^53 (field '${path}')`);
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
    seedPushTargets(out, ops);
    try {
      mingoUpdate(out, ops, opts.arrayFilters, opts.filter, { cloneMode: 'deep', queryOptions: updaterQueryOptions(opts.collation) });
    } catch (e) {
      throw translateUpdateError(e);
    }
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
        if (!('$eq' in v)) continue;
        val = v.$eq;
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
