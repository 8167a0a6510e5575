// Database, session and client operations.
import type { AnyClientBulkWriteModel, ClientSession, Db, MongoClient } from 'mongodb';
import { isDocument, type Doc } from './bson-values.js';
import { RunnerError, UnsupportedFeature } from './failures.js';
import type { OperationSpec } from './format.js';
import { arrayArg, docArg, pick, type OpDef } from './op-types.js';
import { transactionOptionsOf } from './options.js';
import { clientBulkResultDoc } from './results.js';

const S = ['session'];
const AGG_OPTS = [...S, 'batchSize', 'allowDiskUse', 'bypassDocumentValidation', 'collation', 'comment', 'hint', 'let', 'maxTimeMS', 'maxAwaitTimeMS'];
const CREATE_OPTS = [
  'capped',
  'size',
  'max',
  'validator',
  'validationLevel',
  'validationAction',
  'viewOn',
  'pipeline',
  'collation',
  'expireAfterSeconds',
  'timeseries',
  'clusteredIndex',
  'changeStreamPreAndPostImages',
  'indexOptionDefaults',
  'storageEngine',
];
const COLLMOD_OPTS = ['validator', 'validationLevel', 'validationAction', 'index', 'expireAfterSeconds', 'changeStreamPreAndPostImages', 'viewOn', 'pipeline'];

export const databaseOps: Record<string, OpDef<Db>> = {
  runCommand: {
    args: ['command', 'commandName', ...S, 'readPreference'],
    required: ['command'],
    run: (d, a) => d.command(docArg(a, 'command'), pick(a, [...S, 'readPreference'])),
  },
  aggregate: {
    args: ['pipeline', ...AGG_OPTS],
    required: ['pipeline'],
    rootElements: true,
    run: (d, a) => d.aggregate(arrayArg(a, 'pipeline'), pick(a, AGG_OPTS)).toArray(),
  },
  createCollection: {
    args: ['collection', ...S, ...CREATE_OPTS],
    required: ['collection'],
    run: async (d, a) => {
      await d.createCollection(String(a.collection), pick(a, [...S, ...CREATE_OPTS]));
      return undefined;
    },
  },
  dropCollection: {
    args: ['collection', ...S],
    required: ['collection'],
    run: (d, a) => d.dropCollection(String(a.collection), pick(a, S)),
  },
  listCollections: {
    args: ['filter', ...S, 'batchSize', 'nameOnly', 'authorizedCollections'],
    rootElements: true,
    run: (d, a) =>
      d.listCollections(isDocument(a.filter) ? a.filter : {}, pick(a, [...S, 'batchSize', 'nameOnly', 'authorizedCollections'])).toArray(),
  },
  listCollectionNames: {
    args: ['filter', ...S, 'batchSize'],
    run: async (d, a) =>
      (await d.listCollections(isDocument(a.filter) ? a.filter : {}, { ...pick(a, [...S, 'batchSize']), nameOnly: true }).toArray()).map(
        (c) => c.name,
      ),
  },
  // The driver has no collMod helper; the operation is the collMod command with its arguments.
  modifyCollection: {
    args: ['collection', ...COLLMOD_OPTS],
    required: ['collection'],
    run: (d, a) => d.command({ collMod: String(a.collection), ...pick(a, COLLMOD_OPTS) }),
  },
};

const TXN_OPTS = ['readConcern', 'writeConcern', 'readPreference', 'maxCommitTimeMS'];

export const sessionOps: Record<string, OpDef<ClientSession>> = {
  startTransaction: {
    args: TXN_OPTS,
    run: async (s, a, ctx) => {
      ctx.startedTransaction = true;
      s.startTransaction(transactionOptionsOf(pick(a, TXN_OPTS)));
      return undefined;
    },
  },
  commitTransaction: {
    args: [],
    run: async (s) => {
      await s.commitTransaction();
      return undefined;
    },
  },
  abortTransaction: {
    args: [],
    run: async (s) => {
      await s.abortTransaction();
      return undefined;
    },
  },
  endSession: {
    args: [],
    run: async (s) => {
      await s.endSession();
      return undefined;
    },
  },
  withTransaction: {
    args: ['callback', ...TXN_OPTS],
    required: ['callback'],
    run: async (s, a, ctx) => {
      ctx.startedTransaction = true;
      const callback = a.callback as OperationSpec[];
      if (!Array.isArray(callback)) throw new RunnerError('withTransaction callback must be a list of operations');
      await s.withTransaction(async () => {
        for (const op of callback) await ctx.runNested(op);
      }, transactionOptionsOf(pick(a, TXN_OPTS)));
      return undefined;
    },
  },
};

const CLIENT_BULK_FIELDS: Record<string, readonly string[]> = {
  insertOne: ['namespace', 'document'],
  updateOne: ['namespace', 'filter', 'update', 'upsert', 'arrayFilters', 'collation', 'hint', 'sort'],
  updateMany: ['namespace', 'filter', 'update', 'upsert', 'arrayFilters', 'collation', 'hint'],
  replaceOne: ['namespace', 'filter', 'replacement', 'upsert', 'collation', 'hint', 'sort'],
  deleteOne: ['namespace', 'filter', 'collation', 'hint'],
  deleteMany: ['namespace', 'filter', 'collation', 'hint'],
};

/** `{ insertOne: { namespace, document } }` -> the driver's `{ name: 'insertOne', namespace, document }`. */
function clientBulkModels(models: Doc[]): AnyClientBulkWriteModel<Doc>[] {
  return models.map((m) => {
    const keys = Object.keys(m);
    const fields = CLIENT_BULK_FIELDS[keys[0]];
    const body = m[keys[0]];
    if (keys.length !== 1 || !fields || !isDocument(body)) throw new RunnerError(`bad client bulk model ${keys.join(',')}`);
    for (const f of Object.keys(body)) if (!fields.includes(f)) throw new UnsupportedFeature(`${keys[0]} model field ${f}`);
    return { name: keys[0], ...body } as unknown as AnyClientBulkWriteModel<Doc>;
  });
}

const CLIENT_BULK_OPTS = [...S, 'ordered', 'bypassDocumentValidation', 'comment', 'let', 'verboseResults', 'writeConcern'];

export const clientOps: Record<string, OpDef<MongoClient>> = {
  clientBulkWrite: {
    args: ['models', ...CLIENT_BULK_OPTS],
    required: ['models'],
    run: async (c, a) => clientBulkResultDoc(await c.bulkWrite(clientBulkModels(arrayArg(a, 'models')), pick(a, CLIENT_BULK_OPTS))),
  },
  listDatabases: {
    args: ['filter', ...S, 'nameOnly', 'authorizedDatabases'],
    rootElements: true,
    run: async (c, a) => {
      const opts = pick(a, [...S, 'nameOnly', 'authorizedDatabases']);
      if (isDocument(a.filter)) opts.filter = a.filter;
      return (await c.db('admin').admin().listDatabases(opts)).databases;
    },
  },
  listDatabaseNames: {
    args: ['filter', ...S, 'authorizedDatabases'],
    run: async (c, a) => {
      const opts = { ...pick(a, [...S, 'authorizedDatabases']), nameOnly: true };
      if (isDocument(a.filter)) Object.assign(opts, { filter: a.filter });
      return (await c.db('admin').admin().listDatabases(opts)).databases.map((d) => d.name);
    },
  },
  close: {
    args: [],
    run: async (c) => {
      await c.close().catch(() => undefined);
      return undefined;
    },
  },
};
