// Special "testRunner" operations: fail points and assertions about sessions, commands,
// collections and indexes.
import { MongoClient, MongoServerError, type ClientSession } from 'mongodb';
import { exactEquals, isDocument, show, type Doc } from './bson-values.js';
import { AssertionFailure, RunnerError, UnsupportedFeature } from './failures.js';
import { docArg, type OpContext } from './op-types.js';
import { uriWithOptions } from './options.js';

type Special = (a: Doc, ctx: OpContext) => Promise<void>;

const STATES: Record<string, string[]> = {
  none: ['NO_TRANSACTION'],
  starting: ['STARTING_TRANSACTION'],
  in_progress: ['TRANSACTION_IN_PROGRESS'],
  committed: ['TRANSACTION_COMMITTED', 'TRANSACTION_COMMITTED_EMPTY'],
  aborted: ['TRANSACTION_ABORTED'],
};

/** The driver keeps the transaction state and pinned server on internal fields. */
interface TransactionInternals {
  state?: string;
  server?: { description?: { address?: string } };
}

function session(a: Doc, ctx: OpContext): ClientSession {
  return ctx.entities.get(String(a.session), 'session').session;
}

function check(ok: boolean, why: string): void {
  if (!ok) throw new AssertionFailure(why);
}

async function collectionExists(ctx: OpContext, db: string, coll: string): Promise<boolean> {
  const found = await ctx.internal.db(db).listCollections({ name: coll }, { nameOnly: true }).toArray();
  return found.length > 0;
}

async function indexNames(ctx: OpContext, db: string, coll: string): Promise<string[]> {
  try {
    const idx = await ctx.internal.db(db).collection(coll).listIndexes().toArray();
    return idx.map((i) => String(i.name));
  } catch (e) {
    if (e instanceof MongoServerError && e.code === 26) return []; // NamespaceNotFound
    throw e;
  }
}

function lastTwoLsids(a: Doc, ctx: OpContext): [unknown, unknown] {
  const started = ctx.entities.get(String(a.client), 'client').recorder.commandsStarted();
  if (started.length < 2) throw new AssertionFailure(`fewer than two commands observed on ${String(a.client)}`);
  const [x, y] = started.slice(-2).map((e) => (isDocument(e.command) ? e.command.lsid : undefined));
  if (x === undefined || y === undefined) throw new AssertionFailure('one of the last two commands has no lsid');
  return [x, y];
}

export const specialOps: Record<string, Special> = {
  async failPoint(a, ctx) {
    const fp = docArg(a, 'failPoint');
    const client = ctx.entities.get(String(a.client), 'client').client;
    await client.db('admin').command(fp);
    ctx.failPoints.push({ client, name: String(fp.configureFailPoint), owned: false });
  },

  async targetedFailPoint(a, ctx) {
    const fp = docArg(a, 'failPoint');
    const s = session(a, ctx);
    const address = (s.transaction as unknown as TransactionInternals).server?.description?.address;
    if (!s.isPinned || !address) throw new RunnerError('targetedFailPoint: the session is not pinned to a server');
    const client = new MongoClient(uriWithOptions(ctx.uri, { directConnection: true }, true, address));
    try {
      await client.db('admin').command(fp);
    } catch (e) {
      await client.close().catch(() => undefined);
      throw e;
    }
    ctx.failPoints.push({ client, name: String(fp.configureFailPoint), owned: true });
  },

  async assertSessionTransactionState(a, ctx) {
    const want = STATES[String(a.state)];
    if (!want) throw new RunnerError(`unknown transaction state ${String(a.state)}`);
    const got = (session(a, ctx).transaction as unknown as TransactionInternals).state;
    check(want.includes(String(got)), `expected transaction state ${String(a.state)}, got ${String(got)}`);
  },

  async assertSessionPinned(a, ctx) {
    check(session(a, ctx).isPinned, 'expected the session to be pinned');
  },

  async assertSessionUnpinned(a, ctx) {
    check(!session(a, ctx).isPinned, 'expected the session to be unpinned');
  },

  async assertSessionDirty(a, ctx) {
    check(session(a, ctx).serverSession.isDirty, 'expected the session to be dirty');
  },

  async assertSessionNotDirty(a, ctx) {
    check(!session(a, ctx).serverSession.isDirty, 'expected the session not to be dirty');
  },

  async assertSameLsidOnLastTwoCommands(a, ctx) {
    const [x, y] = lastTwoLsids(a, ctx);
    check(exactEquals(x, y), `expected the same lsid, got ${show(x)} and ${show(y)}`);
  },

  async assertDifferentLsidOnLastTwoCommands(a, ctx) {
    const [x, y] = lastTwoLsids(a, ctx);
    check(!exactEquals(x, y), `expected different lsids, got ${show(x)} twice`);
  },

  async assertCollectionExists(a, ctx) {
    const ok = await collectionExists(ctx, String(a.databaseName), String(a.collectionName));
    check(ok, `expected collection ${String(a.databaseName)}.${String(a.collectionName)} to exist`);
  },

  async assertCollectionNotExists(a, ctx) {
    const ok = await collectionExists(ctx, String(a.databaseName), String(a.collectionName));
    check(!ok, `expected collection ${String(a.databaseName)}.${String(a.collectionName)} not to exist`);
  },

  async assertIndexExists(a, ctx) {
    const names = await indexNames(ctx, String(a.databaseName), String(a.collectionName));
    check(names.includes(String(a.indexName)), `expected index ${String(a.indexName)}, found [${names.join(', ')}]`);
  },

  async assertIndexNotExists(a, ctx) {
    const names = await indexNames(ctx, String(a.databaseName), String(a.collectionName));
    check(!names.includes(String(a.indexName)), `expected no index ${String(a.indexName)}, found [${names.join(', ')}]`);
  },

  async createEntities(a, ctx) {
    if (!Array.isArray(a.entities)) throw new RunnerError('createEntities needs entities');
    await ctx.entities.create(a.entities as Doc[]);
  },

  async assertNumberConnectionsCheckedOut(a, ctx) {
    const got = ctx.entities.get(String(a.client), 'client').recorder.checkedOut;
    check(got === Number(a.connections), `expected ${String(a.connections)} connection(s) checked out, got ${got}`);
  },

  async wait(a) {
    await new Promise((r) => setTimeout(r, Number(a.ms)));
  },
};

export const SPECIAL_OP_NAMES = new Set(Object.keys(specialOps));

export async function runSpecial(name: string, a: Doc, ctx: OpContext): Promise<void> {
  const op = specialOps[name];
  if (!op) throw new UnsupportedFeature(`testRunner operation ${name}`);
  await op(a, ctx);
}
