// find, getMore, killCursors, count, distinct and aggregate.
import { Aggregator } from 'mingo/aggregator';
import { collectionName, getCollection, readStatement, type Ctx, type Handler } from '../context.js';
import { scan } from '../engine.js';
import { Codes, MongoCommandError } from '../errors.js';
import { applyProjection, compileFilter, evalLet, mingoOptions, sortDocs, translateMingoError, validateSort, withCollections } from '../query.js';
import type { Txn } from '../txn.js';
import { cloneDoc, compareValues, isPlainObject, keyOf, pathValues, type Doc } from '../values.js';
import { runWriteStage, splitWriteStage } from './aggregate-out.js';
import { checkCollation, checkHint } from './common.js';
import { fastGroup } from './fast-group.js';

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

export const find: Handler = (ctx) => {
  const name = collectionName(ctx);
  const b = ctx.body;
  for (const opt of refusedFindOptions) {
    if (b[opt] !== undefined && b[opt] !== false) throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support the find option '${opt}'`);
  }
  checkCollation(b.collation);
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
  checkHint(coll, b.hint);
  let docs = readStatement(ctx, (txn) => scan(txn, coll, filter, { limit: sort || !limit ? 0 : skip + limit, variables: letOf(ctx) }).map((h) => h.doc));
  if (sort) docs = sortDocs(docs, sort);
  if (skip) docs = docs.slice(skip);
  if (limit) docs = docs.slice(0, limit);
  docs = applyProjection(docs, b.projection);
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
  checkCollation(ctx.body.collation);
  const coll = getCollection(ctx, name);
  checkHint(coll, ctx.body.hint);
  const skip = intArg(ctx, 'skip') ?? 0;
  const limit = Math.abs(intArg(ctx, 'limit') ?? 0);
  const query = filterArg(ctx, 'query');
  let n = readStatement(ctx, (txn) => scan(txn, coll, query).length);
  n = Math.max(0, n - skip);
  if (limit) n = Math.min(n, limit);
  return { n };
};

export const distinct: Handler = (ctx) => {
  const name = collectionName(ctx);
  const key = ctx.body.key;
  if (typeof key !== 'string') throw new MongoCommandError(Codes.FailedToParse, "BSON field 'distinct.key' is missing but a required field");
  checkCollation(ctx.body.collation);
  const coll = getCollection(ctx, name);
  const query = filterArg(ctx, 'query');
  const docs = readStatement(ctx, (txn) => scan(txn, coll, query).map((h) => h.doc));
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
  return { values: [...seen.values()].sort(compareValues) };
};

/** Stages evaluated by mingo that the emulator supports. */
const supportedStages = new Set([
  '$match', '$group', '$sort', '$skip', '$limit', '$project', '$addFields', '$set', '$unset', '$unwind', '$lookup', '$count',
  '$facet', '$replaceRoot', '$replaceWith', '$sortByCount', '$bucket', '$bucketAuto', '$sample', '$redact', '$graphLookup',
  '$unionWith', '$setWindowFields', '$documents', '$densify', '$fill',
]);
/** Real MongoDB stages the emulator cannot run as MongoDB does. */
const refusedStages = new Set(['$collStats', '$indexStats', '$currentOp', '$listSessions', '$listLocalSessions', '$changeStream', '$geoNear', '$search', '$searchMeta', '$planCacheStats', '$vectorSearch', '$changeStreamSplitLargeEvent', '$listSearchIndexes', '$shardedDataDistribution', '$querySettings']);
/** Stages that never modify their input documents (no defensive copy needed). */
const readOnlyStages = new Set(['$match', '$group', '$sort', '$skip', '$limit', '$count', '$project', '$sortByCount', '$bucket', '$facet']);

function validatePipeline(pipeline: unknown[], nested = false): boolean {
  let mutates = false;
  pipeline.forEach((st, i) => {
    if (!isPlainObject(st) || Object.keys(st).length !== 1) {
      throw new MongoCommandError(Codes.Location40324, 'A pipeline stage specification object must contain exactly one field.', { codeName: 'Location40323' });
    }
    const name = Object.keys(st)[0];
    if (refusedStages.has(name)) throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support the aggregation stage ${name}`);
    if (!supportedStages.has(name)) throw new MongoCommandError(Codes.Location40324, `Unrecognized pipeline stage name: '${name}'`);
    if (name === '$documents' && (i !== 0 || nested)) throw new MongoCommandError(Codes.BadValue, '$documents is only valid as the first stage in a pipeline');
    if (!readOnlyStages.has(name)) mutates = true;
    if (name === '$facet' && isPlainObject(st.$facet)) {
      for (const sub of Object.values(st.$facet)) if (Array.isArray(sub) && validatePipeline(sub, true)) mutates = true;
    }
    if (name === '$match') compileFilter(st.$match);
    if (name === '$sort') validateSort(st.$sort);
  });
  return mutates;
}

