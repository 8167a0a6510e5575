// insert, update, delete and findAndModify with mongod's reply shapes (n, nModified, upserted,
// writeErrors[{index, code, errmsg, keyPattern, keyValue}], lastErrorObject/value).
import { collectionName, ensureCollection, getCollection, refuseView, writeOptions, writeStatement, type Ctx, type Handler } from '../context.js';
import { deleteDoc, insertDoc, replaceDoc, scan } from '../engine.js';
import { Codes, MongoCommandError } from '../errors.js';
import { applyProjection } from '../projection.js';
import { compileFilter, evalLet, sortDocs, validateSort } from '../query.js';
import type { Collation } from '../collation.js';
import type { Collection } from '../storage.js';
import type { Txn } from '../txn.js';
import { applyUpdate, updateKind, upsertSeed } from '../update.js';
import { isPlainObject, sameKey, type Doc } from '../values.js';
import { checkHint, commandCollation } from './common.js';

interface WriteError {
  index: number;
  code: number;
  codeName?: string;
  errmsg: string;
  [k: string]: unknown;
}

function toWriteError(index: number, e: unknown): WriteError {
  if (!(e instanceof MongoCommandError)) throw e;
  return { index, code: e.code, errmsg: e.message, ...e.extra };
}

/** Runs statements in order; returns write errors (ordered/txn stop at the first). */
async function runStatements<S>(ctx: Ctx, stmts: S[], ordered: boolean, run: (s: S, i: number) => Promise<void>): Promise<WriteError[]> {
  const errors: WriteError[] = [];
  for (let i = 0; i < stmts.length; i++) {
    try {
      await run(stmts[i], i);
    } catch (e) {
      // Inside a transaction a write conflict aborts the whole command, not one statement.
      if (ctx.txn && e instanceof MongoCommandError && e.code === Codes.WriteConflict) throw e;
      errors.push(toWriteError(i, e));
      if (ordered || ctx.txn) break;
    }
  }
  return errors;
}

function requireArray(ctx: Ctx, field: string): Doc[] {
  const v = ctx.body[field];
  if (!Array.isArray(v)) {
    throw new MongoCommandError(Codes.FailedToParse, `BSON field '${ctx.cmd}.${field}' is missing but a required field`, { codeName: 'Location40414' });
  }
  for (const d of v) if (!isPlainObject(d)) throw new MongoCommandError(Codes.TypeMismatch, `BSON field '${ctx.cmd}.${field}' must be an array of objects`);
  return v as Doc[];
}

const updateFields = new Set(['q', 'u', 'upsert', 'multi', 'arrayFilters', 'hint', 'collation', 'c', 'upsertSupplied']);
const deleteFields = new Set(['q', 'limit', 'hint', 'collation']);

/** Unknown statement fields fail the whole command while parsing, as in mongod (7.0 has no update sort). */
function checkFields(ctx: Ctx, field: string, stmts: object[], allowed: Set<string>): void {
  for (const s of stmts) {
    for (const k of Object.keys(s)) {
      if (!allowed.has(k)) throw new MongoCommandError(40415, `BSON field '${ctx.cmd}.${field}.${k}' is an unknown field.`, { codeName: 'Location40415' });
    }
  }
}

const withErrors = (reply: Doc, errors: WriteError[]): Doc => (errors.length ? { ...reply, writeErrors: errors } : reply);

export const insert: Handler = async (ctx) => {
  const docs = requireArray(ctx, 'documents');
  refuseView(ctx);
  const coll = await ensureCollection(ctx);
  const opts = writeOptions(ctx);
  let n = 0;
  const errors = await runStatements(ctx, docs, ctx.body.ordered !== false, async (doc) => {
    await writeStatement(ctx, (txn) => insertDoc(txn, coll, doc, opts));
    n++;
  });
  return withErrors({ n }, errors);
};

interface UpdateStmt {
  q?: Doc;
  u?: unknown;
  upsert?: boolean;
  multi?: boolean;
  arrayFilters?: Doc[];
  hint?: unknown;
  collation?: unknown;
  sort?: unknown;
  c?: Doc;
}

