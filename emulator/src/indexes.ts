// Secondary indexes: for every prefix of the key pattern a hash map from the canonical key of the
// prefix values to the documents holding it. Equality lookups on leading fields are then O(matches).
// Entries are a superset (they may point at versions that are gone or uncommitted); readers always
// re-check the visible document, which keeps MVCC and indexes independent.
import type { DocChain } from './storage.js';
import { Codes, MongoCommandError, fail } from './errors.js';
import { compileFilter, type Matcher } from './query.js';
import { keyOf, pathValues, type Doc } from './values.js';

export interface IndexSpec {
  v?: number;
  key: Doc;
  name: string;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Doc;
  expireAfterSeconds?: number;
  [option: string]: unknown;
}

/** Options MongoDB accepts on an index that change nothing observable here. */
const harmlessOptions = new Set(['v', 'key', 'name', 'unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds', 'background', 'ns', 'hidden']);

export class Index {
  readonly fields: string[];
  readonly partial?: Matcher;
  /** The _id index is answered by the collection's primary map; it keeps no entries of its own. */
  readonly isId: boolean;
  /** maps[i] holds keys of the first i+1 fields. */
  private readonly maps: Map<string, Set<DocChain>>[];
  /**
   * Each stored document's entries (null: the index does not cover it), computed once. A stored
   * version is never changed in place (a write stores a new one), and a version's keys are needed
   * again when it is checked for uniqueness, added, and when it is kept or dropped by a prune: on a
   * booking with 100 tickets, building them over and over was most of the emulator's time per write.
   */
  private readonly entriesOf = new WeakMap<Doc, string[][] | null>();

  constructor(readonly spec: IndexSpec) {
    this.fields = Object.keys(spec.key);
    this.partial = spec.partialFilterExpression ? compileFilter(spec.partialFilterExpression) : undefined;
    this.maps = this.fields.map(() => new Map());
    this.isId = spec.name === '_id_';
  }

  get name(): string {
    return this.spec.name;
  }
  get unique(): boolean {
    return this.spec.unique === true;
  }
  /** Usable for answering equality queries: contains every document of the collection. */
  get complete(): boolean {
    return !this.spec.sparse && !this.partial;
  }

  /** Whether the document has entries in this index at all (sparse / partial filters). */
  covers(doc: Doc): boolean {
    if (this.spec.sparse && this.fields.every((f) => pathValues(doc, f).every((v) => v === undefined))) return false;
    return this.partial ? this.partial(doc) : true;
  }

  /** Per field the list of index values (arrays contribute each element, like multikey indexes). */
  private fieldValues(doc: Doc): unknown[][] {
    return this.fields.map((f) => {
      const out: unknown[] = [];
      for (const v of pathValues(doc, f)) {
        if (Array.isArray(v)) {
          if (v.length === 0) out.push(undefined);
          else out.push(...v);
        } else out.push(v);
      }
      return out;
    });
  }

  /** Canonical keys of every prefix length: result[i] = keys of fields[0..i]. */
  keys(doc: Doc): string[][] {
    const vals = this.fieldValues(doc);
    const result: string[][] = [];
    let acc = [''];
    for (let i = 0; i < vals.length; i++) {
      const next: string[] = [];
      const uniq = new Set(vals[i].map(keyOf));
      for (const prefix of acc) for (const k of uniq) next.push(i === 0 ? k : prefix + '|' + k);
      result.push(next);
      acc = next;
    }
    return result;
  }

  /** keys(doc) if the index covers doc, else null; remembered per document (see entriesOf). */
  private entries(doc: Doc): string[][] | null {
    let entries = this.entriesOf.get(doc);
    if (entries === undefined) {
      entries = this.covers(doc) ? this.keys(doc) : null;
      this.entriesOf.set(doc, entries);
    }
    return entries;
  }

  fullKeys(doc: Doc): string[] {
    return this.entries(doc)?.[this.fields.length - 1] ?? [];
  }

  add(chain: DocChain, doc: Doc): void {
    if (this.isId) return;
    const keys = this.entries(doc);
    if (!keys) return;
    keys.forEach((ks, i) => {
      for (const k of ks) {
        let set = this.maps[i].get(k);
        if (!set) this.maps[i].set(k, (set = new Set()));
        set.add(chain);
      }
    });
  }

