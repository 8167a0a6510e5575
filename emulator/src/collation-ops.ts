// mingo operators under a collation. mingo ignores the `collation` option (except in its own $sort,
// which the emulator replaces), so every operator whose answer depends on string comparison is
// wrapped: without a collation the wrapper calls mingo's operator unchanged; with one it either
// compares by the collation (expression $eq/$ne/$gt/$gte/$lt/$lte/$cmp/$in, $group keys) or, where
// the emulator does not reimplement the operator, refuses with NotImplemented as soon as a string
// is involved (so results never silently use binary comparison).
import { evalExpr } from 'mingo/core';
import { Lazy, type Iterator } from 'mingo/lazy';
import type { Options } from 'mingo/types';
import { collationOf, containsString, refuseUnderCollation, type Collation } from './collation.js';
import { MongoCommandError } from './errors.js';
import { compareValues, isPlainObject, type Doc } from './values.js';

export type ExprOp = (obj: unknown, expr: unknown, options: Options) => unknown;
export type AccOp = (coll: unknown[], expr: unknown, options: Options) => unknown;
export type StageOp = (coll: Iterator, expr: unknown, options: Options) => Iterator;

const literal = (args: unknown[]): unknown[] => args.map((v) => ({ $literal: v }));

/** Comparison expressions: by the collation when a string takes part, else mingo's own. */
const comparisons: Record<string, (c: number) => unknown> = {
  $eq: (c) => c === 0,
  $ne: (c) => c !== 0,
  $gt: (c) => c > 0,
  $gte: (c) => c >= 0,
  $lt: (c) => c < 0,
  $lte: (c) => c <= 0,
  $cmp: (c) => c,
};

/** Expressions that compare values internally and are not reimplemented: refused when strings meet a collation. */
const refusedExpressions = ['$indexOfArray', '$setEquals', '$setIntersection', '$setUnion', '$setDifference', '$setIsSubset', '$sortArray', '$minN', '$maxN'];

/** Accumulators (also usable as expressions) that compare values: refused when strings meet a collation. */
const refusedAccumulators = ['$min', '$max', '$addToSet', '$minN', '$maxN'];
/** Accumulators that sort by a sortBy document: always refused under a collation. */
const sortingAccumulators = ['$top', '$bottom', '$topN', '$bottomN'];

/** Stages that compare or order values in ways the emulator does not reimplement for collations. */
const refusedStages = ['$bucket', '$bucketAuto', '$setWindowFields', '$densify', '$fill', '$graphLookup'];

function compareOp(orig: ExprOp, decide: (c: number) => unknown): ExprOp {
  return (obj, expr, options) => {
    const coll = collationOf(options);
    if (!coll || !Array.isArray(expr) || expr.length !== 2) return orig(obj, expr, options);
    const args = evalExpr(obj, expr, options) as unknown[];
    if (!args.some(containsString)) return orig(obj, literal(args), options);
    return decide(compareValues(args[0], args[1], coll));
  };
}

function inOp(orig: ExprOp): ExprOp {
  return (obj, expr, options) => {
    const coll = collationOf(options);
    if (!coll || !Array.isArray(expr) || expr.length !== 2) return orig(obj, expr, options);
    const args = evalExpr(obj, expr, options) as unknown[];
    const [item, list] = args;
    if (!Array.isArray(list) || !containsString(args)) return orig(obj, literal(args), options);
    return list.some((v) => compareValues(item, v, coll) === 0);
  };
}

function refusingExpr(name: string, orig: ExprOp): ExprOp {
  return (obj, expr, options) => {
    if (collationOf(options) && containsString(evalExpr(obj, expr, options))) throw refuseUnderCollation(`the expression ${name} on strings`);
    return orig(obj, expr, options);
  };
}

function refusingAcc(name: string, orig: AccOp, always: boolean): AccOp {
  return (coll, expr, options) => {
    if (collationOf(options)) {
      if (always) throw refuseUnderCollation(`the accumulator ${name}`);
      // As an expression ({$max: [..]}) mingo passes the evaluated values and no expression.
      const values = expr === null || expr === undefined ? coll : coll.map((o) => evalExpr(o, expr, options));
      if (containsString(values)) throw refuseUnderCollation(`the accumulator ${name} on strings`);
    }
    return orig(coll, expr, options);
  };
}

/** Replacements for mingo's expression operators (only those present in `base`). */
export function expressionOverrides(base: Record<string, ExprOp>): Record<string, ExprOp> {
  const out: Record<string, ExprOp> = {};
  for (const [name, decide] of Object.entries(comparisons)) if (base[name]) out[name] = compareOp(base[name], decide);
  if (base.$in) out.$in = inOp(base.$in);
  for (const name of refusedExpressions) if (base[name]) out[name] = refusingExpr(name, base[name]);
  return out;
}

export function accumulatorOverrides(base: Record<string, AccOp>): Record<string, AccOp> {
  const out: Record<string, AccOp> = {};
  for (const name of refusedAccumulators) if (base[name]) out[name] = refusingAcc(name, base[name], false);
  for (const name of sortingAccumulators) if (base[name]) out[name] = refusingAcc(name, base[name], true);
  return out;
}

/** mingo's prepared options class (not exported): used to bind $group's per-group locals. */
interface BoundOptions extends Options {
  update(locals: { root?: unknown; groupId?: unknown }): BoundOptions;
}
type OptionsClass = { init(o: Options): BoundOptions };

interface Group {
  key: unknown;
  docs: unknown[];
}

/**
 * $group with keys compared by the collation (mongod: "PING" and "ping" are one group at strength
 * 2; the group keeps the first key seen). Accumulators are mingo's, applied per group as mingo does.
 */
function collatedGroup(items: unknown[], expr: Doc, options: Options, coll: Collation): unknown[] {
  const idExpr = expr._id;
  const sorted: Group[] = [];
  const order: Group[] = [];
  for (const item of items) {
    let key = evalExpr(item, idExpr, options);
    if (key === undefined) key = null;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareValues(sorted[mid].key, key, coll) < 0) lo = mid + 1;
      else hi = mid;
    }
    let g = sorted[lo];
    if (!g || compareValues(g.key, key, coll) !== 0) {
      g = { key, docs: [] };
      sorted.splice(lo, 0, g);
      order.push(g);
    }
    g.docs.push(item);
  }
  const Bound = options.constructor as unknown as OptionsClass;
  const fields = Object.keys(expr).filter((k) => k !== '_id');
  return order.map((g) => {
    const out: Doc = { _id: g.key };
    const bound = Bound.init(options).update({ root: null, groupId: g.key });
    for (const f of fields) out[f] = evalExpr(g.docs, expr[f], bound);
    return out;
  });
}

export function groupStage(orig: StageOp): StageOp {
  return (coll, expr, options) => {
    const collation = collationOf(options);
    if (!collation) return orig(coll, expr, options);
    if (!isPlainObject(expr) || !('_id' in expr)) throw new MongoCommandError(15955, 'a group specification must include an _id', { codeName: 'Location15955' });
    return coll.transform((items: unknown[]) => Lazy(collatedGroup(items, expr, options, collation)));
  };
}

export function stageOverrides(base: Record<string, StageOp>): Record<string, StageOp> {
  const out: Record<string, StageOp> = {};
  for (const name of refusedStages) {
    const orig = base[name];
    if (!orig) continue;
    out[name] = (coll, expr, options) => {
      if (collationOf(options)) throw refuseUnderCollation(`the stage ${name}`);
      return orig(coll, expr, options);
    };
  }
  if (base.$group) out.$group = groupStage(base.$group);
  return out;
}
