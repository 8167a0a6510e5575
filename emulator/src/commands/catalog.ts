// Databases, collections and indexes: listDatabases, dropDatabase, listCollections, create, drop,
// createIndexes, listIndexes, dropIndexes.
import { UUID } from 'bson';
import { collectionName, ensureCollection, getCollection, refuseView, untilUnblocked, type Handler } from '../context.js';
import { BlockedByTransaction, Codes, MongoCommandError } from '../errors.js';
import { Index, sameIndex, validateIndexSpec, type IndexSpec } from '../indexes.js';
import { compileFilter } from '../query.js';
import { Collection } from '../storage.js';
import { duplicateKey } from '../txn.js';
import { isPlainObject, keyOf, type Doc } from '../values.js';
import { applyValidation, validationFields, viewDefinition } from './collection-options.js';
import { commandCollation, genericFields } from './common.js';

/** create options that change nothing observable here. */
const harmlessCreateOptions = new Set(['autoIndexId', 'storageEngine', 'indexOptionDefaults', 'flags']);

const collectionUuids = new WeakMap<Collection, UUID>();
const uuidOf = (c: Collection): UUID => {
  let u = collectionUuids.get(c);
  if (!u) collectionUuids.set(c, (u = new UUID()));
  return u;
};

function liveCount(c: Collection): number {
  let n = 0;
  for (const chain of c.chains.values()) if (chain.latest()?.doc) n++;
  return n;
}

export const listDatabases: Handler = (ctx) => {
  const dbs = [...ctx.state.store.dbs.entries()].filter(([, colls]) => [...colls.values()].some((c) => !c.pendingTxn));
  const nameOnly = ctx.body.nameOnly === true;
  let out: Doc[] = dbs.map(([name, colls]) => {
    const size = [...colls.values()].reduce((s, c) => s + liveCount(c) * 64, 0);
    return nameOnly ? { name } : { name, sizeOnDisk: size, empty: size === 0 };
  });
  if (isPlainObject(ctx.body.filter)) out = out.filter(compileFilter(ctx.body.filter));
  if (nameOnly) return { databases: out };
  return { databases: out, totalSize: out.reduce((s, d) => s + Number(d.sizeOnDisk ?? 0), 0), totalSizeMb: 0 };
};

export const dropDatabase: Handler = (ctx) => {
  const store = ctx.state.store;
  for (const name of [...(store.dbs.get(ctx.db)?.keys() ?? [])]) store.dropCollection(ctx.db, name);
  store.views.delete(ctx.db);
  return { dropped: ctx.db };
};

export const listCollections: Handler = (ctx) => {
  const colls = [...(ctx.state.store.dbs.get(ctx.db)?.values() ?? [])].filter((c) => !c.pendingTxn);
  const nameOnly = ctx.body.nameOnly === true;
  let docs: Doc[] = colls.map((c) => ({
    name: c.name,
    type: 'collection',
    options: { ...c.options },
    info: { readOnly: false, uuid: uuidOf(c) },
    idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
  }));
  for (const [name, v] of ctx.state.store.views.get(ctx.db) ?? []) {
    docs.push({ name, type: 'view', options: { viewOn: v.viewOn, pipeline: v.pipeline }, info: { readOnly: true } });
  }
  if (isPlainObject(ctx.body.filter)) docs = docs.filter(compileFilter(ctx.body.filter));
  if (nameOnly) docs = docs.map((d) => ({ name: d.name, type: d.type }));
  const cursor = isPlainObject(ctx.body.cursor) ? ctx.body.cursor : {};
  const batchSize = typeof cursor.batchSize === 'number' ? cursor.batchSize : undefined;
  return ctx.state.cursors.first(`${ctx.db}.$cmd.listCollections`, docs, batchSize, false, ctx.session?.id);
};

/**
 * A default collation on a collection or view would change every command's comparisons and its
 * indexes' keys: only the simple one (a no-op) is accepted; others are parsed (malformed ones fail
 * like mongod's) and then refused.
 */
