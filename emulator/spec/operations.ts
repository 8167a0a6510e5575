// Executing one operation of a test and checking its expectResult / expectError /
// saveResultAsEntity (section "Executing an Operation" of the format).
import { show, type Doc } from './bson-values.js';
import type { Entity } from './entities.js';
import { checkExpectedError, describeError } from './expect-error.js';
import { AssertionFailure, isRunnerSignal, RunnerError, UnsupportedFeature } from './failures.js';
import type { OperationSpec } from './format.js';
import { match } from './match.js';
import { prepareArgs, type OpContext, type OpDef } from './op-types.js';
import { collectionOps, cursorOps, isCursor } from './ops-collection.js';
import { clientOps, databaseOps, sessionOps } from './ops-other.js';
import { runSpecial } from './ops-runner.js';

type AnyTable = Record<string, OpDef<never>>;

export const OP_TABLES: Record<string, AnyTable> = {
  client: clientOps as AnyTable,
  database: databaseOps as AnyTable,
  collection: collectionOps as AnyTable,
  session: sessionOps as AnyTable,
  cursor: cursorOps as AnyTable,
};

function targetOf(e: Entity): unknown {
  switch (e.kind) {
    case 'client':
      return e.client;
    case 'database':
      return e.db;
    case 'collection':
      return e.coll;
    case 'session':
      return e.session;
    case 'cursor':
      return e.cursor;
    default:
      throw new RunnerError('operations cannot target a saved value');
  }
}

/** Checks an operation's name and argument names against what this runner implements. */
export function checkSupported(kind: string, op: OperationSpec): void {
  const table = OP_TABLES[kind];
  const def = table?.[op.name];
  if (!def) throw new UnsupportedFeature(`${kind} operation ${op.name}`);
  for (const k of Object.keys(op.arguments ?? {})) {
    if (!def.args.includes(k)) throw new UnsupportedFeature(`argument ${k} of ${op.name}`);
  }
  for (const k of def.required ?? []) {
    if (op.arguments?.[k] === undefined) throw new RunnerError(`${op.name} is missing argument ${k}`);
  }
}

async function execute(op: OperationSpec, ctx: OpContext): Promise<{ result: unknown; rootElements: boolean }> {
  const entity = ctx.entities.any(op.object);
  checkSupported(entity.kind, op);
  const def = OP_TABLES[entity.kind][op.name] as unknown as OpDef<unknown>;
  const args = prepareArgs(op.arguments as Doc | undefined, ctx.entities);
  const result = await def.run(targetOf(entity), args, ctx);
  return { result, rootElements: def.rootElements === true };
}

/**
 * Runs one operation. With `rethrow` (inside a withTransaction callback) the driver's error, once
 * checked against expectError, is thrown again so that withTransaction sees it too.
 */
export async function runOperation(op: OperationSpec, ctx: OpContext, rethrow = false): Promise<void> {
  if (op.object === 'testRunner') {
    try {
      await runSpecial(op.name, (op.arguments ?? {}) as Doc, ctx);
    } catch (e) {
      if (isRunnerSignal(e)) throw e;
      throw new AssertionFailure(`testRunner.${op.name} failed: ${describeError(e)}`);
    }
    return;
  }

  let outcome: { result: unknown; rootElements: boolean } | undefined;
  let error: unknown;
  try {
    outcome = await execute(op, ctx);
  } catch (e) {
    if (isRunnerSignal(e)) throw e;
    error = e;
  }
  const label = `${op.object}.${op.name}`;

  if (op.ignoreResultAndError) {
    if (error !== undefined && rethrow) throw error;
    return;
  }
  if (op.expectError) {
    if (error === undefined) throw new AssertionFailure(`${label}: expected an error, got result ${show(outcome?.result)}`);
    checkExpectedError(op.expectError, error, ctx.entities);
    if (rethrow) throw error;
    return;
  }
  if (error !== undefined) {
    // Not a driver error: an unexpected error can never be mistaken for an expected one further
    // up (withTransaction aborts and rethrows it, and the test fails).
    throw new AssertionFailure(`${label} failed: ${describeError(error)}`);
  }
  const result = outcome?.result;
  if (op.expectResult !== undefined) {
    const r = match(op.expectResult, result, { root: true, rootElements: outcome?.rootElements, entities: ctx.entities });
    if (r) throw new AssertionFailure(`${label} result: ${r}`);
  }
  if (op.saveResultAsEntity) {
    if (isCursor(result)) ctx.entities.set(op.saveResultAsEntity, { kind: 'cursor', cursor: result });
    else if (result === undefined) throw new RunnerError(`${label} returned nothing to save as ${op.saveResultAsEntity}`);
    else ctx.entities.set(op.saveResultAsEntity, { kind: 'value', value: result });
  }
}
