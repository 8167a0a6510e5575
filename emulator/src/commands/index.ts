// Command name -> handler. Names are matched case-sensitively like mongod, plus its legacy aliases.
import type { Handler } from '../context.js';
import * as admin from './admin.js';
import * as catalog from './catalog.js';
import { collMod } from './collection-options.js';
import * as read from './read.js';
import { replSetGetStatus, replSetInitiate } from './replset.js';
import * as write from './write.js';

export const handlers: Record<string, Handler> = {
  hello: admin.hello,
  isMaster: admin.isMaster,
  ismaster: admin.isMaster,
  buildInfo: admin.buildInfo,
  buildinfo: admin.buildInfo,
  ping: admin.ping,
  getParameter: admin.getParameter,
  setParameter: admin.setParameter,
  endSessions: admin.endSessions,
  killAllSessions: admin.killAllSessions,
  killAllSessionsByPattern: admin.killAllSessionsByPattern,
  killSessions: admin.killSessions,
  commitTransaction: admin.commitTransaction,
  abortTransaction: admin.abortTransaction,
  configureFailPoint: admin.configureFailPoint,
  whatsmyuri: admin.whatsmyuri,
  connectionStatus: admin.connectionStatus,
  serverStatus: admin.serverStatus,
  replSetInitiate,
  replSetGetStatus,
  listDatabases: catalog.listDatabases,
  dropDatabase: catalog.dropDatabase,
  listCollections: catalog.listCollections,
  create: catalog.create,
  collMod,
  drop: catalog.drop,
  createIndexes: catalog.createIndexes,
  listIndexes: catalog.listIndexes,
  dropIndexes: catalog.dropIndexes,
  insert: write.insert,
  update: write.update,
  delete: write.del,
  findAndModify: write.findAndModify,
  findandmodify: write.findAndModify,
  find: read.find,
  getMore: read.getMore,
  killCursors: read.killCursors,
  count: read.count,
  distinct: read.distinct,
  aggregate: read.aggregate,
};

/** Canonical name used for fail points and transaction rules. */
export function canonicalName(name: string): string {
  if (name === 'ismaster') return 'isMaster';
  if (name === 'findandmodify') return 'findAndModify';
  if (name === 'buildinfo') return 'buildInfo';
  return name;
}

/** Real mongod commands the emulator does not implement: refused with NotImplemented, not "no such command". */
export const refusedCommands = new Set([
  'renameCollection', 'mapReduce', 'validate', 'compact', 'reIndex', 'explain', 'geoNear', 'geoSearch', 'currentOp',
  'killOp', 'fsync', 'fsyncUnlock', 'dbStats', 'collStats', 'dataSize', 'convertToCapped', 'cloneCollectionAsCapped',
  'createUser', 'dropUser', 'updateUser', 'usersInfo', 'createRole', 'saslStart', 'saslContinue', 'authenticate', 'logout',
  'replSetGetConfig', 'replSetStepDown', 'shutdown', 'setFeatureCompatibilityVersion', 'bulkWrite',
  'listSearchIndexes', 'createSearchIndexes', 'dropSearchIndex', 'updateSearchIndex', 'refreshSessions', 'startSession',
  'getLog', 'getCmdLineOpts', 'hostInfo', 'top', 'profile', 'analyze', 'checkMetadataConsistency',
  'clearJumboFlag', 'cleanupOrphaned', 'getDefaultRWConcern', 'setDefaultRWConcern', 'aggregateClusterTime',
]);