/** Checks a statement and returns its collation (undefined: binary). */
function validateUpdateStmt(coll: Collection | undefined, s: UpdateStmt): Collation | undefined {
  if (!isPlainObject(s.q)) throw new MongoCommandError(Codes.FailedToParse, "BSON field 'update.updates.q' is missing but a required field");
  if (s.u === undefined) throw new MongoCommandError(Codes.FailedToParse, "BSON field 'update.updates.u' is missing but a required field");
  const collation = commandCollation(s.collation);
  checkHint(coll, s.hint);
  if (s.multi && updateKind(s.u) === 'replacement') {
    throw new MongoCommandError(Codes.FailedToParse, 'multi update is not supported for replacement-style update');
  }
  return collation;
}

/** The document an upsert inserts when nothing matches. */
export function upsertDocument(filter: Doc | undefined, u: unknown, arrayFilters?: Doc[], variables?: Doc, collation?: Collation): Doc {
  const seed = upsertSeed(filter);
  if (updateKind(u) === 'replacement') {
    const repl = applyUpdate({}, u);
    return '_id' in repl || seed._id === undefined ? repl : { _id: seed._id, ...repl };
  }
  return applyUpdate(seed, u, { inserting: true, arrayFilters, filter, variables, collation });
}

/** Command-level `let` merged with a statement's own variables (`c`). */
export function letVars(ctx: Ctx, stmtVars?: unknown): Doc | undefined {
  const top = isPlainObject(ctx.body.let) ? ctx.body.let : undefined;
  const own = isPlainObject(stmtVars) ? stmtVars : undefined;
  return top || own ? evalLet({ ...top, ...own }) : undefined;
}

/** Implicit creation inside a write statement (an upsert's insert). */
function createIfMissing(ctx: Ctx, txn: Txn): Collection {
  return ctx.state.store.ensureCollection(ctx.db, collectionName(ctx), ctx.txn ?? txn);
}

interface StmtResult {
  n: number;
  nModified: number;
  upsertedId?: unknown;
}

function updateOnce(ctx: Ctx, txn: Txn, s: UpdateStmt, collation: Collation | undefined): StmtResult {
  const variables = letVars(ctx, s.c);
  const matcher = compileFilter(s.q, variables, collation);
  const existing = getCollection(ctx);
  const hits = existing ? scan(txn, existing, s.q, { limit: s.multi ? 0 : 1, matcher, collation }) : [];
  if (hits.length === 0) {
    if (!s.upsert) return { n: 0, nModified: 0 };
    const doc = insertDoc(txn, createIfMissing(ctx, txn), upsertDocument(s.q, s.u, s.arrayFilters, variables, collation), writeOptions(ctx));
    return { n: 1, nModified: 0, upsertedId: doc._id };
  }
  let nModified = 0;
  for (const h of hits) {
    const next = applyUpdate(h.doc, s.u, { arrayFilters: s.arrayFilters, filter: s.q, variables, collation });
    if (sameKey(next, h.doc)) continue;
    replaceDoc(txn, h.chain.coll, h.chain, next, writeOptions(ctx));
    nModified++;
  }
  return { n: hits.length, nModified };
}

export const update: Handler = async (ctx) => {
  const stmts = requireArray(ctx, 'updates') as UpdateStmt[];
  checkFields(ctx, 'updates', stmts, updateFields);
  refuseView(ctx);
  const existing = getCollection(ctx);
  let n = 0;
  let nModified = 0;
  const upserted: Doc[] = [];
  const errors = await runStatements(ctx, stmts, ctx.body.ordered !== false, async (s, index) => {
    const collation = validateUpdateStmt(existing, s);
    const r = await writeStatement(ctx, (txn) => updateOnce(ctx, txn, s, collation));
    n += r.n;
    nModified += r.nModified;
    if (r.upsertedId !== undefined) upserted.push({ index, _id: r.upsertedId });
  });
  const reply: Doc = { n, nModified };
  if (upserted.length) reply.upserted = upserted;
  return withErrors(reply, errors);
};

