// Self-checks of the runner's server-independent parts: matcher, error checks, event checks, URI
// building, version logic and the operation tables against the spec files that are present.
//   npx tsx emulator/spec/selftest.ts
import { Binary, EJSON, Int32, Long, ObjectId } from 'bson';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, MongoInvalidArgumentError, MongoServerError, MongoTransactionError } from 'mongodb';
import { exactEquals, type Doc } from './bson-values.js';
import { CORE_FILES } from './core.js';
import { tolerateDriver } from './driver-tolerances.js';
import { checkExpectedEvents, EventRecorder } from './events.js';
import { checkExpectedError } from './expect-error.js';
import { AssertionFailure } from './failures.js';
import type { UnifiedFile } from './format.js';
import { match, type MatchEntities } from './match.js';
import { uriWithOptions } from './options.js';
import { compareVersions, parseVersion, requirementsUnmet, uriHasCredentials, type ServerInfo } from './requirements.js';
import { unsupportedFeature } from './support.js';

let passed = 0;
let failed = 0;
function check(name: string, ok: boolean, detail = ''): void {
  if (ok) passed++;
  else {
    failed++;
    console.log(`FAIL ${name}${detail ? `: ${detail}` : ''}`);
  }
}
const lsid = { id: new Binary(Buffer.alloc(16, 7), 4) };
const entities: MatchEntities = {
  value: (n) => (n === 'saved' ? { a: 1 } : undefined),
  sessionLsid: (n) => (n === 'session0' ? lsid : undefined),
};

const matches = (e: unknown, a: unknown, o: Parameters<typeof match>[2] = {}): boolean =>
  match(e, a, { entities, ...o }) === undefined;
const j = (s: string): unknown => EJSON.parse(s, { relaxed: true });

// --- matcher
check('extra keys at root', matches({ x: 1 }, { x: 1, y: 2 }));
check('no extra keys nested', !matches({ x: { y: 1 } }, { x: { y: 1, z: 1 } }));
check('missing key', !matches({ x: 1, y: 1 }, { x: 1 }));
check('key order free', matches({ x: 1, y: 1 }, { y: 1, x: 1 }));
check('int vs double', matches(1, 1.0) && matches(new Int32(1), 1) && matches(j('{"$numberLong":"1"}'), Long.fromNumber(1)));
check('1 vs 1.5', !matches(1, 1.5));
check('string vs number', !matches('1', 1));
check('array length', !matches([1, 2, 3], [1, 2, 3, 4]));
check('array docs non-root', !matches([{ x: 1 }], [{ x: 1, y: 1 }]));
check('iterated docs root', matches([{ x: 1 }], [{ x: 1, y: 1 }], { rootElements: true }));
check('iterated docs count', !matches([{ x: 1 }], [{ x: 1 }, { x: 2 }], { rootElements: true }));
check('$$exists true', matches({ a: { $$exists: true } }, { a: null }));
check('$$exists false', matches({ a: { $$exists: false } }, { b: 1 }) && !matches({ a: { $$exists: false } }, { a: 1 }));
check('$$exists false nested', matches({ c: { a: { $$exists: false } } }, { c: {} }));
check('$$unsetOrMatches unset', matches({ a: { $$unsetOrMatches: 1 } }, {}));
check('$$unsetOrMatches wrong', !matches({ a: { $$unsetOrMatches: 1 } }, { a: 2 }));
check('$$unsetOrMatches root absent', matches({ $$unsetOrMatches: { insertedId: 1 } }, undefined));
check('$$unsetOrMatches keeps root', matches({ $$unsetOrMatches: { insertedId: 1 } }, { insertedId: 1, acknowledged: true }));
check('$$type int/long', matches({ t: { $$type: ['int', 'long'] } }, { t: Long.fromNumber(5) }) && matches({ t: { $$type: ['int', 'long'] } }, { t: 5 }));
check('$$type string/object', matches({ $$type: ['string', 'object'] }, 'x') && !matches({ $$type: ['string', 'object'] }, 3));
check('$$type missing', !matches({ t: { $$type: 'int' } }, {}));
check('$$type objectId', matches({ $$type: 'objectId' }, new ObjectId()));
check('$$sessionLsid', matches({ lsid: { $$sessionLsid: 'session0' } }, { lsid: { id: new Binary(Buffer.alloc(16, 7), 4) } }));
check('$$sessionLsid differs', !matches({ lsid: { $$sessionLsid: 'session0' } }, { lsid: { id: new Binary(Buffer.alloc(16, 8), 4) } }));
check('$$lte', matches({ $$lte: 5 }, 5.0) && matches({ $$lte: 5 }, 0) && !matches({ $$lte: 5 }, 5.5));
check('$$matchesEntity', matches({ v: { $$matchesEntity: 'saved' } }, { v: { a: 1 } }, { entities }));
check('$$matchesHexBytes', matches({ $$matchesHexBytes: '0a0B' }, new Binary(Buffer.from([10, 11]))));
check('null', matches({ a: null }, { a: null }) && !matches({ a: null }, {}));
check('nested array of docs exact', !matches({ a: [{ x: 1 }] }, { a: [{ x: 1, y: 2 }] }));
check('binary equal', matches(new Binary(Buffer.from([1])), new Binary(Buffer.from([1]))));
check('doc vs scalar', !matches({ a: 1 }, 5) && !matches(5, { a: 1 }));

