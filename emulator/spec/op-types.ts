// Shared types for the operation tables.
import type { MongoClient } from 'mongodb';
import { isDocument, type Doc } from './bson-values.js';
import type { EntityMap } from './entities.js';
import { RunnerError } from './failures.js';
import type { OperationSpec } from './format.js';
import { readConcernOf, readPreferenceOf, writeConcernOf } from './options.js';
import type { Topology } from './requirements.js';

export interface FailPointRecord {
  client: MongoClient;
  name: string;
  /** A client the runner opened just for this fail point (targetedFailPoint); closed after the test. */
  owned: boolean;
}

export interface OpContext {
  entities: EntityMap;
  /** The runner's own client (initialData, outcome, assertions on collections and indexes). */
  internal: MongoClient;
  uri: string;
  topology: Topology;
  failPoints: FailPointRecord[];
  /** Set once startTransaction/withTransaction ran, so the runner kills sessions afterwards. */
  startedTransaction: boolean;
  /** Runs a nested operation (withTransaction callbacks), rethrowing its error to the caller. */
  runNested(op: OperationSpec): Promise<void>;
}

export interface OpDef<T> {
  /** Arguments this runner understands (anything else makes the test skipped as unsupported). */
  args: readonly string[];
  required?: readonly string[];
  /** The result is an iterated list whose documents are root-level for matching. */
  rootElements?: boolean;
  run(target: T, a: Doc, ctx: OpContext): Promise<unknown>;
}

/** The options named in `keys` that are present in `a`. */
export function pick(a: Doc, keys: readonly string[]): Doc {
  const out: Doc = {};
  for (const k of keys) if (a[k] !== undefined) out[k] = a[k];
  return out;
}

export function docArg(a: Doc, key: string): Doc {
  const v = a[key];
  if (!isDocument(v)) throw new RunnerError(`argument ${key} must be a document`);
  return v;
}

export function arrayArg(a: Doc, key: string): Doc[] {
  const v = a[key];
  if (!Array.isArray(v)) throw new RunnerError(`argument ${key} must be an array`);
  return v as Doc[];
}

/**
 * Resolves the common arguments: `session` names a session entity; readConcern, readPreference
 * and writeConcern become the driver's objects. Raw documents for other keys are left as they are.
 */
export function prepareArgs(raw: Doc | undefined, entities: EntityMap): Doc {
  const a: Doc = { ...(raw ?? {}) };
  if (typeof a.session === 'string') a.session = entities.get(a.session, 'session').session;
  if (a.readConcern !== undefined) a.readConcern = readConcernOf(a.readConcern);
  if (a.readPreference !== undefined) a.readPreference = readPreferenceOf(a.readPreference);
  if (a.writeConcern !== undefined) a.writeConcern = writeConcernOf(a.writeConcern);
  return a;
}
