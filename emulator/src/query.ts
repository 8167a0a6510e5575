// Query matching, sorting and projection. mingo evaluates the operators; the comparison operators
// and $sort are replaced by BSON-aware versions (see README "mingo differences") so that numbers of
// every BSON width compare equal, type bracketing holds and the cross-type order is MongoDB's.
import { Aggregator } from 'mingo/aggregator';
import { Context, evalExpr } from 'mingo/core';
import { Lazy, type Iterator } from 'mingo/lazy';
import * as accumulatorOps from 'mingo/operators/accumulator';
import * as expressionOps from 'mingo/operators/expression';
import * as pipelineOps from 'mingo/operators/pipeline';
import * as projectionOps from 'mingo/operators/projection';
import * as mingoQueryOps from 'mingo/operators/query';
import * as windowOps from 'mingo/operators/window';
import { Query } from 'mingo/query';
import type { Options, PipelineOperator, QueryOperator } from 'mingo/types';
import { collationOf, containsString, refuseUnderCollation, type Collation } from './collation.js';
import { accumulatorOverrides, expressionOverrides, groupStage, stageOverrides, type AccOp, type ExprOp, type StageOp } from './collation-ops.js';
import { Codes, MongoCommandError } from './errors.js';
import { lookupStage } from './lookup.js';
import { jsonSchemaValidator } from './schema.js';
import { compareValues, hasBsonType, isPlainObject, keyOf, pathValues, typeAlias, typeRank, valuesEqual, type Doc } from './values.js';

export type Matcher = (doc: Doc) => boolean;

/** Values a query path reaches, plus the elements of arrays reached (MongoDB's implicit array match). */
function candidates(doc: Doc, path: string): unknown[] {
  const out: unknown[] = [];
  for (const v of pathValues(doc, path)) {
    out.push(v);
    if (Array.isArray(v)) out.push(...v);
  }
  return out;
}

const eqMatch = (doc: Doc, path: string, value: unknown, coll?: Collation): boolean => {
  for (const v of candidates(doc, path)) if (valuesEqual(v, value, coll)) return true;
  return false;
};

/** Above this many values an $in list is matched through a hash set of canonical keys. */
const IN_SET_THRESHOLD = 8;

/**
 * $in: equality with any listed value (keyOf equality is BSON equality), or a regex match. Long
 * lists go through a set, so matching costs O(1) per value instead of O(list). Under a collation,
 * keyOf equality is binary for strings, so lists holding strings are compared one by one.
 */
function inMatcher(values: unknown[], coll?: Collation): (cands: unknown[]) => boolean {
  const regexes = values.filter((v): v is RegExp => v instanceof RegExp);
  const plain = values.filter((v) => !(v instanceof RegExp));
  const matchRegex = (cands: unknown[]): boolean => regexes.some((r) => cands.some((v) => typeof v === 'string' && r.test(v)));
  if (coll && plain.some(containsString)) {
    return (cands) => plain.some((r) => cands.some((v) => valuesEqual(v, r, coll))) || matchRegex(cands);
  }
  if (plain.length > IN_SET_THRESHOLD) {
    const keys = new Set(plain.map(keyOf));
    return (cands) => cands.some((v) => keys.has(keyOf(v))) || matchRegex(cands);
  }
  return (cands) => plain.some((r) => cands.some((v) => valuesEqual(v, r))) || matchRegex(cands);
}

const requireArray = (op: string, value: unknown): unknown[] => {
  if (!Array.isArray(value)) throw new MongoCommandError(Codes.BadValue, `${op} needs an array`);
  return value;
};

type QueryOpImpl = (selector: string, value: unknown, options: Options) => (obj: Doc) => boolean;

const rangeOp =
  (test: (c: number) => boolean): QueryOpImpl =>
  (selector, value, options) => {
    const coll = collationOf(options);
    const rank = typeRank(value);
    return (doc) => {
      for (const v of candidates(doc, selector)) if (typeRank(v) === rank && test(compareValues(v, value, coll))) return true;
      return false;
    };
  };

/** Number subtypes that the decoder does not keep for integral values (see refuseLostNumberType). */
const numberSubtypes = new Set(['int', 'long', 'double']);

/**
 * Documents arrive decoded with the driver's defaults: int32, int64 within 2^53 and doubles become
 * JS numbers, and an integral one is stored again as int32. For such a value the original BSON
 * type (int, long or double) is unknown, so a $type test for one of them is refused rather than
 * answered from a guess. Non-integral numbers are doubles, and wrapped values keep their type.
 */