// --- outcome equality
check('exact equal', exactEquals([{ _id: 1, x: { y: 1 } }], [{ x: { y: 1 }, _id: 1 }]));
check('exact extra key', !exactEquals([{ _id: 1 }], [{ _id: 1, x: 1 }]));

// --- versions, requirements, URIs
check('version order', compareVersions(parseVersion('4.0.10'), parseVersion('4.0.9')) > 0 && compareVersions(parseVersion('3.6'), parseVersion('4.2.0')) < 0);
check('version suffix', compareVersions(parseVersion('4.9.0-alpha4-271-g7d5cf02'), parseVersion('4.9')) === 0);
const info: ServerInfo = { version: [7, 0, 0], versionText: '7.0.0', topology: 'replicaset', auth: false, secondaries: 0, parameter: async () => undefined };
const reqs = async (r: unknown): Promise<string | undefined> => requirementsUnmet(r as never, info);
check('req met', (await reqs([{ minServerVersion: '4.0', topologies: ['replicaset'] }])) === undefined);
check('req any of', (await reqs([{ topologies: ['sharded'] }, { maxServerVersion: '7.0.5' }])) === undefined);
check('req unmet', (await reqs([{ minServerVersion: '8.0' }, { topologies: ['single'] }])) !== undefined);
check('req params', (await reqs([{ serverParameters: { enableTestCommands: true } }])) !== undefined);
check('req auth', (await reqs([{ auth: true }])) !== undefined && (await reqs([{ auth: false }])) === undefined);
check('credentials', uriHasCredentials('mongodb://u:p@h:1/') && !uriHasCredentials('mongodb://h:1/?authSource=admin'));
const u1 = uriWithOptions('mongodb://h1:1,h2:2/?replicaSet=rs&w=1', { w: 'majority', retryWrites: false });
check('uri options override', u1 === 'mongodb://h1:1,h2:2/?replicaSet=rs&w=majority&retryWrites=false', u1);
const u2 = uriWithOptions('mongodb://u:p@h1:1,h2:2', { appname: 'x' }, true);
check('uri first host', u2 === 'mongodb://u:p@h1:1/?appname=x', u2);
const u3 = uriWithOptions('mongodb://h1:1/db?replicaSet=rs', { directConnection: true }, true, 'h9:9');
check('uri host', u3 === 'mongodb://h9:9/db?directConnection=true', u3);

// --- expectError
const serverErr = new MongoServerError({ message: 'E11000 duplicate key', errmsg: 'E11000 duplicate key', code: 11000, codeName: 'DuplicateKey', errorLabels: ['X'] });
const errOk = (exp: object, err: unknown): boolean => {
  try {
    checkExpectedError(exp, err, entities);
    return true;
  } catch (e) {
    if (e instanceof AssertionFailure) return false;
    throw e;
  }
};
check('error code', errOk({ errorCode: 11000, errorCodeName: 'duplicatekey', isClientError: false }, serverErr));
check('error code wrong', !errOk({ errorCode: 11001 }, serverErr));
check('error contains', errOk({ errorContains: 'DUPLICATE' }, serverErr) && !errOk({ errorContains: 'nope' }, serverErr));
check('error labels', errOk({ errorLabelsContain: ['X'], errorLabelsOmit: ['Y'] }, serverErr) && !errOk({ errorLabelsOmit: ['X'] }, serverErr));
check('error response', errOk({ errorResponse: { code: 11000 } }, serverErr));
check('client error', errOk({ isClientError: true }, new MongoInvalidArgumentError('bad')) && !errOk({ isClientError: true }, serverErr));
check('client error not a TypeError', !errOk({ isClientError: true }, new TypeError('runner bug')));
check('txn error', errOk({ isClientError: true, errorContains: 'cannot call' }, new MongoTransactionError('Cannot call commitTransaction twice')));
check('no code on client error', !errOk({ errorCode: 1 }, new MongoInvalidArgumentError('bad')));

