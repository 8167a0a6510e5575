// $lookup in all its forms: localField/foreignField, pipeline (with let), and both together (MongoDB
// 5.0's concise correlated form). mingo runs the pipeline over the whole foreign collection whenever
// any key matches, compares keys with its own equality, and lets a sub-pipeline that sets nested
// fields modify the foreign documents it shares between input documents. MongoDB joins on the keys
// first (BSON equality, numbers of every width equal), then runs the pipeline over the matching
// foreign documents only, each input document on its own copies.
import { Aggregator } from 'mingo/aggregator';
import { evalExpr } from 'mingo/core';
import type { Iterator } from 'mingo/lazy';
import type { Options } from 'mingo/types';
import { collationOf, containsString } from './collation.js';
import { Codes, MongoCommandError } from './errors.js';
import { cloneDoc, isPlainObject, keyOf, pathValues, valuesEqual, type Doc } from './values.js';

/** mingo's prepared options (its internal ComputeOptions): copied per document to bind `let` variables. */
interface BoundOptions extends Options {
  update(locals: { root?: unknown; variables?: Doc }): BoundOptions;
}
type OptionsClass = { init(o: Options): BoundOptions };

/**
 * Values a local document joins on: the path's values, with top-level arrays traversed (nested
 * arrays stay whole values). Missing, or an empty array, joins like null (mongod's classic engine).
 */
function localValues(doc: Doc, path: string): unknown[] {
  const out: unknown[] = [];
  for (const v of pathValues(doc, path)) {
    if (!Array.isArray(v)) out.push(v);
    else if (v.length === 0) out.push(null);
    else out.push(...v);
  }
  return out;
}

/** Values under which a foreign document is found: like a query's {foreignField: value} (arrays match whole or by element). */
function foreignValues(doc: Doc, path: string): unknown[] {
  const out: unknown[] = [];
  for (const v of pathValues(doc, path)) {
    out.push(v);
    if (Array.isArray(v)) out.push(...v);
  }
  return out;
}

/** Sets a (possibly dotted) field on a copy of doc, creating sub-documents as MongoDB does for `as`. */
function withField(doc: Doc, path: string, value: unknown): Doc {
  const parts = path.split('.');
  const out: Doc = { ...doc };
  let cur = out;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = cur[parts[i]];
    const copy: Doc = isPlainObject(next) ? { ...next } : {};
    cur[parts[i]] = copy;
    cur = copy;
  }
  cur[parts[parts.length - 1]] = value;
  return out;
}

function joinCollection(spec: Doc, pipeline: Doc[], options: Options): { foreign: Doc[]; rest: Doc[] } {
  if (typeof spec.from === 'string') {
    const resolve = options.collectionResolver;
    if (!resolve) throw new MongoCommandError(Codes.NotImplemented, '$lookup cannot read other collections here');
    return { foreign: resolve(spec.from) as Doc[], rest: pipeline };
  }
  if (spec.from === undefined && pipeline[0] && '$documents' in pipeline[0]) {
    return { foreign: new Aggregator([pipeline[0]], options).run([{}]) as Doc[], rest: pipeline.slice(1) };
  }
  throw new MongoCommandError(Codes.FailedToParse, "$lookup requires 'from' (a collection name) or a pipeline starting with $documents");
}

export function lookupStage(coll: Iterator, expr: unknown, options: Options): Iterator {
  if (!isPlainObject(expr)) throw new MongoCommandError(Codes.FailedToParse, 'the $lookup specification must be an Object');
  const { localField, foreignField, as } = expr;
  const keyed = localField !== undefined || foreignField !== undefined;
  if (keyed && (typeof localField !== 'string' || typeof foreignField !== 'string')) {
    throw new MongoCommandError(Codes.FailedToParse, "$lookup requires both or neither of 'localField' and 'foreignField' to be specified, as strings");
  }
  if (typeof as !== 'string' || as.length === 0) throw new MongoCommandError(Codes.FailedToParse, "$lookup requires an 'as' field name");
  if (expr.pipeline !== undefined && !Array.isArray(expr.pipeline)) throw new MongoCommandError(Codes.FailedToParse, "$lookup 'pipeline' must be an array");
  if (!keyed && expr.pipeline === undefined) throw new MongoCommandError(Codes.FailedToParse, "$lookup requires either 'pipeline' or both 'localField' and 'foreignField'");
  if (expr.let !== undefined && !isPlainObject(expr.let)) throw new MongoCommandError(Codes.FailedToParse, "$lookup 'let' must be a document");
  const { foreign, rest } = joinCollection(expr, (expr.pipeline ?? []) as Doc[], options);

  // Foreign documents by join key (their positions, so matches keep the foreign collection's order).
  // Under a collation, keys holding strings are not binary-comparable: those foreign values are
  // kept in a list and compared one by one with the collation.
  const collation = collationOf(options);
  const byKey = new Map<string, number[]>();
  const collated: { i: number; v: unknown }[] = [];
  if (keyed) {
    foreign.forEach((doc, i) => {
      for (const v of foreignValues(doc, foreignField as string)) {
        if (collation && containsString(v)) {
          collated.push({ i, v });
          continue;
        }
        const k = keyOf(v);
        const list = byKey.get(k);
        if (list) list.push(i);
        else byKey.set(k, [i]);
      }
    });
  }
  // Copies for every local document: later stages (or the sub-pipeline) may modify them in place.
  const matches = (doc: Doc): Doc[] => {
    if (!keyed) return foreign.map(cloneDoc);
    const hit = new Set<number>();
    for (const v of localValues(doc, localField as string)) {
      if (collation && containsString(v)) {
        for (const c of collated) if (valuesEqual(v, c.v, collation)) hit.add(c.i);
      } else for (const i of byKey.get(keyOf(v)) ?? []) hit.add(i);
    }
    return [...hit].sort((a, b) => a - b).map((i) => cloneDoc(foreign[i]));
  };

  if (rest.length === 0) return coll.map((doc) => withField(doc as Doc, as, matches(doc as Doc)));
  const agg = new Aggregator(rest, options);
  const Bound = options.constructor as unknown as OptionsClass;
  const letExpr = (expr.let ?? {}) as Doc;
  return coll.map((doc) => {
    const joined = matches(doc as Doc);
    const variables = evalExpr(doc, letExpr, options) as Doc;
    const bound = Bound.init(options).update({ root: null, variables });
    // Runs even without matches, as in MongoDB (a $unionWith in it still contributes).
    return withField(doc as Doc, as, agg.run(joined, bound));
  });
}
