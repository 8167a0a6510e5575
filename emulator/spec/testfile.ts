// Executing a test file and each of its tests ("Executing a Test File" / "Executing a Test").
import { EJSON } from 'bson';
import { readFile } from 'node:fs/promises';
import { MongoServerError, ReadConcern, ReadPreference, type MongoClient } from 'mongodb';
import { exactEquals, show } from './bson-values.js';
import { bounded, EntityMap } from './entities.js';
import { checkExpectedEvents } from './events.js';
import { describeError } from './expect-error.js';
import { AssertionFailure, RunnerError, UnsupportedFeature } from './failures.js';
import type { CollectionData, OperationSpec, TestCase, UnifiedFile } from './format.js';
import type { OpContext } from './op-types.js';
import { runOperation } from './operations.js';
import { requirementsUnmet, type ServerInfo } from './requirements.js';
import { driverDeviation } from './driver-deviations.js';
import { needsMissingSecondary, schemaUnsupported, unsupportedFeature } from './support.js';

export type Status = 'passed' | 'failed' | 'skipped';

export interface TestResult {
  description: string;
  status: Status;
  reason?: string;
}

export interface RunEnv {
  uri: string;
  internal: MongoClient;
  info: ServerInfo;
  timeoutMs: number;
}

const MAJORITY = { w: 'majority' as const };

/** Parsed afresh for every test: the driver adds _id to documents it inserts, so none is reused. */
function parse(text: string): UnifiedFile {
  return EJSON.parse(text, { relaxed: true }) as UnifiedFile;
}

function usesTransactions(ops: OperationSpec[]): boolean {
  return ops.some(
    (o) =>
      o.name === 'startTransaction' ||
      o.name === 'withTransaction' ||
      (Array.isArray(o.arguments?.callback) && usesTransactions(o.arguments.callback as OperationSpec[])),
  );
}

/** Ends every open transaction on the server. Its failure (e.g. not supported) is not the test's. */
async function killAllSessions(env: RunEnv): Promise<void> {
  await bounded(env.internal.db('admin').command({ killAllSessions: [] }), 5000);
}

async function setUpInitialData(data: CollectionData[] | undefined, env: RunEnv): Promise<void> {
  for (const cd of data ?? []) {
    const db = env.internal.db(cd.databaseName);
    try {
      await db.collection(cd.collectionName).drop({ writeConcern: MAJORITY });
    } catch (e) {
      if (!(e instanceof MongoServerError && e.code === 26)) throw e; // NamespaceNotFound
    }
    if (cd.createOptions || cd.documents.length === 0) {
      await db.command({ create: cd.collectionName, ...(cd.createOptions ?? {}), writeConcern: MAJORITY });
    }
    if (cd.documents.length > 0) {
      await db.collection(cd.collectionName).insertMany(cd.documents, { writeConcern: MAJORITY });
    }
  }
}

async function checkOutcome(outcome: CollectionData[] | undefined, env: RunEnv): Promise<void> {
  for (const cd of outcome ?? []) {
    const coll = env.internal
      .db(cd.databaseName)
      .collection(cd.collectionName, { readPreference: ReadPreference.primary, readConcern: new ReadConcern('local') });
    const actual = await coll.find({}, { sort: { _id: 1 } }).toArray();
    const ns = `${cd.databaseName}.${cd.collectionName}`;
    const n = Math.max(actual.length, cd.documents.length);
    for (let i = 0; i < n; i++) {
      if (!exactEquals(cd.documents[i], actual[i])) {
        throw new AssertionFailure(
          `outcome ${ns}[${i}]: expected ${show(cd.documents[i])}, got ${show(actual[i])} (${actual.length} doc(s), expected ${cd.documents.length})`,
        );
      }
    }
  }
}

async function disableFailPoints(ctx: OpContext, env: RunEnv): Promise<void> {
  const fps = ctx.failPoints.splice(0);
  for (const fp of fps) {
    const off = { configureFailPoint: fp.name, mode: 'off' };
    // Turned off through the client that set it (same server); the runner's client is the fallback.
    const ok = await bounded(fp.client.db('admin').command(off), 5000);
    if (!ok) await bounded(env.internal.db('admin').command(off), 5000);
    if (fp.owned) await bounded(fp.client.close(), 5000);
  }
}

