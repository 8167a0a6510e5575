// Handshake and server-level commands: hello/isMaster, buildInfo, ping, getParameter, sessions,
// transactions' commit/abort and configureFailPoint.
import { createHash } from 'node:crypto';
import { Binary, Long, ObjectId } from 'bson';
import type { Handler, Ctx } from '../context.js';
import { Codes, MongoCommandError } from '../errors.js';
import { sessionKey } from '../sessions.js';
import { isPlainObject, type Doc } from '../values.js';
import { genericFields } from './common.js';
import { uninitializedHello } from './replset.js';

export const MAX_WIRE_VERSION = 21;
const electionId = new ObjectId('7fffffff0000000000000001');

export function helloReply(ctx: Ctx, legacy: boolean): Doc {
  const s = ctx.state;
  const reply: Doc = {
    topologyVersion: { processId: s.processId, counter: Long.fromNumber(s.topologyCounter) },
    hosts: [s.address],
    setName: s.setName,
    setVersion: 1,
    [legacy ? 'ismaster' : 'isWritablePrimary']: true,
    secondary: false,
    primary: s.address,
    me: s.address,
    electionId,
    lastWrite: { lastWriteDate: new Date(), majorityWriteDate: new Date() },
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.conn.id,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
  };
  if (ctx.body.helloOk === true) reply.helloOk = true;
  return s.replSetInitiated ? reply : uninitializedHello(legacy, reply);
}

function recordClient(ctx: Ctx): void {
  const client = ctx.body.client;
  if (isPlainObject(client) && isPlainObject(client.application) && typeof client.application.name === 'string') {
    ctx.conn.appName = client.application.name;
  }
}

const helloLike =
  (legacy: boolean): Handler =>
  async (ctx) => {
    recordClient(ctx);
    // Awaitable hello (streaming SDAM): answer after maxAwaitTimeMS, or at once when the topology
    // changed (initiation) since the version the client knows, as mongod does.
    const wait = ctx.body.maxAwaitTimeMS;
    const known = ctx.body.topologyVersion;
    if (isPlainObject(known) && typeof wait === 'number' && wait > 0 && Number(known.counter) === ctx.state.topologyCounter) {
      await ctx.state.topologyChange(wait);
    }
    return helloReply(ctx, legacy);
  };

export const hello = helloLike(false);
export const isMaster = helloLike(true);

/**
 * How the emulator names itself in buildInfo. mongod never sends an `emulator` field and drivers
 * ignore unknown ones, so clients work unchanged while an application can tell it is talking to a
 * test double (the service refuses to start on it in production, DESIGN.md 5).
 */
export const EMULATOR_IDENTITY = { name: 'ticketing-mongodb-emulator', version: '1.0.0' } as const;

export const buildInfo: Handler = () => ({
  version: '7.0.0',
  gitVersion: 'emulator',
  versionArray: [7, 0, 0, 0],
  bits: 64,
  debug: false,
  maxBsonObjectSize: 16 * 1024 * 1024,
  storageEngines: ['emulator'],
  modules: [],
  javascriptEngine: 'none',
  emulator: { ...EMULATOR_IDENTITY },
});

export const ping: Handler = () => ({});

export const getParameter: Handler = (ctx) => {
  const params: Doc = {
    featureCompatibilityVersion: { version: '7.0' },
    transactionLifetimeLimitSeconds: Math.round(ctx.state.transactionLifetimeMs / 1000),
    maxTransactionLockRequestTimeoutMillis: 5,
    requireApiVersion: false,
    authenticationMechanisms: [],
  };
  if (ctx.body.getParameter === '*') return params;
  const out: Doc = {};
  for (const k of Object.keys(ctx.body)) {
    if (k === 'getParameter' || k.startsWith('$') || k === 'lsid') continue;
    if (!(k in params)) throw new MongoCommandError(Codes.InvalidOptions, `no option found to get: ${k}`);
    out[k] = params[k];
  }
  return out;
};

/**
 * setParameter on admin, as mongod: answers the previous value as `was`. Only
 * transactionLifetimeLimitSeconds is settable (whole seconds >= 1, applied to open transactions at
 * once, as mongod's periodic reaper would); other parameters are refused, not ignored.
 */