function refuseLostNumberType(x: unknown): void {
  if (typeof x === 'number' && Number.isInteger(x)) {
    throw new MongoCommandError(Codes.NotImplemented, "The emulator does not keep whether an integral number was stored as int, long or double: $type 'int', 'long' and 'double' cannot be answered for it");
  }
}

/** $type with every BSON type name/number (mingo lacks objectId, binData, timestamp...). */
const typeOp: QueryOpImpl = (selector, value) => {
  const wanted = (Array.isArray(value) ? value : [value]).map((t) => {
    const alias = typeAlias(t);
    if (!alias) throw new MongoCommandError(Codes.BadValue, `Unknown type name alias: ${String(t)}`);
    return alias;
  });
  const subtypes = wanted.some((w) => numberSubtypes.has(w));
  return (doc) => {
    for (const v of pathValues(doc, selector)) {
      const vals = Array.isArray(v) ? [v, ...v] : [v];
      for (const x of vals) {
        if (subtypes) refuseLostNumberType(x);
        if (wanted.some((w) => (w === 'array' ? Array.isArray(x) : hasBsonType(x, w)))) return true;
      }
    }
    return false;
  };
};

const mingoQuery = mingoQueryOps as unknown as Record<string, QueryOpImpl>;

/**
 * $all: MongoDB's meaning, a conjunction of one condition per listed value (equality, regex or
 * $elemMatch), each evaluated with the command's collation; so on a non-array field it is equality
 * with each value. (mingo's own $all matches only arrays.)
 */
const allOp: QueryOpImpl = (selector, value, options) => {
  const list = requireArray('$all', value);
  if (list.length === 0) return () => false;
  const tests = list.map((v) => new Query({ [selector]: v }, options));
  return (doc) => tests.every((q) => q.test(doc));
};

/** DBRef field names: inside $elemMatch they are fields of the element, not operators. */
const dbRefFields = new Set(['$id', '$ref', '$db']);

/**
 * The fields of a DBRef as stored: the BSON decoder turns every {$ref, $id[, $db]} document
 * (stored elements and query values alike) into a DBRef instance.
 */
function dbRefEntries(v: unknown): Doc | undefined {
  if (isPlainObject(v)) return v;
  if (v === null || typeof v !== 'object' || (v as { _bsontype?: string })._bsontype !== 'DBRef') return undefined;
  const r = v as { collection: string; oid: unknown; db?: string; fields?: Doc };
  return { $ref: r.collection, $id: r.oid, ...(r.db ? { $db: r.db } : {}), ...r.fields };
}

/**
 * $elemMatch whose condition names DBRef fields ({$elemMatch: {$id: x}}): each key is a condition
 * on that field of an element. mingo takes `$id` for an unknown operator; other shapes are mingo's.
 */
const elemMatchOp: QueryOpImpl = (selector, value, options) => {
  const spec = dbRefEntries(value);
  if (!spec || !Object.keys(spec).some((k) => dbRefFields.has(k))) return mingoQuery.$elemMatch(selector, value, options);
  const tests = Object.entries(spec).map(([k, cond]): Matcher => {
    if (dbRefFields.has(k)) {
      const q = new Query({ f: cond }, options);
      return (el) => q.test({ f: el[k] });
    }
    const q = new Query({ [k]: cond }, options);
    return (el) => q.test(el);
  });
  return (doc) => {
    for (const v of pathValues(doc, selector)) {
      if (!Array.isArray(v)) continue;
      for (const el of v) {
        const fields = dbRefEntries(el);
        if (fields && tests.every((t) => t(fields))) return true;
      }
    }
    return false;
  };
};