function refuseDefaultCollation(raw: unknown, what: string): void {
  if (commandCollation(raw)) throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support ${what} with a default collation (only the simple binary comparison)`);
}

export const create: Handler = async (ctx) => {
  const name = collectionName(ctx);
  const b = ctx.body;
  const isView = b.viewOn !== undefined;
  const options: Doc = {};
  for (const [k, v] of Object.entries(b)) {
    if (k === 'create' || genericFields.has(k)) continue;
    if (isView && k !== 'viewOn' && k !== 'pipeline') {
      if (k === 'collation') refuseDefaultCollation(v, 'views');
      else throw new MongoCommandError(Codes.InvalidOptions, `option not supported on a view: ${k}`);
    } else if (!isView && k === 'pipeline') {
      throw new MongoCommandError(Codes.InvalidOptions, "'pipeline' requires 'viewOn' to also be specified");
    } else if (!isView && k === 'collation') {
      refuseDefaultCollation(v, 'collections');
    } else if (!isView && !harmlessCreateOptions.has(k) && !validationFields.has(k)) {
      throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support the collection option '${k}'`);
    }
    options[k] = v;
  }
  const store = ctx.state.store;
  const exists = (): boolean => !!store.view(ctx.db, name) || !!store.collection(ctx.db, name, ctx.txn);
  const already = (): MongoCommandError => new MongoCommandError(Codes.NamespaceExists, `Collection ${ctx.db}.${name} already exists.`);
  if (isView) {
    if (exists()) throw already();
    const def = viewDefinition(ctx, name);
    await untilUnblocked(ctx, () => {
      // A collection another transaction is creating under this name: wait for that transaction.
      const pending = store.dbs.get(ctx.db)?.get(name)?.pendingTxn;
      if (pending) throw new BlockedByTransaction(pending.ended);
      if (exists()) throw already();
      store.createView(ctx.db, name, def);
    });
    return {};
  }
  // Compile the validator before creating anything, so that a refused one creates nothing.
  const probe = new Collection(store, ctx.db, name);
  applyValidation(probe, options);
  await untilUnblocked(ctx, () => {
    if (exists()) throw already();
    const coll = store.createCollection(ctx.db, name, options, ctx.txn);
    coll.validator = probe.validator;
  });
  return {};
};

export const drop: Handler = (ctx) => {
  const name = collectionName(ctx);
  if (ctx.state.store.dropView(ctx.db, name)) return { ns: `${ctx.db}.${name}` };
  const coll = getCollection(ctx, name);
  if (!coll) return {};
  const nIndexesWas = coll.indexes.size;
  ctx.state.store.dropCollection(ctx.db, name);
  return { nIndexesWas, ns: `${ctx.db}.${name}` };
};

/** Refuses a unique index over data that already violates it, like mongod's index build. */
function checkExistingUnique(coll: Collection, spec: IndexSpec): void {
  if (!spec.unique) return;
  const probe = new Index(spec);
  const seen = new Map<string, Doc>();
  for (const chain of coll.chains.values()) {
    const doc = chain.latest()?.doc;
    if (!doc) continue;
    for (const k of probe.fullKeys(doc)) {
      if (seen.has(k)) throw duplicateKey(coll, probe, doc, k);
      seen.set(k, doc);
    }
  }
}

