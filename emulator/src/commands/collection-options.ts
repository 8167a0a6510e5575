// Collection options shared by create and collMod: read-only views (viewOn + pipeline) and
// document validation (validator, validationLevel, validationAction); and the collMod command.
import { collectionName, type Ctx, type Handler } from '../context.js';
import { Codes, MongoCommandError } from '../errors.js';
import type { Collection, ViewDef } from '../storage.js';
import { DocumentValidator, parseAction, parseLevel } from '../validation.js';
import type { Doc } from '../values.js';
import { genericFields } from './common.js';
import { validatePipeline } from './pipeline.js';

export const validationFields = new Set(['validator', 'validationLevel', 'validationAction']);

/** The view definition of a create/collMod command, checked like mongod checks it. */
export function viewDefinition(ctx: Ctx, name: string): ViewDef {
  const { viewOn, pipeline = [] } = ctx.body;
  if (ctx.txn) throw new MongoCommandError(Codes.OperationNotSupportedInTransaction, `Cannot create a view in a multi-document transaction.`);
  if (typeof viewOn !== 'string') throw new MongoCommandError(Codes.TypeMismatch, "BSON field 'viewOn' is the wrong type, expected type 'string'");
  if (viewOn.length === 0 || viewOn.includes('$')) throw new MongoCommandError(Codes.InvalidNamespace, `invalid name for 'viewOn': ${viewOn}`);
  if (viewOn === name) throw new MongoCommandError(Codes.GraphContainsCycle, `View cycle detected: ${ctx.db}.${name} => ${ctx.db}.${viewOn}`);
  if (!Array.isArray(pipeline)) throw new MongoCommandError(Codes.TypeMismatch, "BSON field 'pipeline' is the wrong type, expected type 'array'");
  for (const st of pipeline as unknown[]) {
    const stage = st !== null && typeof st === 'object' ? Object.keys(st)[0] : undefined;
    if (stage === '$out' || stage === '$merge') throw new MongoCommandError(Codes.OptionNotSupportedOnView, `${stage} cannot be used in a view definition`);
  }
  validatePipeline(pipeline);
  checkNoCycle(ctx, name, viewOn);
  return { viewOn, pipeline: pipeline as Doc[] };
}

/** A view may not (through other views) be defined on itself. */
function checkNoCycle(ctx: Ctx, name: string, viewOn: string): void {
  const seen = [name];
  for (let next: string | undefined = viewOn; next !== undefined; next = ctx.state.store.view(ctx.db, next)?.viewOn) {
    if (seen.includes(next)) throw new MongoCommandError(Codes.GraphContainsCycle, `View cycle detected: ${[...seen, next].map((n) => `${ctx.db}.${n}`).join(' => ')}`);
    seen.push(next);
  }
}

/**
 * Applies validator / validationLevel / validationAction from `options` on top of the collection's
 * current settings (collMod changes only what it names), compiling the validator first so that a
 * refused one leaves the collection unchanged.
 */
export function applyValidation(coll: Collection, options: Doc): void {
  const current = coll.validator;
  if (!current && ![...validationFields].some((k) => options[k] !== undefined)) return;
  const validator = options.validator !== undefined ? options.validator : (current?.validator ?? {});
  const level = options.validationLevel !== undefined ? parseLevel(options.validationLevel) : (current?.level ?? 'strict');
  const action = options.validationAction !== undefined ? parseAction(options.validationAction) : (current?.action ?? 'error');
  coll.validator = new DocumentValidator(validator as Doc, level, action);
  for (const k of validationFields) if (options[k] !== undefined) coll.options[k] = options[k];
}

/** collMod options of mongod that the emulator does not implement (refused by name). */
const refusedCollModOptions = new Set(['index', 'expireAfterSeconds', 'timeseries', 'changeStreamPreAndPostImages', 'recordPreImages', 'clusteredIndex', 'cappedSize', 'cappedMax', 'dryRun', 'collation']);

export const collMod: Handler = (ctx) => {
  const name = collectionName(ctx);
  const store = ctx.state.store;
  const view = store.view(ctx.db, name);
  const coll = store.collection(ctx.db, name, ctx.txn);
  if (!view && !coll) throw new MongoCommandError(Codes.NamespaceNotFound, `ns does not exist: ${ctx.db}.${name}`);
  const options: Doc = {};
  for (const [k, v] of Object.entries(ctx.body)) {
    if (k === 'collMod' || genericFields.has(k)) continue;
    if (refusedCollModOptions.has(k)) throw new MongoCommandError(Codes.NotImplemented, `The emulator does not support the collMod option '${k}'`);
    if (!validationFields.has(k) && k !== 'viewOn' && k !== 'pipeline') throw new MongoCommandError(40415, `BSON field 'collMod.${k}' is an unknown field.`, { codeName: 'Location40415' });
    options[k] = v;
  }
  if (view) {
    const bad = Object.keys(options).find((k) => validationFields.has(k));
    if (bad) throw new MongoCommandError(Codes.InvalidOptions, `option not supported on a view: ${bad}`);
    if (options.viewOn === undefined && options.pipeline === undefined) return {};
    if (options.viewOn === undefined || options.pipeline === undefined) throw new MongoCommandError(Codes.InvalidOptions, 'must specify both \'viewOn\' and \'pipeline\' when modifying a view');
    store.createView(ctx.db, name, viewDefinition(ctx, name));
    return {};
  }
  if (options.viewOn !== undefined || options.pipeline !== undefined) {
    throw new MongoCommandError(Codes.InvalidOptions, `collection ${ctx.db}.${name} is not a view: 'viewOn' and 'pipeline' cannot be changed`);
  }
  applyValidation(coll as Collection, options);
  return {};
};
