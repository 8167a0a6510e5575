// Aggregation pipelines: which stages are supported, and their evaluation over a collection or a
// view at the caller's snapshot. A view is resolved to its base collection with the view's pipeline
// in front of the caller's (views on views recursively), as mongod does; a leading $match is then
// answered with the index planner, the rest by mingo (or the direct $group evaluator).
import { Aggregator } from 'mingo/aggregator';
import type { Collation } from '../collation.js';
import type { Ctx } from '../context.js';
import { scanDocs } from '../engine.js';
import { Codes, MongoCommandError } from '../errors.js';
import { compileFilter, mingoOptions, translateMingoError, validateSort, withCollections } from '../query.js';
import type { Txn } from '../txn.js';
import { cloneDoc, isPlainObject, type Doc } from '../values.js';
import { hintedDocs, viewCollationError, type HintPlan } from './common.js';
import { fastGroup } from './fast-group.js';
import { checkListSessionsCommand, listLocalSessions, parseListSessionsSpec, STAGE as LIST_LOCAL_SESSIONS } from './local-sessions.js';

/** Stages evaluated by mingo that the emulator supports. */
const supportedStages = new Set([
  '$match', '$group', '$sort', '$skip', '$limit', '$project', '$addFields', '$set', '$unset', '$unwind', '$lookup', '$count',
  '$facet', '$replaceRoot', '$replaceWith', '$sortByCount', '$bucket', '$bucketAuto', '$sample', '$redact', '$graphLookup',
  '$unionWith', '$setWindowFields', '$documents', '$densify', '$fill', '$listLocalSessions',
]);
/** Real MongoDB stages the emulator cannot run as MongoDB does. */
const refusedStages = new Set(['$collStats', '$indexStats', '$currentOp', '$listSessions', '$changeStream', '$geoNear', '$search', '$searchMeta', '$planCacheStats', '$vectorSearch', '$changeStreamSplitLargeEvent', '$listSearchIndexes', '$shardedDataDistribution', '$querySettings']);
/** Stages that never modify their input documents (no defensive copy needed). */
const readOnlyStages = new Set(['$match', '$group', '$sort', '$skip', '$limit', '$count', '$project', '$sortByCount', '$bucket', '$facet']);
/** Stages that only filter, order or reshape by inclusion never do arithmetic. */
const passiveStages = new Set(['$match', '$sort', '$skip', '$limit', '$count', '$unwind', '$lookup', '$sample']);
/** mongod's maximum depth of views defined on views. */
const MAX_VIEW_DEPTH = 20;

const stageName = (st: Doc): string => Object.keys(st)[0];

/** Where a pipeline runs: on a collection (or view), as a database-level `aggregate: 1`, or inside $facet. */
export type PipelineScope = 'collection' | 'database' | 'facet';

