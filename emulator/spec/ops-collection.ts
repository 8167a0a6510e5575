// Collection and cursor operations, mapped onto the driver's Collection and cursor APIs.
import type { AbstractCursor, AnyBulkWriteOperation, Collection, FindCursor } from 'mongodb';
import { isDocument, type Doc } from './bson-values.js';
import { RunnerError, UnsupportedFeature } from './failures.js';
import { arrayArg, docArg, pick, type OpDef } from './op-types.js';
import { bulkResultDoc } from './results.js';

type Coll = Collection<Doc>;

const S = ['session'];
const FIND_OPTS = [
  ...S,
  'sort',
  'projection',
  'skip',
  'limit',
  'batchSize',
  'collation',
  'comment',
  'hint',
  'let',
  'allowDiskUse',
  'maxTimeMS',
  'maxAwaitTimeMS',
  'min',
  'max',
  'returnKey',
  'showRecordId',
  'noCursorTimeout',
  'singleBatch',
  'allowPartialResults',
];
const AGG_OPTS = [...S, 'batchSize', 'allowDiskUse', 'bypassDocumentValidation', 'collation', 'comment', 'hint', 'let', 'maxTimeMS', 'maxAwaitTimeMS'];
const COUNT_OPTS = [...S, 'skip', 'limit', 'collation', 'hint', 'comment', 'maxTimeMS'];
const DELETE_OPTS = [...S, 'collation', 'hint', 'comment', 'let'];
const UPDATE_OPTS = [...S, 'upsert', 'arrayFilters', 'collation', 'hint', 'comment', 'let', 'bypassDocumentValidation'];
const REPLACE_OPTS = [...S, 'upsert', 'collation', 'hint', 'comment', 'let', 'bypassDocumentValidation', 'sort'];
const FAM_OPTS = [...S, 'sort', 'projection', 'collation', 'hint', 'comment', 'let', 'maxTimeMS'];
const FAM_WRITE_OPTS = [...FAM_OPTS, 'upsert', 'returnDocument', 'bypassDocumentValidation'];
const INDEX_OPTS = [...S, 'name', 'unique', 'sparse', 'expireAfterSeconds', 'partialFilterExpression', 'collation', 'hidden', 'commitQuorum', 'maxTimeMS', 'comment'];

/** "Before"/"After" (any case) to the driver's returnDocument option. */
function famOptions(a: Doc, keys: readonly string[]): Doc {
  const o = pick(a, keys);
  if (o.returnDocument !== undefined) {
    const v = String(o.returnDocument).toLowerCase();
    if (v !== 'before' && v !== 'after') throw new RunnerError(`bad returnDocument ${String(o.returnDocument)}`);
    o.returnDocument = v;
  }
  return o;
}

const MODEL_FIELDS: Record<string, readonly string[]> = {
  insertOne: ['document'],
  updateOne: ['filter', 'update', 'upsert', 'arrayFilters', 'collation', 'hint', 'sort'],
  updateMany: ['filter', 'update', 'upsert', 'arrayFilters', 'collation', 'hint'],
  replaceOne: ['filter', 'replacement', 'upsert', 'collation', 'hint', 'sort'],
  deleteOne: ['filter', 'collation', 'hint'],
  deleteMany: ['filter', 'collation', 'hint'],
};

/** The format's write models have the driver's shape already; check them so nothing is silently dropped. */
export function bulkModels(requests: Doc[]): AnyBulkWriteOperation<Doc>[] {
  return requests.map((r) => {
    const keys = Object.keys(r);
    const fields = MODEL_FIELDS[keys[0]];
    if (keys.length !== 1 || !fields) throw new RunnerError(`bad write model ${keys.join(',')}`);
    const body = r[keys[0]];
    if (!isDocument(body)) throw new RunnerError(`write model ${keys[0]} must be a document`);
    for (const f of Object.keys(body)) if (!fields.includes(f)) throw new UnsupportedFeature(`${keys[0]} model field ${f}`);
    return { [keys[0]]: body } as unknown as AnyBulkWriteOperation<Doc>;
  });
}

