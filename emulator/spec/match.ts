// "Evaluating Matches" of the unified test format: expected values (from the test file) against
// actual values (from the driver). Returns undefined on a match, or a one-line reason.
import { EJSON } from 'bson';
import {
  type Doc,
  has,
  isDocument,
  isOfType,
  hexOf,
  numericValue,
  presentKeys,
  scalarEquals,
  show,
  bsonTypesOf,
} from './bson-values.js';
import { RunnerError } from './failures.js';

/** How the matcher reaches the test's entity map. */
export interface MatchEntities {
  /** Value of a BSON entity (e.g. a saved result); throws when undefined. */
  value(name: string): unknown;
  /** Logical session id recorded when the session entity was created; throws when undefined. */
  sessionLsid(name: string): unknown;
}

const noEntities: MatchEntities = {
  value(name) {
    throw new RunnerError(`no entity named ${name}`);
  },
  sessionLsid(name) {
    throw new RunnerError(`no session entity named ${name}`);
  },
};

/** `{ $$op: arg }` with a single key starting with `$$`, else undefined. */
export function specialOperator(v: unknown): [string, unknown] | undefined {
  if (!isDocument(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length === 1 && keys[0].startsWith('$$')) return [keys[0], v[keys[0]]];
  return undefined;
}

/**
 * Match `actual` against `expected`. `root` says whether `actual` is a root-level document, in
 * which extra keys are allowed. A top-level `$$unsetOrMatches` accepts an absent (undefined) actual.
 */
export function match(
  expected: unknown,
  actual: unknown,
  opts: { root?: boolean; rootElements?: boolean; entities?: MatchEntities } = {},
): string | undefined {
  const m = new Matcher(opts.entities ?? noEntities);
  if (opts.rootElements && Array.isArray(expected)) {
    // Iterated results (find, aggregate, listIndexes...): each element is a root-level document.
    if (!Array.isArray(actual)) return `(root): expected an array, got ${show(actual)}`;
    if (actual.length !== expected.length) {
      return `(root): expected ${expected.length} document(s), got ${actual.length}: ${show(actual)}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const r = m.value(expected[i], actual[i], true, `[${i}]`);
      if (r) return r;
    }
    return undefined;
  }
  return m.value(expected, actual, opts.root ?? true, '');
}

class Matcher {
  constructor(private readonly entities: MatchEntities) {}

  value(expected: unknown, actual: unknown, root: boolean, path: string): string | undefined {
    const op = specialOperator(expected);
    if (op) return this.operator(op[0], op[1], actual, root, path);
    if (Array.isArray(expected)) return this.array(expected, actual, path);
    if (isDocument(expected)) return this.document(expected, actual, root, path);
    if (actual === undefined) return `${at(path)}: expected ${show(expected)}, got nothing`;
    if (Array.isArray(actual) || isDocument(actual)) {
      return `${at(path)}: expected ${show(expected)}, got ${show(actual)}`;
    }
    return scalarEquals(expected, actual) ? undefined : `${at(path)}: expected ${show(expected)}, got ${show(actual)}`;
  }

  private array(expected: unknown[], actual: unknown, path: string): string | undefined {
    if (!Array.isArray(actual)) return `${at(path)}: expected an array, got ${show(actual)}`;
    if (actual.length !== expected.length) {
      return `${at(path)}: expected ${expected.length} element(s), got ${actual.length}: ${show(actual)}`;
    }
    for (let i = 0; i < expected.length; i++) {
      // Elements of an array of values are not root-level (callers match iterated results one by one).
      const r = this.value(expected[i], actual[i], false, `${path}[${i}]`);
      if (r) return r;
    }
    return undefined;
  }

  private document(expected: Doc, actual: unknown, root: boolean, path: string): string | undefined {
    if (!isDocument(actual)) return `${at(path)}: expected a document ${show(expected)}, got ${show(actual)}`;
    for (const key of Object.keys(expected)) {
      const exp = expected[key];
      const sub = path ? `${path}.${key}` : key;
      const op = specialOperator(exp);
      if (op && op[0] === '$$exists') {
        const want = Boolean(op[1]);
        if (has(actual, key) !== want) {
          return `${sub}: expected ${want ? 'present' : 'absent'}, got ${show(actual[key])}`;
        }
        continue;
      }
      if (op && op[0] === '$$unsetOrMatches' && !has(actual, key)) continue;
      if (!has(actual, key)) return `${sub}: expected ${show(exp)}, key is absent`;
      const r = this.value(exp, actual[key], false, sub);
      if (r) return r;
    }
    if (!root) {
      const extra = presentKeys(actual).filter((k) => !(k in expected));
      if (extra.length > 0) return `${at(path)}: unexpected extra key(s) ${extra.join(', ')} in ${show(actual)}`;
    }
    return undefined;
  }

  private operator(name: string, arg: unknown, actual: unknown, root: boolean, path: string): string | undefined {
    switch (name) {
      case '$$exists':
        // Only meaningful for a key; at value position it asserts presence of the value itself.
        return (actual !== undefined) === Boolean(arg) ? undefined : `${at(path)}: $$exists ${String(arg)} failed`;
      case '$$unsetOrMatches':
        return actual === undefined ? undefined : this.value(arg, actual, root, path);
      case '$$type': {
        const names = Array.isArray(arg) ? arg : [arg];
        if (actual === undefined) return `${at(path)}: expected type ${names.join('|')}, got nothing`;
        return names.some((t) => isOfType(actual, String(t)))
          ? undefined
          : `${at(path)}: expected type ${names.join('|')}, got ${bsonTypesOf(actual).join('/')} ${show(actual)}`;
      }
      case '$$matchesEntity':
        return this.value(this.entities.value(String(arg)), actual, root, path);
      case '$$matchesHexBytes': {
        if (typeof arg !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(arg)) {
          throw new RunnerError(`malformed $$matchesHexBytes ${show(arg)}`);
        }
        const hex = typeof actual === 'string' ? Buffer.from(actual).toString('hex') : hexOf(actual);
        return hex === arg.toLowerCase() ? undefined : `${at(path)}: expected bytes ${arg}, got ${show(actual)}`;
      }
      case '$$sessionLsid': {
        const lsid = this.entities.sessionLsid(String(arg));
        return this.value(lsid, actual, false, path);
      }
      case '$$lte': {
        const a = numericValue(actual);
        const e = numericValue(arg);
        if (a === undefined || e === undefined) return `${at(path)}: $$lte needs numbers, got ${show(actual)}`;
        return a <= e ? undefined : `${at(path)}: expected <= ${e}, got ${a}`;
      }
      case '$$matchAsDocument': {
        if (typeof actual !== 'string') return `${at(path)}: $$matchAsDocument needs a string, got ${show(actual)}`;
        return this.value(arg, EJSON.parse(actual, { relaxed: true }), false, path);
      }
      case '$$matchAsRoot':
        return this.value(arg, actual, true, path);
      default:
        throw new RunnerError(`unknown special operator ${name}`);
    }
  }
}

function at(path: string): string {
  return path === '' ? '(root)' : path;
}