async function testBody(file: UnifiedFile, test: TestCase, ctx: OpContext, env: RunEnv, killFirst: boolean): Promise<void> {
  if (killFirst) await killAllSessions(env);
  await setUpInitialData(file.initialData, env);
  await ctx.entities.create(file.createEntities ?? []);
  for (const op of test.operations) await runOperation(op, ctx);
  for (const [, e] of ctx.entities.all()) if (e.kind === 'client') e.recorder.stop();
  await disableFailPoints(ctx, env);
  for (const exp of test.expectEvents ?? []) {
    checkExpectedEvents(exp, ctx.entities.get(exp.client, 'client').recorder, ctx.entities);
  }
  await checkOutcome(test.outcome, env);
}

function classify(e: unknown): TestResult['status'] {
  return e instanceof UnsupportedFeature ? 'skipped' : 'failed';
}

function reasonOf(e: unknown): string {
  if (e instanceof AssertionFailure || e instanceof UnsupportedFeature) return e.message;
  if (e instanceof RunnerError) return `runner error: ${e.message}`;
  return `unexpected error: ${describeError(e)}`;
}

async function runTest(rel: string, text: string, index: number, env: RunEnv, fileUsesTxn: boolean): Promise<TestResult> {
  const file = parse(text);
  const test = file.tests[index];
  const skip = (reason: string): TestResult => ({ description: test.description, status: 'skipped', reason });
  if (test.skipReason) return skip(`skipReason: ${test.skipReason}`);
  const unmet = await requirementsUnmet(test.runOnRequirements, env.info);
  if (unmet) return skip(unmet);
  const unsupported = unsupportedFeature(file, test);
  if (unsupported) return skip(`runner does not implement ${unsupported}`);
  const deviation = driverDeviation(rel, test.description);
  if (deviation) return skip(deviation);
  const secondary = needsMissingSecondary(file, test, env.info.secondaries);
  if (secondary) return skip(`not applicable: ${secondary}`);

  const ctx: OpContext = {
    entities: new EntityMap({ uri: env.uri, topology: env.info.topology }),
    internal: env.internal,
    uri: env.uri,
    topology: env.info.topology,
    failPoints: [],
    startedTransaction: false,
    runNested: (op) => runOperation(op, ctx, true),
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AssertionFailure(`timed out after ${env.timeoutMs / 1000}s`)), env.timeoutMs);
  });
  const body = testBody(file, test, ctx, env, fileUsesTxn);
  body.catch(() => undefined); // after a timeout it settles (or fails) on its own
  let result: TestResult;
  try {
    await Promise.race([body, timeout]);
    result = { description: test.description, status: 'passed' };
  } catch (e) {
    result = { description: test.description, status: classify(e), reason: reasonOf(e) };
  } finally {
    clearTimeout(timer);
  }
  await disableFailPoints(ctx, env);
  await ctx.entities.close();
  if (ctx.startedTransaction || result.status === 'failed') await killAllSessions(env);
  return result;
}

export interface FileResult {
  tests: TestResult[];
}

/** `rel`: the file's path relative to the spec folder (names it in the driver-deviation list). */
export async function runFile(path: string, rel: string, env: RunEnv): Promise<FileResult> {
  const text = await readFile(path, 'utf8');
  const file = parse(text);
  const all = (reason: string, status: Status): FileResult => ({
    tests: file.tests.map((t) => ({ description: t.description, status, reason })),
  });
  const schema = schemaUnsupported(file);
  if (schema) return all(`runner does not implement ${schema}`, 'skipped');
  const unmet = await requirementsUnmet(file.runOnRequirements, env.info);
  if (unmet) return all(unmet, 'skipped');
  const fileUsesTxn = file.tests.some((t) => usesTransactions(t.operations));
  const tests: TestResult[] = [];
  for (let i = 0; i < file.tests.length; i++) {
    const r = await runTest(rel, text, i, env, fileUsesTxn);
    tests.push(r);
  }
  return { tests };
}

/** The tests of a file, all reported as failed with `reason` (used when the run's budget is spent). */
export async function failAll(path: string, reason: string): Promise<FileResult> {
  const file = parse(await readFile(path, 'utf8'));
  return { tests: file.tests.map((t) => ({ description: t.description, status: 'failed', reason })) };
}