/** Refuses unknown or unsupported stages and malformed $match/$sort before anything runs. */
export function validatePipeline(pipeline: unknown[], scope: PipelineScope = 'collection'): void {
  const nested = scope === 'facet';
  pipeline.forEach((st, i) => {
    if (!isPlainObject(st) || Object.keys(st).length !== 1) {
      throw new MongoCommandError(Codes.Location40324, 'A pipeline stage specification object must contain exactly one field.', { codeName: 'Location40323' });
    }
    const name = stageName(st);
    if (refusedStages.has(name)) throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support the aggregation stage ${name}`);
    if (!supportedStages.has(name)) throw new MongoCommandError(Codes.Location40324, `Unrecognized pipeline stage name: '${name}'`);
    if (name === '$documents' && (i !== 0 || nested)) throw new MongoCommandError(Codes.BadValue, '$documents is only valid as the first stage in a pipeline');
    if (name === LIST_LOCAL_SESSIONS) {
      // mongod's order: the namespace and the spec when the stage is parsed, its position after.
      if (scope === 'collection') throw new MongoCommandError(Codes.InvalidNamespace, `${LIST_LOCAL_SESSIONS} must be run against the database with {aggregate: 1}, not a collection`);
      parseListSessionsSpec(st[name]);
      if (nested) throw new MongoCommandError(40600, `${LIST_LOCAL_SESSIONS} is not allowed to be used within a $facet stage`, { codeName: 'Location40600' });
      if (i !== 0) throw new MongoCommandError(40602, `${LIST_LOCAL_SESSIONS} is only valid as the first stage in a pipeline`, { codeName: 'Location40602' });
    }
    if (name === '$facet' && isPlainObject(st.$facet)) {
      for (const sub of Object.values(st.$facet)) if (Array.isArray(sub)) validatePipeline(sub, 'facet');
    }
    if (name === '$match') compileFilter(st.$match);
    if (name === '$sort') validateSort(st.$sort);
  });
}

/** Whether a stage may modify its input documents in place (then the input is copied first). */
function mutates(pipeline: Doc[]): boolean {
  return pipeline.some((st) => {
    const name = stageName(st);
    if (name === '$facet' && isPlainObject(st.$facet)) return Object.values(st.$facet).some((sub) => Array.isArray(sub) && mutates(sub as Doc[]));
    return !readOnlyStages.has(name);
  });
}

const computes = (pipeline: Doc[]): boolean => pipeline.some((st) => !passiveStages.has(stageName(st)));

/**
 * Runs `pipeline` over collection or view `name` (undefined: a database-level aggregate, whose
 * pipeline starts with $documents or $listLocalSessions) as `txn` sees it. `variables` are the
 * command's `let`; `collation` (absent: binary) applies to every string comparison.
 */
/** `plan`: the command's hint, whose index order and coverage the collection scan follows. */
export function runPipeline(ctx: Ctx, txn: Txn, name: string | undefined, pipeline: Doc[], variables?: Doc, collation?: Collation, depth = 0, plan?: HintPlan): Doc[] {
  const store = ctx.state.store;
  const view = name === undefined ? undefined : store.view(ctx.db, name);
  if (view) {
    // A view's default collation is the simple one here (views with a collation are refused).
    if (collation) throw viewCollationError();
    if (depth >= MAX_VIEW_DEPTH) throw new MongoCommandError(Codes.ViewDepthLimitExceeded, `View depth too deep or view cycle detected; maximum depth is ${MAX_VIEW_DEPTH}`);
    return runPipeline(ctx, txn, view.viewOn, [...view.pipeline, ...pipeline], variables, collation, depth + 1);
  }
  const coll = name === undefined ? undefined : store.collection(ctx.db, name, ctx.txn);
  let rest = pipeline;
  let input: Doc[] = [];
  if (name !== undefined) {
    const first = pipeline[0];
    const filter = first && '$match' in first ? (first.$match as Doc) : undefined;
    if (filter) rest = pipeline.slice(1);
    input = hintedDocs(scanDocs(txn, coll, filter, { variables, collation }), plan, true);
  } else if (pipeline[0] && LIST_LOCAL_SESSIONS in pipeline[0]) {
    checkListSessionsCommand(ctx);
    input = listLocalSessions(ctx, pipeline[0][LIST_LOCAL_SESSIONS]);
    rest = pipeline.slice(1);
  }
  if (rest.length === 0) return input;
  const wide = !!coll?.hasWideNumbers;
  // The direct $group evaluator compares keys binary: not under a collation.
  const grouped = '$group' in rest[0] && !collation ? fastGroup(rest[0], input, wide) : undefined;
  if (grouped) {
    if (rest.length === 1) return grouped;
    rest = rest.slice(1);
    input = grouped;
  }
  // mingo's arithmetic ignores Decimal128 and wide Longs; refuse rather than answer differently.
  if (wide && computes(rest)) {
    throw new MongoCommandError(Codes.NotImplemented, 'The emulator does not support aggregation expressions over Decimal128 or 64-bit integer (long) values');
  }
  if (!grouped && mutates(rest)) input = input.map(cloneDoc);
  try {
    const agg = new Aggregator(rest, mingoOptions(variables, collation));
    // Other collections ($lookup, $unionWith, $graphLookup) at the same snapshot, as copies: mingo's
    // stages may modify their input. A view read under a non-simple collation fails as in mongod.
    const other = (n: string): Doc[] => runPipeline(ctx, txn, n, [], undefined, collation).map(cloneDoc);
    return withCollections(other, () => agg.run(input));
  } catch (e) {
    throw translateMingoError(e, 'aggregate');
  }
}