/** Stages that only filter, order or reshape by inclusion never do arithmetic. */
const passiveStages = new Set(['$match', '$sort', '$skip', '$limit', '$count', '$unwind', '$lookup', '$sample']);
const computes = (pipeline: Doc[]): boolean => pipeline.some((st) => !passiveStages.has(Object.keys(st)[0]));

/** Another collection for $lookup/$unionWith/$graphLookup: copies, since mingo's stages may modify their input. */
function snapshotDocs(txn: Txn, ctx: Ctx, name: string): Doc[] {
  return scan(txn, ctx.state.store.collection(ctx.db, name), undefined).map((h) => cloneDoc(h.doc));
}

export const aggregate: Handler = async (ctx) => {
  const b = ctx.body;
  const target = b.aggregate;
  const dbLevel = target === 1;
  if (!dbLevel && typeof target !== 'string') throw new MongoCommandError(Codes.InvalidNamespace, "collection name has invalid type");
  if (!Array.isArray(b.pipeline)) throw new MongoCommandError(Codes.TypeMismatch, "'pipeline' option must be specified as an array");
  if (b.explain) throw new MongoCommandError(Codes.NotImplemented, 'The emulator does not support explain');
  if (!isPlainObject(b.cursor)) throw new MongoCommandError(Codes.FailedToParse, "The 'cursor' option is required, except for aggregate with the explain argument");
  checkCollation(b.collation);
  const { rest: pipeline, write } = splitWriteStage(b.pipeline as Doc[]);
  if (dbLevel && (!pipeline[0] || !('$documents' in pipeline[0]))) {
    throw new MongoCommandError(Codes.NotImplemented, "The emulator supports 'aggregate: 1' only with a leading $documents stage");
  }
  const mutates = validatePipeline(pipeline);
  const coll = dbLevel ? undefined : getCollection(ctx, target as string);
  checkHint(coll, b.hint);
  const batchSize = typeof (b.cursor as Doc).batchSize === 'number' ? ((b.cursor as Doc).batchSize as number) : undefined;

  const results = readStatement(ctx, (txn) => {
    let rest = pipeline;
    let input: Doc[] = [];
    if (!dbLevel) {
      // A leading $match is answered with the index planner, the rest by mingo.
      const first = pipeline[0];
      const filter = first && '$match' in first ? (first.$match as Doc) : undefined;
      if (filter) rest = pipeline.slice(1);
      input = scan(txn, coll, filter, { variables: letOf(ctx) }).map((h) => h.doc);
    }
    if (rest.length === 0) return input;
    // mingo's arithmetic ignores Decimal128 and wide Longs; refuse rather than answer differently.
    if (coll?.hasWideNumbers && computes(rest)) {
      throw new MongoCommandError(Codes.NotImplemented, 'The emulator does not support aggregation expressions over Decimal128 or 64-bit integers beyond 2^53');
    }
    const grouped = rest[0] && '$group' in rest[0] ? fastGroup(rest[0], input) : undefined;
    if (grouped) {
      if (rest.length === 1) return grouped;
      rest = rest.slice(1);
      input = grouped;
    } else if (mutates) input = input.map(cloneDoc);
    try {
      const agg = new Aggregator(rest, mingoOptions(letOf(ctx)));
      return withCollections((name) => snapshotDocs(txn, ctx, name), () => agg.run(input));
    } catch (e) {
      throw translateMingoError(e, 'aggregate');
    }
  });
  const ns = dbLevel ? `${ctx.db}.$cmd.aggregate` : `${ctx.db}.${target as string}`;
  if (write) {
    await runWriteStage(ctx, write, results);
    return ctx.state.cursors.first(ns, [], batchSize, true, ctx.session?.id);
  }
  return ctx.state.cursors.first(ns, results, batchSize, false, ctx.session?.id);
};
