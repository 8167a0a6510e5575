// Replica-set membership of the one node: replSetInitiate and replSetGetStatus, and what a node
// started with --replSet but never initiated answers (docker-compose's mongo health check runs
// `rs.initiate` against exactly such a node).
import { Long } from 'bson';
import type { Handler } from '../context.js';
import { Codes, MongoCommandError } from '../errors.js';
import { isPlainObject, type Doc } from '../values.js';

const InvalidReplicaSetConfig = 93;
const NotYetInitialized = 94;
const AlreadyInitialized = 23;

/** What a node answers before initiation: a set member without a config (mongod's "RSGhost"). */
export function uninitializedHello(legacy: boolean, base: Doc): Doc {
  const { hosts: _h, setName: _s, setVersion: _v, primary: _p, me: _m, electionId: _e, lastWrite: _l, ...rest } = base;
  return {
    ...rest,
    [legacy ? 'ismaster' : 'isWritablePrimary']: false,
    secondary: false,
    isreplicaset: true,
    info: 'Does not have a valid replica set config',
  };
}

/**
 * Commands a node answers before initiation; everything else is refused as by mongod on a node
 * that is not primary: writes with NotWritablePrimary, reads with NotPrimaryNoSecondaryOk.
 */
const beforeInitiation = new Set([
  'hello', 'isMaster', 'buildInfo', 'ping', 'getParameter', 'endSessions', 'whatsmyuri', 'connectionStatus',
  'serverStatus', 'configureFailPoint', 'replSetInitiate', 'replSetGetStatus', 'killAllSessions', 'killSessions',
]);
const writes = new Set([
  'insert', 'update', 'delete', 'findAndModify', 'create', 'drop', 'dropDatabase', 'createIndexes', 'dropIndexes',
  'collMod', 'commitTransaction', 'abortTransaction',
]);

export function refuseBeforeInitiation(cmd: string): MongoCommandError | undefined {
  if (beforeInitiation.has(cmd)) return undefined;
  return writes.has(cmd)
    ? new MongoCommandError(Codes.NotWritablePrimary, 'not primary')
    : new MongoCommandError(Codes.NotPrimaryNoSecondaryOk, 'not primary and secondaryOk=false');
}

/** { replSetInitiate: { _id, members: [{ _id, host }] } }: the one member becomes primary. */
export const replSetInitiate: Handler = (ctx) => {
  if (ctx.db !== 'admin') throw new MongoCommandError(Codes.Unauthorized, 'replSetInitiate may only be run against the admin database.');
  const s = ctx.state;
  if (s.replSetInitiated) throw new MongoCommandError(AlreadyInitialized, 'already initialized', { codeName: 'AlreadyInitialized' });
  const config = ctx.body.replSetInitiate;
  // mongod fills in a one-member config of its own for an empty one; so does the emulator.
  if (config === null || config === undefined || (isPlainObject(config) && Object.keys(config).length === 0)) {
    s.initiateReplicaSet(s.address);
    return {};
  }
  const invalid = (why: string) => new MongoCommandError(InvalidReplicaSetConfig, why, { codeName: 'InvalidReplicaSetConfig' });
  if (!isPlainObject(config)) throw new MongoCommandError(Codes.TypeMismatch, 'replSetInitiate takes a config document');
  if (config._id !== s.setName) {
    throw invalid(`Attempting to initiate a replica set with name ${String(config._id)}, but command line reports ${s.setName}; rejecting`);
  }
  const members = config.members;
  if (!Array.isArray(members) || members.length === 0) throw invalid('replica set configuration must have at least one member');
  // The emulator is one node: a config naming others would describe a set it cannot be.
  if (members.length > 1) throw new MongoCommandError(Codes.NotImplemented, 'The emulator is a single node; a replica set config may name only one member');
  const member = members[0] as unknown;
  if (!isPlainObject(member) || typeof member.host !== 'string' || !/^[^:\s]+:\d+$/.test(member.host)) {
    throw invalid('each member needs a host of the form host:port');
  }
  s.initiateReplicaSet(member.host);
  return {};
};

export const replSetGetStatus: Handler = (ctx) => {
  if (ctx.db !== 'admin') throw new MongoCommandError(Codes.Unauthorized, 'replSetGetStatus may only be run against the admin database.');
  const s = ctx.state;
  if (!s.replSetInitiated) {
    throw new MongoCommandError(NotYetInitialized, 'no replset config has been received', { codeName: 'NotYetInitialized' });
  }
  const now = new Date();
  return {
    set: s.setName,
    date: now,
    myState: 1,
    term: Long.fromNumber(1),
    members: [{ _id: 0, name: s.address, health: 1, state: 1, stateStr: 'PRIMARY', self: true, optimeDate: now }],
  };
};