/** Operators the emulator does not evaluate: refused (238), never answered differently. */
const refusedQueryOp =
  (op: string, why: string): QueryOpImpl =>
  () => {
    throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support the query operator ${op} (${why})`);
  };

const queryOps: Record<string, QueryOpImpl> = {
  $where: refusedQueryOp('$where', 'no server-side JavaScript'),
  $geoWithin: refusedQueryOp('$geoWithin', 'no geospatial queries'),
  $geoIntersects: refusedQueryOp('$geoIntersects', 'no geospatial queries'),
  $near: refusedQueryOp('$near', 'no geospatial queries'),
  $nearSphere: refusedQueryOp('$nearSphere', 'no geospatial queries'),
  $text: refusedQueryOp('$text', 'no text indexes'),
  $elemMatch: elemMatchOp,
  $type: typeOp,
  $eq: (selector, value, options) => {
    const coll = collationOf(options);
    return (doc) => eqMatch(doc, selector, value, coll);
  },
  $ne: (selector, value, options) => {
    const coll = collationOf(options);
    return (doc) => !eqMatch(doc, selector, value, coll);
  },
  $in: (selector, value, options) => {
    const test = inMatcher(requireArray('$in', value), collationOf(options));
    return (doc) => test(candidates(doc, selector));
  },
  $nin: (selector, value, options) => {
    const test = inMatcher(requireArray('$nin', value), collationOf(options));
    return (doc) => !test(candidates(doc, selector));
  },
  $all: allOp,
  // The schema's enum/pattern checks compare binary here; whether mongod applies the command's
  // collation to them is not reproduced, so $jsonSchema is refused under a non-simple collation.
  $jsonSchema: (selector, value, options) => {
    if (collationOf(options)) throw refuseUnderCollation('$jsonSchema');
    return mingoQuery.$jsonSchema(selector, value, options);
  },
  $gt: rangeOp((c) => c > 0),
  $gte: rangeOp((c) => c >= 0),
  $lt: rangeOp((c) => c < 0),
  $lte: rangeOp((c) => c <= 0),
};

export type SortSpec = Record<string, 1 | -1>;

/** Sort key of one field: arrays sort by their smallest element ascending, largest descending. */
function sortKey(doc: Doc, path: string, dir: 1 | -1, coll?: Collation): unknown {
  const vals: unknown[] = [];
  for (const v of pathValues(doc, path)) {
    if (Array.isArray(v)) vals.push(...(v.length ? v : [undefined]));
    else vals.push(v);
  }
  let best = vals[0];
  for (let i = 1; i < vals.length; i++) {
    const c = compareValues(vals[i], best, coll);
    if ((dir === 1 && c < 0) || (dir === -1 && c > 0)) best = vals[i];
  }
  return best;
}

export function validateSort(spec: unknown): SortSpec {
  if (!isPlainObject(spec)) throw new MongoCommandError(Codes.TypeMismatch, 'sort must be an object');
  const out: SortSpec = {};
  for (const [k, v] of Object.entries(spec)) {
    const n = typeof v === 'number' ? v : NaN;
    if (n !== 1 && n !== -1) {
      if (isPlainObject(v) && '$meta' in v) throw new MongoCommandError(Codes.NotImplemented, `$meta sort on '${k}' is not supported by the emulator`);
      throw new MongoCommandError(Codes.BadValue, `$sort key ordering must be 1 (for ascending) or -1 (for descending)`);
    }
    out[k] = n;
  }
  return out;
}

/** Stable sort by a sort specification; strings by the collation when one is given. */
export function sortDocs<T extends Doc>(docs: T[], spec: SortSpec, coll?: Collation): T[] {
  const fields = Object.entries(spec);
  // Decorate once: computing sort keys inside the comparator would redo path walks n log n times.
  const decorated = docs.map((d, i) => ({ d, i, k: fields.map(([f, dir]) => sortKey(d, f, dir, coll)) }));
  decorated.sort((a, b) => {
    for (let j = 0; j < fields.length; j++) {
      const c = compareValues(a.k[j], b.k[j], coll);
      if (c !== 0) return c * fields[j][1];
    }
    return a.i - b.i;
  });
  return decorated.map((x) => x.d);
}

const sortStage = (coll: Iterator, expr: unknown, options?: Options): Iterator => {
  const spec = validateSort(expr);
  const collation = collationOf(options);
  return coll.transform((items: unknown[]) => Lazy(sortDocs(items as Doc[], spec, collation)));
};

const mingoPipeline = pipelineOps as unknown as Record<string, StageOp>;
const collatedGroup = groupStage(mingoPipeline.$group);

/** $sortByCount is mingo's own $group + $sort, which know no collation: ours under one. */
const sortByCountStage: StageOp = (coll, expr, options) => {
  if (!collationOf(options)) return mingoPipeline.$sortByCount(coll, expr, options);
  return sortStage(collatedGroup(coll, { _id: expr, count: { $sum: 1 } }, options), { count: -1 }, options);
};

const expressionTable = expressionOps as unknown as Record<string, ExprOp>;
const accumulatorTable = accumulatorOps as unknown as Record<string, AccOp>;
const collationExpressions = expressionOverrides(expressionTable);

// One context with every mingo operator and our replacements, built once. (mingo's top-level
// Query/Aggregator merge contexts on every construction, and the merge keeps mingo's own operators
// over the ones passed in, so replacements there would be silently ignored.)
type Ops<T> = Record<`$${string}`, T>;
type InitOps = NonNullable<Parameters<typeof Context.init>[0]>;
export const emulatorContext = Context.init({
  accumulator: { ...accumulatorTable, ...accumulatorOverrides(accumulatorTable) } as unknown as InitOps['accumulator'],
  expression: { ...expressionTable, ...collationExpressions } as unknown as InitOps['expression'],
  projection: projectionOps as unknown as InitOps['projection'],
  window: windowOps as unknown as InitOps['window'],
  query: { ...(mingoQueryOps as unknown as Ops<QueryOperator>), ...(queryOps as unknown as Ops<QueryOperator>) },
  pipeline: {
    ...(pipelineOps as unknown as Ops<PipelineOperator>),
    ...(stageOverrides(mingoPipeline) as unknown as Ops<PipelineOperator>),
    $sort: sortStage as unknown as PipelineOperator,
    $sortByCount: sortByCountStage as unknown as PipelineOperator,
    $lookup: lookupStage as unknown as PipelineOperator,
    // Reached only inside $lookup/$unionWith, whose sub-pipelines run against a collection.
    $listLocalSessions: (() => {
      throw new MongoCommandError(Codes.InvalidNamespace, '$listLocalSessions must be run against the database with {aggregate: 1}, not a collection');
    }) as unknown as PipelineOperator,
  },
});

const plainOptions: Partial<Options> = {
  idKey: '_id',
  useStrictMode: true,
  scriptEnabled: false,
  context: emulatorContext,
  jsonSchemaValidator: jsonSchemaValidator as Options['jsonSchemaValidator'],
  // $lookup/$unionWith/$graphLookup read through whatever resolver the running command installed.
  collectionResolver: (name: string) => {
    if (!activeResolver) throw new MongoCommandError(Codes.NotImplemented, `no collection '${name}' can be read here`);
    return activeResolver(name);
  },
};

let activeResolver: ((name: string) => Doc[]) | null = null;

/** Runs fn with `resolver` answering mingo's collection lookups (execution is synchronous). */
export function withCollections<T>(resolver: (name: string) => Doc[], fn: () => T): T {
  const prev = activeResolver;
  activeResolver = resolver;
  try {
    return fn();
  } finally {
    activeResolver = prev;
  }
}

/**
 * mingo copies its whole operator table (hundreds of entries) whenever it is handed plain options,
 * i.e. on every Query/Aggregator; an already prepared options instance (mingo's internal
 * ComputeOptions) is reused as is. The class is not exported, so we obtain it once from the options
 * object mingo passes to an expression operator.
 */
function prepareOptions(): (o: Partial<Options>) => Options {
  let ctor: { init(o: Partial<Options>): Options } | undefined;
  const probe = Context.init({
    expression: {
      $emulatorProbe: (_obj: unknown, _expr: unknown, options: Options) => {
        ctor = options.constructor as unknown as typeof ctor;
        return null;
      },
    },
  });
  evalExpr({}, { $emulatorProbe: 1 }, { ...plainOptions, context: probe } as Options);
  const found = ctor;
  if (!found || typeof found.init !== 'function') throw new Error('mingo internals changed: cannot prepare compute options');
  return (o) => found.init(o);
}
const makeOptions = prepareOptions();
const prepared = makeOptions(plainOptions);

/**
 * Options for mingo; only commands with `let` variables or a collation pay for a fresh operator
 * table. The collation travels in mingo's own `collation` option (typed for mingo's spec, which
 * only its replaced $sort reads), where the emulator's operators find it (collationOf).
 */
export function mingoOptions(variables?: Doc, collation?: Collation): Options {
  if (!variables && !collation) return prepared;
  return makeOptions({ ...plainOptions, variables, collation: collation as unknown as Options['collation'] });
}

/**
 * For mingo's updater, which always rebuilds its context: a small one holding our query operators
 * and comparison expressions (it re-tests the filter, and evaluates arrayFilters and `$`).
 */
const updaterContext = Context.init({ query: queryOps as unknown as Ops<QueryOperator>, expression: collationExpressions as unknown as InitOps['expression'] });
export function updaterQueryOptions(collation?: Collation): Partial<Options> {
  return { ...plainOptions, context: updaterContext, collation: collation as unknown as Options['collation'] };
}

/** Turns mingo's exceptions into the error mongod reports for the same mistake. */
export function translateMingoError(e: unknown, kind: 'query' | 'aggregate' | 'update' | 'projection'): MongoCommandError {
  if (e instanceof MongoCommandError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  // No server-side JavaScript ($function, $accumulator) and no paths through __proto__: refusals.
  const script = /(\$\w+)(?: operator)? requires 'scriptEnabled'/.exec(msg);
  if (script) return new MongoCommandError(Codes.NotImplemented, `The emulator does not support ${script[1]} (no server-side JavaScript)`);
  // JavaScript has no PCRE extended mode ('x'); other option letters mongod rejects too.
  const flags = /Invalid flags supplied to RegExp constructor '([^']*)'/.exec(msg);
  if (flags) return new MongoCommandError(Codes.NotImplemented, `The emulator does not support the regular expression options '${flags[1]}'`);
  if (/Accessing __proto__ is not allowed/.test(msg)) return new MongoCommandError(Codes.NotImplemented, `The emulator does not support field paths through '__proto__'`);
  const unknownOp = /unknown (?:\w+ )?operator:?\s*'?(\$\w+)/i.exec(msg) ?? /(\$\w+).*not (?:registered|supported)/i.exec(msg);
  if (unknownOp && kind === 'query') return new MongoCommandError(Codes.BadValue, `unknown operator: ${unknownOp[1]}`);
  if (unknownOp && kind === 'aggregate') return new MongoCommandError(Codes.InvalidPipelineOperator, `Unrecognized expression '${unknownOp[1]}'`);
  const code = kind === 'update' ? Codes.FailedToParse : Codes.BadValue;
  return new MongoCommandError(code, msg.replace(/^mingo:\s*/, ''));
}

/** Evaluates a command's `let` document: its values are expressions ({$literal: ...}, $$NOW...). */
export function evalLet(vars: Doc | undefined): Doc | undefined {
  if (!vars || Object.keys(vars).length === 0) return vars;
  try {
    return new Aggregator([{ $replaceWith: vars }], mingoOptions()).run([{}])[0] as Doc;
  } catch (e) {
    throw translateMingoError(e, 'aggregate');
  }
}

/** A scalar that equality can compare directly (no null/missing, regex, array or document rules). */
const plainScalar = (v: unknown): boolean =>
  v !== null && v !== undefined && !(v instanceof RegExp) && !Array.isArray(v) && !isPlainObject(v) && !(typeof v === 'object' && (v as { _bsontype?: string })._bsontype === 'BSONRegExp');

/**
 * Fast path for the most common filter shape: top-level fields compared for equality ($eq/$in)
 * with plain scalars. Same semantics as the general matcher (an array field matches if one of its
 * elements is equal); anything else goes to mingo.
 */
function compileSimple(filter: Doc, coll?: Collation): Matcher | undefined {
  const tests: [string, unknown[]][] = [];
  for (const [field, cond] of Object.entries(filter)) {
    if (field.startsWith('$') || field.includes('.')) return undefined;
    let values: unknown[];
    if (isPlainObject(cond)) {
      const ops = Object.keys(cond);
      if (ops.length !== 1) return undefined;
      if (ops[0] === '$eq') values = [cond.$eq];
      else if (ops[0] === '$in' && Array.isArray(cond.$in)) values = cond.$in;
      else return undefined;
    } else values = [cond];
    if (!values.every(plainScalar)) return undefined;
    // Strings under a collation are not keyOf-equal: left to the general (collation-aware) matcher.
    if (coll && values.some(containsString)) return undefined;
    tests.push([field, values]);
  }
  const checks = tests.map(([field, values]): ((doc: Doc) => boolean) => {
    if (values.length > IN_SET_THRESHOLD) {
      const keys = new Set(values.map(keyOf));
      return (doc) => {
        const x = doc[field];
        return keys.has(keyOf(x)) || (Array.isArray(x) && x.some((el) => keys.has(keyOf(el))));
      };
    }
    return (doc) => {
      const x = doc[field];
      for (const v of values) if (valuesEqual(x, v) || (Array.isArray(x) && x.some((el) => valuesEqual(el, v)))) return true;
      return false;
    };
  });
  if (checks.length === 1) return checks[0];
  return (doc) => {
    for (const c of checks) if (!c(doc)) return false;
    return true;
  };
}

/** Compiles a query filter; `collation` (absent: binary) applies to every string comparison. */
export function compileFilter(filter: unknown, variables?: Doc, collation?: Collation): Matcher {
  if (filter === undefined || filter === null) return () => true;
  if (!isPlainObject(filter)) throw new MongoCommandError(Codes.TypeMismatch, "Expected field filter to be of type object");
  if (Object.keys(filter).length === 0) return () => true;
  const simple = compileSimple(filter, collation);
  if (simple) return simple;
  try {
    const q = new Query(filter, mingoOptions(variables, collation));
    return (doc) => {
      try {
        return q.test(doc);
      } catch (e) {
        throw translateMingoError(e, 'query');
      }
    };
  } catch (e) {
    throw translateMingoError(e, 'query');
  }
}
