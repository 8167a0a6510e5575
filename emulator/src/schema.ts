// MongoDB's $jsonSchema (JSON Schema draft 4 plus bsonType), for validators and query filters. A
// compiled schema returns the rules a value does not satisfy, shaped like mongod's validation
// error details (schemaRulesNotSatisfied); an empty list means the value is valid. Keywords apply
// only to values of their type (minimum to numbers, required to objects...), as in MongoDB.
// Keywords the emulator does not evaluate are refused when the schema is compiled.
import { Codes, MongoCommandError } from './errors.js';
import { bsonTypeName, compareValues, hasBsonType, isPlainObject, keyOf, numericValue, typeAlias, typeRank, valuesEqual, type Doc } from './values.js';

export type SchemaCheck = (value: unknown) => Doc[];

/** Draft-4 / MongoDB keywords this module does not evaluate: refused by name rather than ignored. */
const refusedKeywords = new Set(['allOf', 'anyOf', 'oneOf', 'not', 'dependencies', 'patternProperties', 'multipleOf', 'encrypt', 'encryptMetadata', '$ref', '$schema', 'definitions', 'default', 'format', 'id']);
const annotations = new Set(['title', 'description']);

const jsonTypes: Record<string, (v: unknown) => boolean> = {
  object: (v) => isPlainObject(v),
  array: (v) => Array.isArray(v),
  number: (v) => typeRank(v) === 3,
  boolean: (v) => typeof v === 'boolean',
  string: (v) => typeof v === 'string',
  null: (v) => v === null,
};

const bad = (keyword: string, msg: string): MongoCommandError => new MongoCommandError(Codes.FailedToParse, `$jsonSchema keyword '${keyword}' ${msg}`);

function typeNames(keyword: string, spec: unknown): string[] {
  const list = Array.isArray(spec) ? spec : [spec];
  if (list.length === 0) throw bad(keyword, 'must name at least one type');
  return list.map((t) => {
    if (keyword === 'type') {
      if (t === 'integer') throw new MongoCommandError(Codes.BadValue, "$jsonSchema type 'integer' is not supported (use bsonType)");
      if (typeof t !== 'string' || !jsonTypes[t]) throw bad(keyword, `has an unknown type: ${String(t)}`);
      return t;
    }
    const alias = typeAlias(t);
    if (!alias) throw bad(keyword, `has an unknown type: ${String(t)}`);
    return alias;
  });
}

const nonNegativeInt = (keyword: string, v: unknown): number => {
  const n = numericValue(v);
  if (n === undefined || !Number.isInteger(n) || n < 0) throw bad(keyword, 'must be a non-negative integer');
  return n;
};

/** One keyword: a test that returns its failure detail, or undefined when satisfied. */
type Rule = (value: unknown) => Doc | undefined;

