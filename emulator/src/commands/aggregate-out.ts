// The writing aggregation stages $out and $merge (always last in a pipeline, never in transactions).
// $out replaces the target's documents atomically and keeps its indexes; $merge writes each result
// document on its own, with whenMatched/whenNotMatched as in mongod.
import { untilUnblocked, writeOptions, writeStatement, type Ctx } from '../context.js';
import { deleteDoc, insertDoc, replaceDoc, scan, withId } from '../engine.js';
import { Codes, MongoCommandError } from '../errors.js';
import type { Collection } from '../storage.js';
import { duplicateKey } from '../txn.js';
import { isPlainObject, pathValues, sameKey, type Doc } from '../values.js';

export interface WriteStage {
  kind: '$out' | '$merge';
  spec: unknown;
}

/** Splits a trailing $out/$merge off the pipeline; they are invalid anywhere else. */
export function splitWriteStage(pipeline: Doc[]): { rest: Doc[]; write?: WriteStage } {
  pipeline.forEach((st, i) => {
    const name = Object.keys(st)[0];
    if ((name === '$out' || name === '$merge') && i !== pipeline.length - 1) {
      throw new MongoCommandError(40601, `${name} can only be the final stage in the pipeline`, { codeName: 'Location40601' });
    }
  });
  const last = pipeline[pipeline.length - 1];
  const name = last ? Object.keys(last)[0] : undefined;
  if (name !== '$out' && name !== '$merge') return { rest: pipeline };
  return { rest: pipeline.slice(0, -1), write: { kind: name, spec: last[name] } };
}

function target(ctx: Ctx, spec: unknown, what: string): { db: string; coll: string } {
  if (typeof spec === 'string') return { db: ctx.db, coll: spec };
  if (isPlainObject(spec) && typeof spec.coll === 'string') return { db: typeof spec.db === 'string' ? spec.db : ctx.db, coll: spec.coll };
  throw new MongoCommandError(Codes.FailedToParse, `${what} must be a collection name or {db, coll}`);
}

export async function runWriteStage(ctx: Ctx, stage: WriteStage, results: Doc[]): Promise<void> {
  if (ctx.txn) throw new MongoCommandError(Codes.OperationNotSupportedInTransaction, `${stage.kind} cannot be used in a transaction`);
  const rc = ctx.body.readConcern;
  if (isPlainObject(rc) && rc.level === 'linearizable') {
    throw new MongoCommandError(Codes.InvalidOptions, `${stage.kind} cannot be used with a 'linearizable' read concern level`);
  }
  if (stage.kind === '$out') return out(ctx, stage.spec, results);
  return merge(ctx, stage.spec, results);
}

async function out(ctx: Ctx, spec: unknown, results: Doc[]): Promise<void> {
  const t = target(ctx, spec, '$out');
  const docs = results.map(withId);
  const store = ctx.state.store;
  const coll = await untilUnblocked(ctx, () => store.ensureCollection(t.db, t.coll));
  await writeStatement(ctx, (txn) => {
    for (const h of scan(txn, coll, undefined)) deleteDoc(txn, h.chain);
    for (const d of docs) insertDoc(txn, coll, d, writeOptions(ctx));
  });
}

interface MergeSpec {
  into: unknown;
  on?: unknown;
  whenMatched?: unknown;
  whenNotMatched?: unknown;
  let?: unknown;
}

async function merge(ctx: Ctx, raw: unknown, results: Doc[]): Promise<void> {
  const spec = (typeof raw === 'string' ? { into: raw } : raw) as MergeSpec;
  if (!isPlainObject(spec)) throw new MongoCommandError(Codes.FailedToParse, '$merge requires a collection name or a document');
  const t = target(ctx, spec.into, '$merge.into');
  const on = spec.on === undefined ? ['_id'] : Array.isArray(spec.on) ? (spec.on as string[]) : [spec.on as string];
  const whenMatched = spec.whenMatched ?? 'merge';
  const whenNotMatched = spec.whenNotMatched ?? 'insert';
  if (typeof whenMatched !== 'string') throw new MongoCommandError(Codes.NotImplemented, 'The emulator does not support a pipeline in $merge.whenMatched');
  if (!['replace', 'keepExisting', 'merge', 'fail'].includes(whenMatched)) throw new MongoCommandError(Codes.BadValue, `Enumeration value '${whenMatched}' for field 'whenMatched' is not a valid value.`);
  if (!['insert', 'discard', 'fail'].includes(String(whenNotMatched))) throw new MongoCommandError(Codes.BadValue, `Enumeration value '${String(whenNotMatched)}' for field 'whenNotMatched' is not a valid value.`);
  const store = ctx.state.store;
  const coll = await untilUnblocked(ctx, () => store.ensureCollection(t.db, t.coll));
  if (!(on.length === 1 && on[0] === '_id') && !hasUniqueIndexOn(coll, on)) {
    throw new MongoCommandError(51183, 'Cannot find index to verify that join fields will be unique', { codeName: 'Location51183' });
  }
  for (const input of results) {
    await writeStatement(ctx, (txn) => {
      const doc = on.includes('_id') ? withId(input) : input;
      const filter: Doc = {};
      for (const f of on) {
        const v = pathValues(doc, f)[0];
        if (v === undefined || Array.isArray(v)) throw new MongoCommandError(51132, `$merge write error: 'on' field '${f}' cannot be missing, null, undefined or an array`, { codeName: 'Location51132' });
        filter[f] = v;
      }
      const hit = scan(txn, coll, filter)[0];
      if (!hit) {
        if (whenNotMatched === 'fail') throw new MongoCommandError(13113, "$merge could not find a matching document in the target collection for at least one document in the source collection", { codeName: 'MergeStageNoMatchingDocument' });
        if (whenNotMatched === 'insert') insertDoc(txn, coll, doc, writeOptions(ctx));
        return;
      }
      if (whenMatched === 'fail') throw duplicateKey(coll, '_id_', { _id: hit.doc._id });
      if (whenMatched === 'keepExisting') return;
      const { _id: _ignored, ...fields } = doc;
      const next = whenMatched === 'replace' ? { _id: hit.doc._id, ...fields } : { ...hit.doc, ...fields };
      if (!sameKey(next, hit.doc)) replaceDoc(txn, coll, hit.chain, next, writeOptions(ctx));
    });
  }
}

function hasUniqueIndexOn(coll: Collection, fields: string[]): boolean {
  const want = [...fields].sort().join(',');
  return coll.uniqueIndexes().some((ix) => ix.complete && [...ix.fields].sort().join(',') === want);
}