interface DeleteStmt {
  q?: Doc;
  limit?: number;
  hint?: unknown;
  collation?: unknown;
}

export const del: Handler = async (ctx) => {
  const stmts = requireArray(ctx, 'deletes') as DeleteStmt[];
  checkFields(ctx, 'deletes', stmts, deleteFields);
  refuseView(ctx);
  const coll = getCollection(ctx);
  let n = 0;
  const errors = await runStatements(ctx, stmts, ctx.body.ordered !== false, async (s) => {
    if (!isPlainObject(s.q)) throw new MongoCommandError(Codes.FailedToParse, "BSON field 'delete.deletes.q' is missing but a required field");
    if (s.limit !== 0 && s.limit !== 1) throw new MongoCommandError(Codes.FailedToParse, 'The limit field in delete objects must be 0 or 1. Got ' + String(s.limit));
    const collation = commandCollation(s.collation);
    checkHint(coll, s.hint);
    if (!coll) return;
    n += await writeStatement(ctx, (txn) => {
      const hits = scan(txn, coll, s.q, { limit: s.limit, variables: letVars(ctx), collation });
      for (const h of hits) deleteDoc(txn, h.chain);
      return hits.length;
    });
  });
  return withErrors({ n }, errors);
};

export const findAndModify: Handler = async (ctx) => {
  const b = ctx.body;
  refuseView(ctx);
  const query = (b.query ?? {}) as Doc;
  if (!isPlainObject(query)) throw new MongoCommandError(Codes.TypeMismatch, "BSON field 'findAndModify.query' is the wrong type, expected type 'object'");
  const remove = b.remove === true;
  if (remove && b.update !== undefined) throw new MongoCommandError(Codes.FailedToParse, 'Cannot specify both an update and remove=true');
  if (!remove && b.update === undefined) throw new MongoCommandError(Codes.FailedToParse, 'Either an update or remove=true must be specified');
  if (remove && b.new === true) throw new MongoCommandError(Codes.FailedToParse, "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document");
  if (remove && b.upsert === true) throw new MongoCommandError(Codes.FailedToParse, 'Cannot specify both upsert=true and remove=true');
  const collation = commandCollation(b.collation);
  const sort = b.sort !== undefined && b.sort !== null ? validateSort(b.sort) : undefined;
  const arrayFilters = b.arrayFilters as Doc[] | undefined;
  const existing = getCollection(ctx);
  checkHint(existing, b.hint);
  if (!remove) updateKind(b.update);

  const result = await writeStatement(ctx, (txn): Doc => {
    const coll = getCollection(ctx);
    const variables = letVars(ctx);
    const matcher = compileFilter(query, variables, collation);
    let hits = coll ? scan(txn, coll, query, { limit: sort ? 0 : 1, matcher, collation }) : [];
    if (sort && hits.length > 1) {
      const order = new Map(hits.map((h) => [h.doc, h]));
      hits = sortDocs(hits.map((h) => h.doc), sort, collation).map((d) => order.get(d)!);
    }
    const hit = hits[0];
    if (remove) {
      if (!hit || !coll) return { lastErrorObject: { n: 0 }, value: null };
      deleteDoc(txn, hit.chain);
      return { lastErrorObject: { n: 1 }, value: hit.doc };
    }
    if (!hit) {
      if (b.upsert !== true) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null };
      const doc = insertDoc(txn, createIfMissing(ctx, txn), upsertDocument(query, b.update, arrayFilters, variables, collation), writeOptions(ctx));
      return { lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id }, value: b.new === true ? doc : null };
    }
    const next = applyUpdate(hit.doc, b.update, { arrayFilters, filter: query, variables, collation });
    if (!sameKey(next, hit.doc)) replaceDoc(txn, hit.chain.coll, hit.chain, next, writeOptions(ctx));
    return { lastErrorObject: { n: 1, updatedExisting: true }, value: b.new === true ? next : hit.doc };
  });
  if (result.value && b.fields !== undefined && b.fields !== null) {
    result.value = applyProjection([result.value as Doc], b.fields, query)[0] ?? null;
  }
  return result;
};
