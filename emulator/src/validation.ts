// Document validation (create/collMod `validator`, `validationLevel`, `validationAction`): writes
// whose result does not match the validator fail with DocumentValidationFailure (121) and an
// errInfo of { failingDocumentId, details } shaped like mongod's (operatorName, specifiedAs,
// reason, consideredValue...; $jsonSchema failures as schemaRulesNotSatisfied).
import { evalExpr } from 'mingo/core';
import { Codes, MongoCommandError } from './errors.js';
import { compileFilter, mingoOptions, type Matcher } from './query.js';
import { compileSchema } from './schema.js';
import { bsonTypeName, isPlainObject, pathValues, type Doc } from './values.js';

export type ValidationLevel = 'off' | 'strict' | 'moderate';
export type ValidationAction = 'error' | 'warn';

const levels = new Set<string>(['off', 'strict', 'moderate']);
const actions = new Set<string>(['error', 'warn']);

/** Validator operators mongod refuses in a collection validator. */
const notInValidators = new Set(['$near', '$nearSphere', '$text', '$where', '$geoNear']);

function checkAllowed(v: unknown): void {
  if (Array.isArray(v)) return v.forEach(checkAllowed);
  if (!isPlainObject(v)) return;
  for (const [k, x] of Object.entries(v)) {
    if (notInValidators.has(k)) throw new MongoCommandError(Codes.QueryFeatureNotAllowed, `${k} is not allowed in this context`);
    checkAllowed(x);
  }
}

export function parseLevel(v: unknown): ValidationLevel {
  if (typeof v !== 'string' || !levels.has(v)) throw new MongoCommandError(Codes.BadValue, `Enumeration value '${String(v)}' for field 'validationLevel' is not a valid value.`);
  return v as ValidationLevel;
}

export function parseAction(v: unknown): ValidationAction {
  if (typeof v !== 'string' || !actions.has(v)) throw new MongoCommandError(Codes.BadValue, `Enumeration value '${String(v)}' for field 'validationAction' is not a valid value.`);
  return v as ValidationAction;
}

export class DocumentValidator {
  private readonly matcher: Matcher;
  /** Whether writes are checked at all (an empty validator or level 'off' checks nothing). */
  private readonly active: boolean;

  constructor(
    readonly validator: Doc,
    readonly level: ValidationLevel = 'strict',
    readonly action: ValidationAction = 'error',
  ) {
    if (!isPlainObject(validator)) throw new MongoCommandError(Codes.TypeMismatch, "BSON field 'validator' is the wrong type, expected type 'object'");
    checkAllowed(validator);
    this.matcher = compileFilter(validator);
    this.active = level !== 'off' && Object.keys(validator).length > 0;
  }

  /**
   * Fails the write of `doc` when it must be valid and is not. `previous` is the document an update
   * replaces (null for inserts): with validationLevel 'moderate' an update of a document that was
   * already invalid is not checked. validationAction 'warn' lets the write through (mongod logs it).
   */
  check(doc: Doc, previous: Doc | null): void {
    if (!this.active || this.matcher(doc)) return;
    if (previous && this.level === 'moderate' && !this.matcher(previous)) return;
    if (this.action === 'warn') return;
    throw new MongoCommandError(Codes.DocumentValidationFailure, 'Document failed validation', {
      extra: { errInfo: { failingDocumentId: doc._id, details: explain(this.validator, doc) } },
    });
  }
}

/** One clause per top-level condition, one per operator of a field ({a: {$gt: 1, $lt: 5}} is two). */
function clausesOf(filter: Doc): Doc[] {
  const out: Doc[] = [];
  for (const [k, v] of Object.entries(filter)) {
    const ops = isPlainObject(v) ? Object.keys(v) : [];
    if (!k.startsWith('$') && ops.length > 1 && ops.every((o) => o.startsWith('$')) && !ops.includes('$options')) {
      for (const op of ops) out.push({ [k]: { [op]: (v as Doc)[op] } });
    } else out.push({ [k]: v });
  }
  return out;
}

const matches = (clause: Doc, doc: Doc): boolean => compileFilter(clause)(doc);

/** mongod's details for a failed filter: the failing clause itself, or $and over the failing ones. */
export function explain(filter: Doc, doc: Doc): Doc {
  const clauses = clausesOf(filter);
  if (clauses.length === 1) return explainClause(clauses[0], doc);
  const failed: Doc[] = [];
  clauses.forEach((c, index) => {
    if (!matches(c, doc)) failed.push({ index, details: explainClause(c, doc) });
  });
  return { operatorName: '$and', clausesNotSatisfied: failed };
}

const fieldReasons: Record<string, string> = {
  $eq: 'comparison failed',
  $ne: 'comparison succeeded',
  $gt: 'comparison failed',
  $gte: 'comparison failed',
  $lt: 'comparison failed',
  $lte: 'comparison failed',
  $in: 'no matching value found in array',
  $nin: 'matching value found in array',
  $type: 'type did not match',
  $regex: 'regular expression did not match',
  $size: 'array length was not equal to given size',
  $all: 'array did not contain all specified values',
  $elemMatch: 'array did not satisfy the child predicate',
  $mod: '$mod did not evaluate to expected remainder',
  $not: 'child expression matched',
};

function explainClause(clause: Doc, doc: Doc): Doc {
  const [key, spec] = Object.entries(clause)[0];
  const subFilters = (): Doc[] => (Array.isArray(spec) ? (spec as Doc[]) : []);
  switch (key) {
    case '$jsonSchema':
      return { operatorName: '$jsonSchema', schemaRulesNotSatisfied: compileSchema(spec)(doc) };
    case '$and':
      return { operatorName: '$and', clausesNotSatisfied: subFilters().flatMap((f, index) => (matches(f, doc) ? [] : [{ index, details: explain(f, doc) }])) };
    case '$or':
      return { operatorName: '$or', clausesNotSatisfied: subFilters().map((f, index) => ({ index, details: explain(f, doc) })) };
    case '$nor':
      return { operatorName: '$nor', clausesSatisfied: subFilters().flatMap((f, index) => (matches(f, doc) ? [{ index, details: { operatorName: '$nor', specifiedAs: f, reason: 'clause matched' } }] : [])) };
    case '$expr':
      return { operatorName: '$expr', specifiedAs: clause, reason: 'expression did not match', expressionResult: evalExpr(doc, spec, mingoOptions()) ?? null };
    default:
      break;
  }
  const op = isPlainObject(spec) && Object.keys(spec)[0]?.startsWith('$') ? Object.keys(spec)[0] : '$eq';
  const values = pathValues(doc, key).filter((v) => v !== undefined);
  const details: Doc = { operatorName: op, specifiedAs: clause };
  if (op === '$exists') {
    details.reason = (spec as Doc).$exists ? 'path does not exist' : 'path does exist';
  } else if (values.length === 0 && op !== '$ne' && op !== '$nin' && op !== '$not') {
    details.reason = 'field was missing';
    return details;
  } else {
    details.reason = fieldReasons[op] ?? 'expression did not match';
  }
  if (values.length === 1) {
    details.consideredValue = values[0];
    if (op === '$type') details.consideredType = bsonTypeName(values[0]);
  } else if (values.length > 1) {
    details.consideredValues = values;
    if (op === '$type') details.consideredTypes = [...new Set(values.map(bsonTypeName))];
  }
  return details;
}
