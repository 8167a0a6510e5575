// Argument checks shared by several commands: options the emulator refuses rather than ignores.
import { parseCollation, type Collation } from '../collation.js';
import { Codes, MongoCommandError } from '../errors.js';
import type { Index } from '../indexes.js';
import { sortDocs, type SortSpec } from '../query.js';
import type { Collection } from '../storage.js';
import { isPlainObject, keyOf, type Doc } from '../values.js';

/**
 * A command's (or statement's) `collation`: undefined for simple binary comparison. Malformed
 * documents fail like mongod's; collations the emulator cannot reproduce fail with 238.
 */
export const commandCollation = (raw: unknown): Collation | undefined => parseCollation(raw);

/** Views here always have the simple default collation: reading one with another fails, as in mongod. */
export const viewCollationError = (): MongoCommandError => new MongoCommandError(Codes.OptionNotSupportedOnView, "Cannot override a view's default collation");

/** What a hint selects: an index (whose order and coverage a find follows), or natural order. */
export type HintPlan = { index: Index } | { natural: 1 | -1 } | undefined;

/** A hint must name an existing index, as mongod requires. */
export function checkHint(coll: Collection | undefined, hint: unknown): HintPlan {
  if (hint === undefined || hint === null || !coll) return undefined;
  if (typeof hint === 'string') {
    const ix = coll.indexes.get(hint);
    if (ix) return { index: ix };
  } else if (isPlainObject(hint)) {
    if (Object.keys(hint).length === 1 && '$natural' in hint) return { natural: Number(hint.$natural) < 0 ? -1 : 1 };
    for (const ix of coll.indexes.values()) if (keyOf(ix.spec.key) === keyOf(hint)) return { index: ix };
  } else {
    throw new MongoCommandError(Codes.FailedToParse, 'hint must be a string or an object');
  }
  throw new MongoCommandError(Codes.BadValue, 'hint provided does not correspond to an existing index');
}

/**
 * A hinted scan's view of the matches (natural order in, as the emulator reads them): a sparse or
 * partial index holds only some documents, and mongod returns what the hinted scan yields, in the
 * index's order (each document once, at its first key) or in reverse natural order.
 */
export function hintedDocs(docs: Doc[], plan: HintPlan, ordered: boolean): Doc[] {
  if (!plan) return docs;
  if ('natural' in plan) return ordered && plan.natural === -1 ? [...docs].reverse() : docs;
  const ix = plan.index;
  const held = ix.complete ? docs : docs.filter((d) => ix.covers(d));
  return ordered ? sortDocs(held, ix.spec.key as SortSpec) : held;
}

/** Fields every command may carry that never change what it does. */
export const genericFields = new Set([
  '$db', 'lsid', 'txnNumber', 'autocommit', 'startTransaction', 'writeConcern', 'readConcern', '$clusterTime', '$readPreference',
  'comment', 'maxTimeMS', 'apiVersion', 'apiStrict', 'apiDeprecationErrors', '$audit', 'readPreference',
]);
