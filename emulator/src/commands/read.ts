// find, getMore, killCursors, count, distinct and aggregate.
import { collectionName, getCollection, readStatement, type Ctx, type Handler } from '../context.js';
import { scanDocs } from '../engine.js';
import { Codes, MongoCommandError } from '../errors.js';
import type { Collation } from '../collation.js';
import { applyProjection } from '../projection.js';
import { evalLet, sortDocs, validateSort } from '../query.js';
import type { Txn } from '../txn.js';
import { compareValues, isPlainObject, keyOf, pathValues, type Doc } from '../values.js';
import { runWriteStage, splitWriteStage } from './aggregate-out.js';
import { checkHint, commandCollation, hintedDocs } from './common.js';
import { runPipeline, validatePipeline } from './pipeline.js';

const refusedFindOptions = ['tailable', 'awaitData', 'min', 'max', 'returnKey', 'showRecordId', 'oplogReplay'];

const letOf = (ctx: Ctx): Doc | undefined => (isPlainObject(ctx.body.let) ? evalLet(ctx.body.let) : undefined);

function intArg(ctx: Ctx, name: string): number | undefined {
  const v = ctx.body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new MongoCommandError(Codes.TypeMismatch, `BSON field '${ctx.cmd}.${name}' is the wrong type '${typeof v}', expected types '[long, int, decimal, double]'`);
  return Math.trunc(v);
}

function filterArg(ctx: Ctx, name: string): Doc | undefined {
  const v = ctx.body[name];
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) throw new MongoCommandError(Codes.TypeMismatch, `BSON field '${ctx.cmd}.${name}' is the wrong type, expected type 'object'`);
  return v;
}

/**
 * Documents of collection or view `name` that match `filter`, as `txn` sees them. A view is read
 * like mongod does: its pipeline followed by a $match.
 */
function matching(ctx: Ctx, txn: Txn, name: string, filter: Doc | undefined, opts: { limit?: number; variables?: Doc; collation?: Collation } = {}): Doc[] {
  if (ctx.state.store.view(ctx.db, name)) return runPipeline(ctx, txn, name, filter ? [{ $match: filter }] : [], opts.variables, opts.collation);
  return scanDocs(txn, getCollection(ctx, name), filter, opts);
}