export const collectionOps: Record<string, OpDef<Coll>> = {
  aggregate: {
    args: ['pipeline', ...AGG_OPTS],
    required: ['pipeline'],
    rootElements: true,
    run: (c, a) => c.aggregate(arrayArg(a, 'pipeline'), pick(a, AGG_OPTS)).toArray(),
  },
  bulkWrite: {
    args: ['requests', ...S, 'ordered', 'bypassDocumentValidation', 'comment', 'let'],
    required: ['requests'],
    run: async (c, a) =>
      bulkResultDoc(await c.bulkWrite(bulkModels(arrayArg(a, 'requests')), pick(a, [...S, 'ordered', 'bypassDocumentValidation', 'comment', 'let']))),
  },
  countDocuments: {
    args: ['filter', ...COUNT_OPTS],
    required: ['filter'],
    run: (c, a) => c.countDocuments(docArg(a, 'filter'), pick(a, COUNT_OPTS)),
  },
  estimatedDocumentCount: {
    args: ['maxTimeMS', 'comment'],
    run: (c, a) => c.estimatedDocumentCount(pick(a, ['maxTimeMS', 'comment'])),
  },
  count: {
    args: ['filter', ...COUNT_OPTS],
    run: (c, a) => c.count(isDocument(a.filter) ? a.filter : {}, pick(a, COUNT_OPTS)),
  },
  createIndex: {
    args: ['keys', ...INDEX_OPTS],
    required: ['keys'],
    run: (c, a) => c.createIndex(docArg(a, 'keys') as Record<string, 1 | -1>, pick(a, INDEX_OPTS)),
  },
  dropIndex: {
    args: ['name', ...S, 'maxTimeMS'],
    required: ['name'],
    run: async (c, a) => {
      await c.dropIndex(String(a.name), pick(a, [...S, 'maxTimeMS']));
      return undefined;
    },
  },
  dropIndexes: {
    args: [...S, 'maxTimeMS'],
    run: async (c, a) => {
      await c.dropIndexes(pick(a, [...S, 'maxTimeMS']));
      return undefined;
    },
  },
  listIndexes: {
    args: [...S, 'batchSize'],
    rootElements: true,
    run: (c, a) => c.listIndexes(pick(a, [...S, 'batchSize'])).toArray(),
  },
  deleteOne: {
    args: ['filter', ...DELETE_OPTS],
    required: ['filter'],
    run: (c, a) => c.deleteOne(docArg(a, 'filter'), pick(a, DELETE_OPTS)),
  },
  deleteMany: {
    args: ['filter', ...DELETE_OPTS],
    required: ['filter'],
    run: (c, a) => c.deleteMany(docArg(a, 'filter'), pick(a, DELETE_OPTS)),
  },
  distinct: {
    args: ['fieldName', 'filter', ...S, 'collation', 'comment', 'hint', 'maxTimeMS'],
    required: ['fieldName', 'filter'],
    run: (c, a) => c.distinct(String(a.fieldName), docArg(a, 'filter'), pick(a, [...S, 'collation', 'comment', 'hint', 'maxTimeMS'])),
  },
  find: {
    args: ['filter', ...FIND_OPTS],
    rootElements: true,
    run: (c, a) => c.find(isDocument(a.filter) ? a.filter : {}, pick(a, FIND_OPTS)).toArray(),
  },
  findOne: {
    args: ['filter', ...FIND_OPTS],
    run: (c, a) => c.findOne(isDocument(a.filter) ? a.filter : {}, pick(a, FIND_OPTS)),
  },
  createFindCursor: {
    args: ['filter', ...FIND_OPTS],
    run: async (c, a) => {
      const cursor = c.find(isDocument(a.filter) ? a.filter : {}, pick(a, FIND_OPTS));
      // The format wants the server-side cursor to exist now: the driver opens it on first use.
      await cursor.hasNext();
      return cursor;
    },
  },
  findOneAndDelete: {
    args: ['filter', ...FAM_OPTS],
    required: ['filter'],
    run: (c, a) => c.findOneAndDelete(docArg(a, 'filter'), famOptions(a, FAM_OPTS)),
  },
  findOneAndReplace: {
    args: ['filter', 'replacement', ...FAM_WRITE_OPTS],
    required: ['filter', 'replacement'],
    run: (c, a) => c.findOneAndReplace(docArg(a, 'filter'), docArg(a, 'replacement'), famOptions(a, FAM_WRITE_OPTS)),
  },
  findOneAndUpdate: {
    args: ['filter', 'update', 'arrayFilters', ...FAM_WRITE_OPTS],
    required: ['filter', 'update'],
    run: (c, a) =>
      c.findOneAndUpdate(docArg(a, 'filter'), a.update as Doc, famOptions(a, [...FAM_WRITE_OPTS, 'arrayFilters'])),
  },
  insertOne: {
    args: ['document', ...S, 'bypassDocumentValidation', 'comment'],
    required: ['document'],
    run: (c, a) => c.insertOne(docArg(a, 'document'), pick(a, [...S, 'bypassDocumentValidation', 'comment'])),
  },
  insertMany: {
    args: ['documents', ...S, 'ordered', 'bypassDocumentValidation', 'comment'],
    required: ['documents'],
    run: (c, a) => c.insertMany(arrayArg(a, 'documents'), pick(a, [...S, 'ordered', 'bypassDocumentValidation', 'comment'])),
  },
  replaceOne: {
    args: ['filter', 'replacement', ...REPLACE_OPTS],
    required: ['filter', 'replacement'],
    run: (c, a) => c.replaceOne(docArg(a, 'filter'), docArg(a, 'replacement'), pick(a, REPLACE_OPTS)),
  },
  updateOne: {
    args: ['filter', 'update', ...UPDATE_OPTS, 'sort'],
    required: ['filter', 'update'],
    run: (c, a) => c.updateOne(docArg(a, 'filter'), a.update as Doc, pick(a, [...UPDATE_OPTS, 'sort'])),
  },
  updateMany: {
    args: ['filter', 'update', ...UPDATE_OPTS],
    required: ['filter', 'update'],
    run: (c, a) => c.updateMany(docArg(a, 'filter'), a.update as Doc, pick(a, UPDATE_OPTS)),
  },
  drop: {
    args: [...S],
    run: (c, a) => c.drop(pick(a, S)),
  },
};

type Cursor = AbstractCursor<Doc>;

export const cursorOps: Record<string, OpDef<Cursor>> = {
  iterateUntilDocumentOrError: {
    args: [],
    run: (c) => c.next(),
  },
  iterateOnce: {
    args: [],
    run: (c) => c.tryNext(),
  },
  close: {
    args: [],
    run: async (c) => {
      // The format says errors from closing a cursor are never reported.
      await c.close().catch(() => undefined);
      return undefined;
    },
  },
};

export function isCursor(v: unknown): v is FindCursor<Doc> {
  return v !== null && typeof v === 'object' && 'tryNext' in v && 'toArray' in v && 'close' in v;
}