export const setParameter: Handler = (ctx) => {
  if (ctx.db !== 'admin') throw new MongoCommandError(Codes.Unauthorized, 'setParameter may only be run against the admin database.');
  const names = Object.keys(ctx.body).filter((k) => k !== 'setParameter' && !genericFields.has(k));
  if (names.length === 0) throw new MongoCommandError(Codes.BadValue, 'no option found to set, use help:true to see options ');
  const out: Doc = {};
  for (const name of names) {
    if (name !== 'transactionLifetimeLimitSeconds') {
      throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support setting the parameter '${name}' (only transactionLifetimeLimitSeconds)`);
    }
    const v = ctx.body[name];
    const n = typeof v === 'number' ? v : typeof v === 'object' && v !== null && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : NaN;
    if (!Number.isInteger(n)) throw new MongoCommandError(Codes.BadValue, `Invalid value for parameter transactionLifetimeLimitSeconds: ${String(v)} is not an integer`);
    if (n < 1) throw new MongoCommandError(Codes.BadValue, `Invalid value for parameter transactionLifetimeLimitSeconds: ${n} is not greater than or equal to 1`);
    if (out.was === undefined) out.was = Math.round(ctx.state.transactionLifetimeMs / 1000);
    ctx.state.transactionLifetimeMs = n * 1000;
  }
  return out;
};

export const endSessions: Handler = (ctx) => {
  const ids = ctx.body.endSessions;
  if (!Array.isArray(ids)) throw new MongoCommandError(Codes.TypeMismatch, "BSON field 'endSessions' must be an array");
  for (const lsid of ids) {
    const k = sessionKey(lsid);
    if (!k) continue;
    ctx.state.sessions.end(k);
    ctx.state.cursors.killSession(k);
  }
  return {};
};

/** Kills one session (or, with no key, every session): aborts its transaction, closes its cursors. */
function killSession(ctx: Ctx, key: string): void {
  ctx.state.sessions.kill(key);
  ctx.state.cursors.killSession(key);
}

const killAll = (ctx: Ctx): void => {
  for (const key of [...ctx.state.sessions.byId.keys()]) killSession(ctx, key);
};

function arrayArg(ctx: Ctx): unknown[] {
  const v = ctx.body[ctx.cmd];
  if (!Array.isArray(v)) throw new MongoCommandError(Codes.TypeMismatch, `BSON field '${ctx.cmd}' is the wrong type '${typeof v}', expected type 'array'`);
  return v;
}

/**
 * killSessions: [lsid, ...] (an empty list kills all sessions). Like mongod it aborts the sessions'
 * open transactions, which releases their write intents at once, and kills their cursors; the
 * sessions themselves stay usable for later transactions.
 */
export const killSessions: Handler = (ctx) => {
  const ids = arrayArg(ctx);
  if (ids.length === 0) killAll(ctx);
  for (const lsid of ids) {
    const key = sessionKey(lsid);
    if (!key) throw new MongoCommandError(Codes.FailedToParse, "BSON field 'killSessions.id' is missing but a required field");
    killSession(ctx, key);
  }
  return {};
};

/** Without authentication every session belongs to the same (unauthenticated) user, whose uid is SHA-256 of "". */
const anonymousUid = createHash('sha256').update('').digest('hex');

/**
 * killAllSessionsByPattern: [{lsid}, {uid}, {}...] (an empty list or an empty pattern kills all).
 * `users`/`roles` patterns need authentication, which the emulator does not have: refused.
 */
export const killAllSessionsByPattern: Handler = (ctx) => {
  const patterns = arrayArg(ctx);
  const keys = new Set<string>();
  let all = patterns.length === 0;
  for (const p of patterns) {
    if (!isPlainObject(p)) throw new MongoCommandError(Codes.TypeMismatch, 'a session pattern must be an object');
    for (const k of Object.keys(p)) {
      if (k === 'users' || k === 'roles') throw new MongoCommandError(Codes.NotImplemented, `The emulator has no authentication: killAllSessionsByPattern '${k}' patterns are not supported`);
      if (k !== 'lsid' && k !== 'uid') throw new MongoCommandError(40415, `BSON field 'KillAllSessionsByPattern.${k}' is an unknown field.`, { codeName: 'Location40415' });
    }
    if (p.uid !== undefined) {
      const uid = p.uid instanceof Binary ? Buffer.from(p.uid.buffer).toString('hex') : undefined;
      if (uid !== anonymousUid) continue;
    }
    if (p.lsid === undefined) {
      all = true;
      continue;
    }
    const key = sessionKey(p.lsid);
    if (!key) throw new MongoCommandError(Codes.FailedToParse, "BSON field 'KillAllSessionsByPattern.lsid.id' is missing but a required field");
    keys.add(key);
  }
  if (all) killAll(ctx);
  for (const key of keys) killSession(ctx, key);
  return {};
};

/** killAllSessions: [{user, db}, ...]; sessions here have no user, so only the empty list kills (all). */
export const killAllSessions: Handler = (ctx) => {
  const users = arrayArg(ctx);
  if (users.length === 0) killAll(ctx);
  return {};
};

export const commitTransaction: Handler = (ctx) => {
  ctx.session?.commitTxn();
  return {};
};

export const abortTransaction: Handler = (ctx) => {
  ctx.session?.abortTxn();
  return {};
};

export const configureFailPoint: Handler = (ctx) => {
  if (ctx.db !== 'admin') throw new MongoCommandError(Codes.Unauthorized, 'configureFailPoint may only be run against the admin database.');
  return ctx.state.failPoints.configure(ctx.body);
};

export const whatsmyuri: Handler = (ctx) => ({ you: ctx.conn.remote });

export const connectionStatus: Handler = () => ({ authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] } });

const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

export const serverStatus: Handler = (ctx) => ({
  host: ctx.state.address,
  version: '7.0.0',
  process: 'mongod',
  uptime: 0,
  localTime: new Date(),
  connections: { current: 0 },
  transactions: { currentOpen: ctx.state.store.openTxns.size },
  // Counters for tests and the benchmark (index use, commits, server CPU time).
  emulator: { ...ctx.state.store.stats, cpuMicros: cpuMicros() },
});