export const find: Handler = (ctx) => {
  const name = collectionName(ctx);
  const b = ctx.body;
  for (const opt of refusedFindOptions) {
    if (b[opt] !== undefined && b[opt] !== false) throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support the find option '${opt}'`);
  }
  const collation = commandCollation(b.collation);
  const filter = filterArg(ctx, 'filter');
  const sort = b.sort !== undefined && b.sort !== null && Object.keys(b.sort as Doc).length ? validateSort(b.sort) : undefined;
  const skip = intArg(ctx, 'skip') ?? 0;
  let limit = intArg(ctx, 'limit') ?? 0;
  let batchSize = intArg(ctx, 'batchSize');
  let singleBatch = b.singleBatch === true;
  if (skip < 0) throw new MongoCommandError(Codes.BadValue, "BSON field 'skip' value must be >= 0, actual value '" + skip + "'");
  if (limit < 0) {
    limit = -limit;
    singleBatch = true;
  }
  if (batchSize !== undefined && batchSize < 0) throw new MongoCommandError(Codes.BadValue, "BSON field 'batchSize' value must be >= 0, actual value '" + batchSize + "'");
  const coll = getCollection(ctx, name);
  const plan = checkHint(coll, b.hint);
  let docs = readStatement(ctx, (txn) => matching(ctx, txn, name, filter, { limit: sort || !limit || plan ? 0 : skip + limit, variables: letOf(ctx), collation }));
  docs = hintedDocs(docs, plan, !sort);
  if (sort) docs = sortDocs(docs, sort, collation);
  if (skip) docs = docs.slice(skip);
  if (limit) docs = docs.slice(0, limit);
  docs = applyProjection(docs, b.projection, filter);
  if (limit && batchSize !== undefined && batchSize >= limit) batchSize = limit;
  return ctx.state.cursors.first(`${ctx.db}.${name}`, docs, batchSize, singleBatch, ctx.session?.id);
};

export const getMore: Handler = (ctx) => {
  const coll = ctx.body.collection;
  if (typeof coll !== 'string') throw new MongoCommandError(Codes.FailedToParse, "BSON field 'getMore.collection' is missing but a required field");
  return ctx.state.cursors.more(ctx.body.getMore, `${ctx.db}.${coll}`, intArg(ctx, 'batchSize'));
};

export const killCursors: Handler = (ctx) => {
  collectionName(ctx);
  const ids = ctx.body.cursors;
  if (!Array.isArray(ids)) throw new MongoCommandError(Codes.FailedToParse, "BSON field 'killCursors.cursors' is missing but a required field");
  return ctx.state.cursors.kill(ids);
};

export const count: Handler = (ctx) => {
  const name = collectionName(ctx);
  const collation = commandCollation(ctx.body.collation);
  const coll = getCollection(ctx, name);
  const plan = checkHint(coll, ctx.body.hint);
  const skip = intArg(ctx, 'skip') ?? 0;
  const limit = Math.abs(intArg(ctx, 'limit') ?? 0);
  const query = filterArg(ctx, 'query');
  let n = readStatement(ctx, (txn) => hintedDocs(matching(ctx, txn, name, query, { collation }), plan, false).length);
  n = Math.max(0, n - skip);
  if (limit) n = Math.min(n, limit);
  return { n };
};

export const distinct: Handler = (ctx) => {
  const name = collectionName(ctx);
  const key = ctx.body.key;
  if (typeof key !== 'string') throw new MongoCommandError(Codes.FailedToParse, "BSON field 'distinct.key' is missing but a required field");
  const collation = commandCollation(ctx.body.collation);
  const query = filterArg(ctx, 'query');
  const docs = readStatement(ctx, (txn) => matching(ctx, txn, name, query, { collation }));
  const seen = new Map<string, unknown>();
  for (const d of docs) {
    for (const v of pathValues(d, key)) {
      for (const x of Array.isArray(v) ? v : [v]) {
        if (x === undefined) continue;
        const k = keyOf(x);
        if (!seen.has(k)) seen.set(k, x);
      }
    }
  }
  return { values: collation ? distinctByCollation([...seen.values()], collation) : [...seen.values()].sort(compareValues) };
};

/**
 * Distinct values under a collation, in its order: values it deems equal ("PING", "ping" at
 * strength 2) are one, represented by the first one met, as mongod's collation-ordered set keeps.
 */
function distinctByCollation(values: unknown[], collation: Collation): unknown[] {
  // Array.prototype.sort is stable, so among equal values the first met stays first.
  const sorted = values.sort((a, b) => compareValues(a, b, collation));
  return sorted.filter((v, i) => i === 0 || compareValues(sorted[i - 1], v, collation) !== 0);
}

export const aggregate: Handler = async (ctx) => {
  const b = ctx.body;
  const target = b.aggregate;
  const dbLevel = target === 1;
  if (!dbLevel && typeof target !== 'string') throw new MongoCommandError(Codes.InvalidNamespace, "collection name has invalid type");
  if (!Array.isArray(b.pipeline)) throw new MongoCommandError(Codes.TypeMismatch, "'pipeline' option must be specified as an array");
  if (b.explain) throw new MongoCommandError(Codes.NotImplemented, 'The emulator does not support explain');
  if (!isPlainObject(b.cursor)) throw new MongoCommandError(Codes.FailedToParse, "The 'cursor' option is required, except for aggregate with the explain argument");
  const collation = commandCollation(b.collation);
  const { rest: pipeline, write } = splitWriteStage(b.pipeline as Doc[]);
  // A misplaced $listLocalSessions is left to validatePipeline (mongod's 40602).
  const has = (st: unknown, stage: string): boolean => isPlainObject(st) && stage in st;
  if (dbLevel && !has(pipeline[0], '$documents') && !pipeline.some((st) => has(st, '$listLocalSessions'))) {
    throw new MongoCommandError(Codes.NotImplemented, "The emulator supports 'aggregate: 1' only with a leading $documents or $listLocalSessions stage");
  }
  validatePipeline(pipeline, dbLevel ? 'database' : 'collection');
  // $merge matches documents through the target's unique index, whose collation is the simple one.
  if (collation && write?.kind === '$merge') throw new MongoCommandError(Codes.NotImplemented, 'The emulator does not support $merge with a non-simple collation');
  const coll = dbLevel ? undefined : getCollection(ctx, target as string);
  const plan = checkHint(coll, b.hint);
  const batchSize = typeof (b.cursor as Doc).batchSize === 'number' ? ((b.cursor as Doc).batchSize as number) : undefined;
  const variables = letOf(ctx);
  const results = readStatement(ctx, (txn) => runPipeline(ctx, txn, dbLevel ? undefined : (target as string), pipeline, variables, collation, 0, plan));
  const ns = dbLevel ? `${ctx.db}.$cmd.aggregate` : `${ctx.db}.${target as string}`;
  if (write) {
    await runWriteStage(ctx, write, results);
    return ctx.state.cursors.first(ns, [], batchSize, true, ctx.session?.id);
  }
  return ctx.state.cursors.first(ns, results, batchSize, false, ctx.session?.id);
};
