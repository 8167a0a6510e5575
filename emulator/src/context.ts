// What a command handler gets: the emulator's state, the request, and the transaction it runs in.
import type { ObjectId } from 'bson';
import type { Cursors } from './cursors.js';
import { BlockedByTransaction, Codes, MongoCommandError } from './errors.js';
import type { FailPoints } from './failpoint.js';
import type { Session, Sessions } from './sessions.js';
import { viewError, type Collection, type Store } from './storage.js';
import { Txn } from './txn.js';
import type { Doc } from './values.js';

export interface EmulatorState {
  readonly store: Store;
  readonly cursors: Cursors;
  readonly sessions: Sessions;
  readonly failPoints: FailPoints;
  /** host:port as it appears in the uri and in hello's hosts. */
  readonly address: string;
  readonly processId: ObjectId;
  readonly setName: string;
  /** False while the node waits for replSetInitiate (started with `replSetInitiated: false`). */
  readonly replSetInitiated: boolean;
  /** Bumped on every topology change (initiation), as hello's topologyVersion.counter. */
  readonly topologyCounter: number;
  /** Makes the node the primary of its set, reachable as `host` (replSetInitiate). */
  initiateReplicaSet(host: string): void;
  /** Resolves after ms, at a topology change, or when the emulator stops (awaitable hello). */
  topologyChange(ms: number): Promise<void>;
  transactionLifetimeMs: number;
  /** Resolves after ms, or at once when the emulator stops. */
  sleep(ms: number): Promise<void>;
}

export interface ConnInfo {
  readonly id: number;
  appName?: string;
  readonly remote: string;
}

export interface Ctx {
  readonly state: EmulatorState;
  readonly db: string;
  readonly cmd: string;
  readonly body: Doc;
  readonly conn: ConnInfo;
  readonly session?: Session;
  /** Set when the command is part of an open multi-document transaction. */
  readonly txn?: Txn;
}

export type Handler = (ctx: Ctx) => Doc | Promise<Doc>;

/**
 * Runs one write statement: inside the caller's transaction, or as its own atomic autocommit
 * transaction that waits for (and then retries after) any open transaction holding its documents.
 */
export async function writeStatement<T>(ctx: Ctx, fn: (txn: Txn) => T): Promise<T> {
  if (ctx.txn) return fn(ctx.txn);
  for (;;) {
    const t = new Txn(ctx.state.store, true);
    try {
      const r = fn(t);
      t.commit();
      return r;
    } catch (e) {
      t.abort();
      if (e instanceof BlockedByTransaction) {
        await e.until;
        continue;
      }
      throw e;
    }
  }
}

/** Runs a read at the transaction's snapshot, or at the latest committed state. */
export function readStatement<T>(ctx: Ctx, fn: (txn: Txn) => T): T {
  if (ctx.txn) return fn(ctx.txn);
  const t = new Txn(ctx.state.store, true);
  try {
    return fn(t);
  } finally {
    t.abort();
  }
}

/** The collection name argument of a command (its first field's value). */
export function collectionName(ctx: Ctx): string {
  const v = ctx.body[ctx.cmd];
  if (typeof v !== 'string' || v.length === 0) {
    throw new MongoCommandError(Codes.InvalidNamespace, `collection name has invalid type ${v === null ? 'null' : typeof v}`);
  }
  if (v.includes('$') || v.includes('\0')) throw new MongoCommandError(Codes.InvalidNamespace, `Invalid collection name: ${v}`);
  return v;
}

/** Writes, index changes and the like on a view fail with CommandNotSupportedOnView (166), as in mongod. */
export function refuseView(ctx: Ctx, name = collectionName(ctx)): void {
  if (ctx.state.store.view(ctx.db, name)) throw viewError(ctx.db, name);
}

/** The command's bypassDocumentValidation flag, for the document-level write functions. */
export const writeOptions = (ctx: Ctx): { bypassValidation: boolean } => ({ bypassValidation: ctx.body.bypassDocumentValidation === true });

export function getCollection(ctx: Ctx, name = collectionName(ctx)): Collection | undefined {
  return ctx.state.store.collection(ctx.db, name, ctx.txn);
}

/** Runs fn, waiting out open transactions that block it (outside a transaction only). */
export async function untilUnblocked<T>(ctx: Ctx, fn: () => T): Promise<T> {
  for (;;) {
    try {
      return fn();
    } catch (e) {
      if (e instanceof BlockedByTransaction && !ctx.txn) {
        await e.until;
        continue;
      }
      throw e;
    }
  }
}

/** The collection, created implicitly if needed (waiting if another transaction is creating it). */
export function ensureCollection(ctx: Ctx, name = collectionName(ctx)): Promise<Collection> {
  return untilUnblocked(ctx, () => ctx.state.store.ensureCollection(ctx.db, name, ctx.txn));
}

export function sessionKeyOf(ctx: Ctx): string | undefined {
  return ctx.session?.id;
}
