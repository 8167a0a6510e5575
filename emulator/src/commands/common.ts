// Argument checks shared by several commands: options the emulator refuses rather than ignores.
import { parseCollation, type Collation } from '../collation.js';
import { Codes, MongoCommandError } from '../errors.js';
import type { Collection } from '../storage.js';
import { isPlainObject, keyOf } from '../values.js';

/**
 * A command's (or statement's) `collation`: undefined for simple binary comparison. Malformed
 * documents fail like mongod's; collations the emulator cannot reproduce fail with 238.
 */
export const commandCollation = (raw: unknown): Collation | undefined => parseCollation(raw);

/** Views here always have the simple default collation: reading one with another fails, as in mongod. */
export const viewCollationError = (): MongoCommandError => new MongoCommandError(Codes.OptionNotSupportedOnView, "Cannot override a view's default collation");

/** A hint must name an existing index, as mongod requires; it does not change results. */
export function checkHint(coll: Collection | undefined, hint: unknown): void {
  if (hint === undefined || hint === null || !coll) return;
  if (typeof hint === 'string') {
    if (coll.indexes.has(hint)) return;
  } else if (isPlainObject(hint)) {
    if (Object.keys(hint).length === 1 && '$natural' in hint) return;
    for (const ix of coll.indexes.values()) if (keyOf(ix.spec.key) === keyOf(hint)) return;
  } else {
    throw new MongoCommandError(Codes.FailedToParse, 'hint must be a string or an object');
  }
  throw new MongoCommandError(Codes.BadValue, 'hint provided does not correspond to an existing index');
}

/** Fields every command may carry that never change what it does. */
export const genericFields = new Set([
  '$db', 'lsid', 'txnNumber', 'autocommit', 'startTransaction', 'writeConcern', 'readConcern', '$clusterTime', '$readPreference',
  'comment', 'maxTimeMS', 'apiVersion', 'apiStrict', 'apiDeprecationErrors', '$audit', 'readPreference',
]);