// --- events (emitted by hand on an unconnected client)
const fake = new MongoClient('mongodb://127.0.0.1:9');
const rec = new EventRecorder(fake, { observe: ['commandStartedEvent'], ignoreCommands: ['ping'], observeSensitive: false });
const started = (commandName: string, command: Doc): object => ({ commandName, command, databaseName: 'db', serverConnectionId: null });
fake.emit('commandStarted', started('insert', { insert: 'c', lsid, txnNumber: Long.fromNumber(1) }) as never);
fake.emit('commandStarted', started('configureFailPoint', {}) as never);
fake.emit('commandStarted', started('ping', { ping: 1 }) as never);
fake.emit('commandStarted', started('saslStart', {}) as never);
fake.emit('commandStarted', started('find', { find: 'c', lsid }) as never);
const evOk = (events: Doc[], ignoreExtraEvents = false): boolean => {
  try {
    checkExpectedEvents({ client: 'client0', events, ignoreExtraEvents }, rec, entities);
    return true;
  } catch (e) {
    if (e instanceof AssertionFailure) return false;
    throw e;
  }
};
const ins = { commandStartedEvent: { commandName: 'insert', databaseName: 'db', command: { insert: 'c', lsid: { $$sessionLsid: 'session0' }, txnNumber: j('{"$numberLong":"1"}') } } };
const fnd = { commandStartedEvent: { command: { find: 'c', readConcern: { $$exists: false } } } };
check('events match', evOk([ins, fnd]));
check('events extra', !evOk([ins]) && evOk([ins], true));
check('events missing', !evOk([ins, fnd, fnd]));
check('events order', !evOk([fnd, ins]));

// --- driver tolerances (see driver-tolerances.ts)
const tol = (exp: Doc, act: Doc, name: string): boolean => {
  const [e, a] = tolerateDriver(exp, act, name);
  return matches(e, a);
};
check('wtimeout 10000 tolerated', tol({ writeConcern: { w: 'majority' } }, { commitTransaction: 1, writeConcern: { w: 'majority', wtimeout: 10000 } }, 'commitTransaction'));
check('other wtimeout not tolerated', !tol({ writeConcern: { w: 'majority' } }, { commitTransaction: 1, writeConcern: { w: 'majority', wtimeout: 5000 } }, 'commitTransaction'));
check('wtimeout only for txn commands', !tol({ writeConcern: { w: 1 } }, { insert: 'c', writeConcern: { w: 1, wtimeout: 10000 } }, 'insert'));
const act = { insert: 'c', lsid };
check('afterClusterTime on plain write tolerated', tol({ readConcern: { afterClusterTime: { $$exists: true } } }, act, 'insert'));
check('afterClusterTime in txn not tolerated', !tol({ readConcern: { afterClusterTime: { $$exists: true } } }, { ...act, autocommit: false }, 'insert'));
check('afterClusterTime on reads not tolerated', !tol({ readConcern: { afterClusterTime: { $$exists: true } } }, { find: 'c' }, 'find'));
check('readConcern level not tolerated', !tol({ readConcern: { level: 'local' } }, act, 'insert'));

// --- operation tables against the spec files (nothing core may be unsupported)
const here = dirname(fileURLToPath(import.meta.url));
const specDir = process.env.MONGODB_SPEC_TESTS ? resolve(process.env.MONGODB_SPEC_TESTS) : join(here, 'data');
if (existsSync(specDir)) {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : n.endsWith('.json') ? [join(d, n)] : []));
  const reasons = new Map<string, number>();
  let scanned = 0;
  for (const path of walk(specDir)) {
    const file = EJSON.parse(readFileSync(path, 'utf8'), { relaxed: true }) as UnifiedFile;
    const rel = path.slice(specDir.length + 1);
    for (const t of file.tests) {
      scanned++;
      const why = unsupportedFeature(file, t);
      if (why) {
        reasons.set(why, (reasons.get(why) ?? 0) + 1);
        check(`core test supported: ${rel} / ${t.description}`, !CORE_FILES.includes(rel), why);
      }
    }
  }
  console.log(`  note: ${scanned} spec tests scanned for unimplemented features`);
  for (const [why, n] of reasons) console.log(`  note: ${n} test(s) need unimplemented ${why}`);
} else check('spec folder present', false, `not found at ${specDir}`);

await fake.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