export const createIndexes: Handler = async (ctx) => {
  const name = collectionName(ctx);
  const specs = ctx.body.indexes;
  if (!Array.isArray(specs) || specs.length === 0) throw new MongoCommandError(Codes.BadValue, 'Must specify at least one index to create');
  const store = ctx.state.store;
  const existing = store.collection(ctx.db, name, ctx.txn);
  // In a transaction, indexes may only be built on a collection the same transaction created.
  if (existing && ctx.txn && existing.pendingTxn !== ctx.txn) {
    throw new MongoCommandError(Codes.OperationNotSupportedInTransaction, `Cannot create new indexes on existing collection ${ctx.db}.${name} in a multi-document transaction.`);
  }
  const validated = specs.map(validateIndexSpec);
  const created = !existing;
  const coll = existing ?? (await ensureCollection(ctx, name));
  const before = coll.indexes.size;
  for (const spec of validated) {
    const sameName = coll.indexes.get(spec.name);
    if (sameName) {
      if (sameIndex(sameName.spec, spec)) continue;
      if (keyOf(sameName.spec.key) === keyOf(spec.key)) {
        throw new MongoCommandError(Codes.IndexOptionsConflict, `An equivalent index already exists with the same name but different options. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(sameName.spec)}`);
      }
      throw new MongoCommandError(Codes.IndexKeySpecsConflict, `An existing index has the same name as the requested index. When index names are not specified, they are auto computed and can cause conflicts. Please refer to our documentation. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(sameName.spec)}`);
    }
    for (const ix of coll.indexes.values()) {
      if (keyOf(ix.spec.key) === keyOf(spec.key) && keyOf(ix.spec.partialFilterExpression) === keyOf(spec.partialFilterExpression)) {
        if (sameIndex(ix.spec, spec)) throw new MongoCommandError(Codes.IndexOptionsConflict, `Index already exists with a different name: ${ix.name}`);
        throw new MongoCommandError(Codes.IndexOptionsConflict, `An equivalent index already exists with the same name but different options. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(ix.spec)}`);
      }
    }
    checkExistingUnique(coll, spec);
    coll.addIndex(spec);
  }
  const reply: Doc = { numIndexesBefore: before, numIndexesAfter: coll.indexes.size, createdCollectionAutomatically: created };
  if (coll.indexes.size === before) reply.note = 'all indexes already exist';
  return reply;
};

export const listIndexes: Handler = (ctx) => {
  const name = collectionName(ctx);
  refuseView(ctx, name);
  const coll = getCollection(ctx, name);
  if (!coll) throw new MongoCommandError(Codes.NamespaceNotFound, `ns does not exist: ${ctx.db}.${name}`);
  const docs = [...coll.indexes.values()].map((ix) => ({ ...ix.spec }));
  const cursor = isPlainObject(ctx.body.cursor) ? ctx.body.cursor : {};
  const batchSize = typeof cursor.batchSize === 'number' ? cursor.batchSize : undefined;
  return ctx.state.cursors.first(`${ctx.db}.$cmd.listIndexes.${name}`, docs, batchSize, false, ctx.session?.id);
};

export const dropIndexes: Handler = (ctx) => {
  const name = collectionName(ctx);
  refuseView(ctx, name);
  const coll = getCollection(ctx, name);
  if (!coll) throw new MongoCommandError(Codes.NamespaceNotFound, `ns not found ${ctx.db}.${name}`);
  const nIndexesWas = coll.indexes.size;
  const arg = ctx.body.index;
  const dropOne = (ixName: string): void => {
    if (ixName === '_id_') throw new MongoCommandError(Codes.InvalidOptions, 'cannot drop _id index');
    if (!coll.indexes.delete(ixName)) throw new MongoCommandError(Codes.IndexNotFound, `index not found with name [${ixName}]`);
  };
  if (arg === '*') {
    for (const n of [...coll.indexes.keys()]) if (n !== '_id_') coll.indexes.delete(n);
  } else if (typeof arg === 'string') {
    dropOne(arg);
  } else if (Array.isArray(arg)) {
    for (const n of arg) if (!coll.indexes.has(String(n))) throw new MongoCommandError(Codes.IndexNotFound, `index not found with name [${String(n)}]`);
    for (const n of arg) dropOne(String(n));
  } else if (isPlainObject(arg)) {
    const found = [...coll.indexes.values()].find((ix) => keyOf(ix.spec.key) === keyOf(arg));
    if (!found) throw new MongoCommandError(Codes.IndexNotFound, `can't find index with key: ${JSON.stringify(arg)}`);
    dropOne(found.name);
  } else {
    throw new MongoCommandError(Codes.TypeMismatch, "BSON field 'dropIndexes.index' is the wrong type");
  }
  return { nIndexesWas };
};