function compileKeyword(schema: Doc, keyword: string, spec: unknown): Rule | undefined {
  const specifiedAs = { [keyword]: spec };
  const typeFail = (v: unknown): Doc => ({ operatorName: keyword, specifiedAs, reason: 'type did not match', consideredValue: v, consideredType: bsonTypeName(v) });
  switch (keyword) {
    case 'bsonType': {
      const names = typeNames(keyword, spec);
      return (v) => (names.some((n) => (n === 'array' ? Array.isArray(v) : hasBsonType(v, n))) ? undefined : typeFail(v));
    }
    case 'type': {
      const names = typeNames(keyword, spec);
      return (v) => (names.some((n) => jsonTypes[n](v)) ? undefined : typeFail(v));
    }
    case 'enum': {
      if (!Array.isArray(spec) || spec.length === 0) throw bad(keyword, 'must be a non-empty array');
      return (v) => (spec.some((e) => valuesEqual(v, e)) ? undefined : { operatorName: keyword, specifiedAs, reason: 'value was not found in enum', consideredValue: v });
    }
    case 'minimum':
    case 'maximum': {
      if (numericValue(spec) === undefined) throw bad(keyword, 'must be a number');
      const exclusive = schema[keyword === 'minimum' ? 'exclusiveMinimum' : 'exclusiveMaximum'] === true;
      const ok = (c: number): boolean => (keyword === 'minimum' ? (exclusive ? c > 0 : c >= 0) : exclusive ? c < 0 : c <= 0);
      return (v) => (typeRank(v) !== 3 || ok(compareValues(v, spec)) ? undefined : { operatorName: keyword, specifiedAs, reason: 'comparison failed', consideredValue: v });
    }
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      // Draft 4: a boolean that makes minimum/maximum exclusive (evaluated there).
      const base = keyword === 'exclusiveMinimum' ? 'minimum' : 'maximum';
      if (typeof spec !== 'boolean') throw bad(keyword, 'must be a boolean');
      if (!(base in schema)) throw bad(keyword, `needs '${base}'`);
      return undefined;
    }
    case 'minLength':
    case 'maxLength': {
      const n = nonNegativeInt(keyword, spec);
      return (v) => {
        if (typeof v !== 'string') return undefined;
        const len = [...v].length;
        return (keyword === 'minLength' ? len >= n : len <= n) ? undefined : { operatorName: keyword, specifiedAs, reason: 'specified string length was not satisfied', consideredValue: v };
      };
    }
    case 'pattern': {
      if (typeof spec !== 'string') throw bad(keyword, 'must be a string');
      const re = new RegExp(spec, 'u');
      return (v) => (typeof v !== 'string' || re.test(v) ? undefined : { operatorName: keyword, specifiedAs, reason: 'regular expression did not match', consideredValue: v });
    }
    case 'minItems':
    case 'maxItems': {
      const n = nonNegativeInt(keyword, spec);
      return (v) => (!Array.isArray(v) || (keyword === 'minItems' ? v.length >= n : v.length <= n) ? undefined : { operatorName: keyword, specifiedAs, reason: 'array did not match specified length', consideredValue: v });
    }
    case 'uniqueItems':
      if (typeof spec !== 'boolean') throw bad(keyword, 'must be a boolean');
      return (v) => {
        if (!spec || !Array.isArray(v)) return undefined;
        const seen = new Set<string>();
        for (const el of v) {
          const k = keyOf(el);
          if (seen.has(k)) return { operatorName: keyword, specifiedAs, reason: 'found a duplicate item', consideredValue: v, duplicatedValue: el };
          seen.add(k);
        }
        return undefined;
      };
    case 'minProperties':
    case 'maxProperties': {
      const n = nonNegativeInt(keyword, spec);
      return (v) => {
        if (!isPlainObject(v)) return undefined;
        const len = Object.keys(v).length;
        return (keyword === 'minProperties' ? len >= n : len <= n) ? undefined : { operatorName: keyword, specifiedAs, reason: 'specified number of properties was not satisfied', numberOfProperties: len };
      };
    }
    case 'required': {
      if (!Array.isArray(spec) || spec.length === 0 || !spec.every((f) => typeof f === 'string')) throw bad(keyword, 'must be a non-empty array of strings');
      return (v) => {
        if (!isPlainObject(v)) return undefined;
        const missing = (spec as string[]).filter((f) => !(f in v) || v[f] === undefined);
        return missing.length ? { operatorName: keyword, specifiedAs, missingProperties: missing } : undefined;
      };
    }
    case 'properties': {
      if (!isPlainObject(spec)) throw bad(keyword, 'must be an object');
      const props = Object.entries(spec).map(([name, sub]) => [name, compileSchema(sub)] as const);
      return (v) => {
        if (!isPlainObject(v)) return undefined;
        const failed: Doc[] = [];
        for (const [name, check] of props) {
          if (!(name in v) || v[name] === undefined) continue;
          const details = check(v[name]);
          if (details.length) failed.push({ propertyName: name, details });
        }
        return failed.length ? { operatorName: keyword, propertiesNotSatisfied: failed } : undefined;
      };
    }
    case 'additionalProperties': {
      const known = new Set(isPlainObject(schema.properties) ? Object.keys(schema.properties) : []);
      if (typeof spec === 'boolean') {
        return (v) => {
          if (spec || !isPlainObject(v)) return undefined;
          const extra = Object.keys(v).filter((k) => !known.has(k));
          return extra.length ? { operatorName: keyword, specifiedAs, additionalProperties: extra } : undefined;
        };
      }
      const check = compileSchema(spec);
      return (v) => {
        if (!isPlainObject(v)) return undefined;
        const failed: Doc[] = [];
        for (const k of Object.keys(v)) {
          if (known.has(k)) continue;
          const details = check(v[k]);
          if (details.length) failed.push({ propertyName: k, details });
        }
        return failed.length ? { operatorName: keyword, reason: 'at least one additional property did not match the subschema', failingProperties: failed } : undefined;
      };
    }
    case 'items': {
      if (Array.isArray(spec)) throw new MongoCommandError(Codes.NotImplemented, "The emulator does not support the $jsonSchema keyword 'items' with an array of schemas");
      const check = compileSchema(spec);
      return (v) => {
        if (!Array.isArray(v)) return undefined;
        for (let i = 0; i < v.length; i++) {
          const details = check(v[i]);
          if (details.length) return { operatorName: keyword, reason: 'At least one item did not match the sub-schema', itemIndex: i, details };
        }
        return undefined;
      };
    }
    default:
      if (annotations.has(keyword)) return undefined;
      if (refusedKeywords.has(keyword)) throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support the $jsonSchema keyword '${keyword}'`);
      throw new MongoCommandError(Codes.FailedToParse, `Unknown $jsonSchema keyword: ${keyword}`);
  }
}

/** Compiles a schema (refusing what it cannot evaluate); the result lists the failed rules. */
export function compileSchema(schema: unknown): SchemaCheck {
  if (!isPlainObject(schema)) throw new MongoCommandError(Codes.TypeMismatch, '$jsonSchema must be an object');
  const rules: Rule[] = [];
  for (const [k, spec] of Object.entries(schema)) {
    const rule = compileKeyword(schema, k, spec);
    if (rule) rules.push(rule);
  }
  return (value) => {
    const out: Doc[] = [];
    for (const r of rules) {
      const d = r(value);
      if (d) out.push(d);
    }
    return out;
  };
}

/** For mingo's $jsonSchema query operator. */
export const jsonSchemaValidator = (schema: unknown): ((doc: Doc) => boolean) => {
  const check = compileSchema(schema);
  return (doc) => check(doc).length === 0;
};
