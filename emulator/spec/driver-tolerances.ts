// The places where the runner bends a command-event comparison to the `mongodb` 6.x driver. Each
// concerns only what the driver puts into a command it sends, identically for any server, so it
// says nothing about the server under test; everything else in the event is still compared.
import { isDocument, type Doc } from './bson-values.js';
import { specialOperator } from './match.js';

const WRITES = new Set(['insert', 'update', 'delete']);

/**
 * 1. mongodb 6.x sends `wtimeout: 10000` in the write concern of every commitTransaction and
 *    abortTransaction whose transaction or client has a write concern (lib/sessions.js:
 *    `{ wtimeoutMS: 10000, w: 'majority', ...wc }`); the transactions spec adds it only when a
 *    commit is retried. When the expected write concern does not mention wtimeout, a wtimeout of
 *    exactly 10000 is left out of the comparison.
 * 2. The spec data expects readConcern.afterClusterTime on insert/update/delete sent outside a
 *    transaction in a causally consistent session; mongodb 6.x sends readConcern only with
 *    aggregate/count/distinct/find (lib/utils.js commandSupportsReadConcern). When such a write
 *    carries no readConcern at all and the expectation asks only for afterClusterTime, the
 *    readConcern expectation is left out.
 */
export function tolerateDriver(expected: unknown, actual: unknown, commandName: unknown): [unknown, unknown] {
  if (!isDocument(expected) || !isDocument(actual)) return [expected, actual];
  if ((commandName === 'commitTransaction' || commandName === 'abortTransaction') && isDocument(actual.writeConcern)) {
    const expWc = expected.writeConcern;
    if (isDocument(expWc) && !specialOperator(expWc) && !('wtimeout' in expWc)) {
      const { wtimeout, ...rest } = actual.writeConcern;
      if (Number(wtimeout) === 10000) return [expected, { ...actual, writeConcern: rest }];
    }
  }
  if (WRITES.has(String(commandName)) && actual.readConcern === undefined && actual.autocommit === undefined) {
    const rc = expected.readConcern;
    if (isDocument(rc) && !specialOperator(rc) && onlyAfterClusterTime(rc)) {
      const { readConcern: _dropped, ...rest } = expected;
      return [rest, actual];
    }
  }
  return [expected, actual];
}

function onlyAfterClusterTime(rc: Doc): boolean {
  return Object.entries(rc).every(([k, v]) => {
    const op = specialOperator(v);
    if (k === 'afterClusterTime') return op !== undefined && op[0] === '$$exists' && op[1] === true;
    return op !== undefined && op[0] === '$$exists' && op[1] === false;
  });
}