  /** Drop entries of `removed` documents that none of `kept` still needs. */
  remove(chain: DocChain, removed: Doc[], kept: Doc[]): void {
    if (this.isId) return;
    const keep = new Set<string>();
    for (const d of kept) for (const ks of this.entries(d) ?? []) for (const k of ks) keep.add(k);
    for (const d of removed) {
      this.entries(d)?.forEach((ks, i) => {
        for (const k of ks) {
          if (keep.has(k)) continue;
          const set = this.maps[i].get(k);
          if (set && set.delete(chain) && set.size === 0) this.maps[i].delete(k);
        }
      });
    }
  }

  /** Documents whose first `prefixLen` fields have the given canonical key. */
  lookup(prefixLen: number, key: string): Set<DocChain> | undefined {
    return this.maps[prefixLen - 1].get(key);
  }

  clear(): void {
    for (const m of this.maps) m.clear();
  }

  /** The fields/values of `doc` under this index that produce `key`, for E11000's keyValue. */
  keyValue(doc: Doc, key: string): Doc {
    const vals = this.fieldValues(doc);
    // Walk the combinations (as keys() does) until the one with this canonical key.
    const pick = (i: number, prefix: string, chosen: unknown[]): unknown[] | undefined => {
      if (i === vals.length) return prefix === key ? chosen : undefined;
      for (const v of vals[i]) {
        const k = i === 0 ? keyOf(v) : prefix + '|' + keyOf(v);
        if (!key.startsWith(k)) continue;
        const found = pick(i + 1, k, [...chosen, v]);
        if (found) return found;
      }
      return undefined;
    };
    const chosen = pick(0, '', []) ?? vals.map((v) => v[0]);
    const out: Doc = {};
    this.fields.forEach((f, i) => (out[f] = chosen[i] === undefined ? null : chosen[i]));
    return out;
  }
}

export function validateIndexSpec(raw: unknown): IndexSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(Codes.TypeMismatch, 'Index specification must be an object');
  const spec = raw as IndexSpec;
  const key = spec.key;
  if (!key || typeof key !== 'object' || Object.keys(key).length === 0) fail(Codes.CannotCreateIndex, 'Index keys cannot be empty.');
  if (typeof spec.name !== 'string' || !spec.name) fail(Codes.CannotCreateIndex, "The 'name' field is a required property of an index specification");
  for (const [field, dir] of Object.entries(key)) {
    if (dir !== 1 && dir !== -1) {
      const what = typeof dir === 'string' ? `index type '${dir}'` : `key value ${String(dir)}`;
      throw new MongoCommandError(Codes.NotImplemented, `The emulator supports only ascending/descending indexes (1 or -1); ${what} on field '${field}' is not supported`);
    }
  }
  for (const opt of Object.keys(spec)) {
    if (!harmlessOptions.has(opt)) fail(Codes.NotImplemented, `Index option '${opt}' is not supported by the emulator`);
  }
  if (spec.expireAfterSeconds !== undefined && (typeof spec.expireAfterSeconds !== 'number' || spec.expireAfterSeconds < 0)) {
    fail(Codes.CannotCreateIndex, 'TTL index \'expireAfterSeconds\' option must be a non-negative number');
  }
  return { v: 2, ...spec };
}

/** Whether two specs describe the same index (same key and uniqueness-relevant options). */
export function sameIndex(a: IndexSpec, b: IndexSpec): boolean {
  return keyOf(a.key) === keyOf(b.key) && !!a.unique === !!b.unique && !!a.sparse === !!b.sparse && keyOf(a.partialFilterExpression) === keyOf(b.partialFilterExpression) && a.expireAfterSeconds === b.expireAfterSeconds;
}

/** Renders a value like mongod's error messages do ({ email: "a@b" }, ObjectId('...')). */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return '[ ' + v.map(formatValue).join(', ') + ' ]';
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  const t = (v as { _bsontype?: string })._bsontype;
  if (t === 'ObjectId') return `ObjectId('${(v as { toHexString(): string }).toHexString()}')`;
  if (t) return String(v);
  const entries = Object.entries(v as Doc).map(([k, x]) => `${k}: ${formatValue(x)}`);
  return entries.length ? `{ ${entries.join(', ')} }` : '{}';
}
