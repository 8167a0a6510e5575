// Logical sessions: the per-session transaction state machine (txnNumber, start/continue/commit/
// abort, lifetime limit) and the retryable-write record that makes a retried write a no-op.
import { Binary } from 'bson';
import { Codes, MongoCommandError } from './errors.js';
import type { Store } from './storage.js';
import { Txn } from './txn.js';
import { isPlainObject, type Doc } from './values.js';

const SESSION_TIMEOUT_MS = 30 * 60 * 1000;

export type TxnPhase = 'none' | 'active' | 'committed' | 'aborted';

export class Session {
  txnNumber = -1;
  phase: TxnPhase = 'none';
  txn: Txn | null = null;
  /** True when txnNumber belongs to a multi-document transaction (not a retryable write). */
  multiDoc = false;
  /** Reply of the retryable write executed under txnNumber. */
  retryReply: Doc | null = null;
  /** Commands run in the current transaction (readConcern is only allowed on the first). */
  statements = 0;
  lastUse = Date.now();
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly id: string) {}

  startTxn(store: Store, txnNumber: number, lifetimeMs: number): void {
    this.abortTxn();
    this.txnNumber = txnNumber;
    this.multiDoc = true;
    this.phase = 'active';
    this.statements = 0;
    this.retryReply = null;
    this.txn = new Txn(store, false);
    // mongod aborts transactions older than transactionLifetimeLimitSeconds (60 s by default).
    this.timer = setTimeout(() => this.abortTxn(), lifetimeMs);
    this.timer.unref();
  }

  abortTxn(): void {
    if (this.phase === 'active') {
      this.txn?.abort();
      this.phase = 'aborted';
    }
    this.clearTimer();
    this.txn = null;
  }

  commitTxn(): void {
    if (this.phase !== 'active') return;
    this.txn?.commit();
    this.phase = 'committed';
    this.clearTimer();
    this.txn = null;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

export function sessionKey(lsid: unknown): string | undefined {
  if (!isPlainObject(lsid)) return undefined;
  const id = lsid.id;
  if (id instanceof Binary) return Buffer.from(id.buffer).toString('hex');
  return undefined;
}

/** Commands allowed inside a multi-document transaction (as of MongoDB 7). */
const txnCommands = new Set([
  'find',
  'getMore',
  'killCursors',
  'insert',
  'update',
  'delete',
  'findAndModify',
  'aggregate',
  'distinct',
  'create',
  'createIndexes',
  'commitTransaction',
  'abortTransaction',
  'bulkWrite',
]);

const retryableCommands = new Set(['insert', 'update', 'delete', 'findAndModify', 'commitTransaction', 'abortTransaction']);

export interface TxnContext {
  session?: Session;
  /** The open multi-document transaction the command runs in. */
  txn?: Txn;
  /** The command is a retryable write under this txnNumber. */
  retryableTxnNumber?: number;
  /** Stored reply of the same retryable write: answer it without executing. */
  replay?: Doc;
}

const txnLabel = { labels: ['TransientTransactionError'] };

export class Sessions {
  readonly byId = new Map<string, Session>();

  constructor(
    private readonly store: Store,
    private readonly lifetimeMs: () => number,
  ) {}

  private lastReap = Date.now();

  get(key: string): Session {
    let s = this.byId.get(key);
    if (!s) {
      this.reapIdle();
      this.byId.set(key, (s = new Session(key)));
    }
    s.lastUse = Date.now();
    return s;
  }

  /** Forgets sessions idle for logicalSessionTimeoutMinutes (30), as mongod does. */
  private reapIdle(): void {
    const now = Date.now();
    if (now - this.lastReap < 60_000) return;
    this.lastReap = now;
    for (const [k, s] of this.byId) if (now - s.lastUse > SESSION_TIMEOUT_MS && s.phase !== 'active') this.byId.delete(k);
  }

  end(key: string): void {
    const s = this.byId.get(key);
    if (!s) return;
    s.abortTxn();
    this.byId.delete(key);
  }

  endAll(): void {
    for (const k of [...this.byId.keys()]) this.end(k);
  }

  /**
   * killSessions: aborts the session's open transaction (releasing its documents) but keeps the
   * session and its txnNumber, as mongod does; later statements of the killed transaction get
   * NoSuchTransaction. Returns whether the session existed.
   */
  kill(key: string): boolean {
    const s = this.byId.get(key);
    if (!s) return false;
    s.abortTxn();
    return true;
  }

  /** Resolves which transaction a command runs in, enforcing mongod's state machine. */
  resolve(cmd: string, body: Doc): TxnContext {
    const key = sessionKey(body.lsid);
    if (!key) {
      if (body.autocommit !== undefined || body.txnNumber !== undefined) {
        throw new MongoCommandError(Codes.InvalidOptions, 'Transaction number requires a session ID to also be specified');
      }
      return {};
    }
    const session = this.get(key);
    const txnNumber = body.txnNumber as number | undefined;
    if (body.autocommit === undefined) {
      if (txnNumber === undefined || !retryableCommands.has(cmd)) return { session };
      return this.retryable(session, cmd, txnNumber);
    }
    if (body.autocommit !== false) throw new MongoCommandError(Codes.InvalidOptions, 'Specifying autocommit=true is not allowed.');
    if (txnNumber === undefined) throw new MongoCommandError(Codes.InvalidOptions, "'autocommit' field requires a transaction number to also be specified");
    if (!txnCommands.has(cmd)) {
      throw new MongoCommandError(Codes.OperationNotSupportedInTransaction, `Cannot run '${cmd}' in a multi-document transaction.`);
    }
    if (body.startTransaction === true) return this.start(session, cmd, body, txnNumber);
    return this.continueTxn(session, cmd, body, txnNumber);
  }

  private retryable(session: Session, cmd: string, txnNumber: number): TxnContext {
    if (txnNumber < session.txnNumber) {
      throw new MongoCommandError(Codes.TransactionTooOld, `Retryable write with txnNumber ${txnNumber} is prohibited on session ${session.id} because a newer retryable write with txnNumber ${session.txnNumber} has already started on this session.`);
    }
    if (cmd === 'commitTransaction' || cmd === 'abortTransaction') {
      throw new MongoCommandError(Codes.InvalidOptions, `'${cmd}' requires 'autocommit: false'`);
    }
    if (txnNumber === session.txnNumber && !session.multiDoc && session.retryReply) {
      return { session, replay: session.retryReply };
    }
    if (txnNumber === session.txnNumber && session.multiDoc) {
      throw new MongoCommandError(Codes.IncompleteTransactionHistory, `Cannot retry a retryable write that has been converted into a transaction on session ${session.id}`);
    }
    session.abortTxn();
    session.txnNumber = txnNumber;
    session.multiDoc = false;
    session.phase = 'none';
    session.retryReply = null;
    return { session, retryableTxnNumber: txnNumber };
  }

  private start(session: Session, cmd: string, body: Doc, txnNumber: number): TxnContext {
    if (txnNumber < session.txnNumber) {
      throw new MongoCommandError(Codes.TransactionTooOld, `Cannot start transaction ${txnNumber} on session ${session.id} because a newer transaction with txnNumber ${session.txnNumber} has already started on this session.`);
    }
    if (txnNumber === session.txnNumber && session.multiDoc) {
      throw new MongoCommandError(Codes.ConflictingOperationInProgress, `Cannot start a transaction at given transaction number ${txnNumber} a transaction with the same number is in state ${session.phase}`);
    }
    if (cmd === 'commitTransaction' || cmd === 'abortTransaction') {
      throw new MongoCommandError(Codes.NoSuchTransaction, `Transaction with { txnNumber: ${txnNumber} } has been aborted.`, txnLabel);
    }
    const rc = body.readConcern;
    if (isPlainObject(rc) && rc.level !== undefined && !['local', 'majority', 'snapshot'].includes(String(rc.level))) {
      throw new MongoCommandError(Codes.InvalidOptions, `The readConcern level must be either 'local' (default), 'majority' or 'snapshot' in order to run in a transaction`);
    }
    session.startTxn(this.store, txnNumber, this.lifetimeMs());
    session.statements = 1;
    return { session, txn: session.txn ?? undefined };
  }

  private continueTxn(session: Session, cmd: string, body: Doc, txnNumber: number): TxnContext {
    if (txnNumber < session.txnNumber) {
      throw new MongoCommandError(Codes.TransactionTooOld, `txnNumber ${txnNumber} is less than last txnNumber ${session.txnNumber} seen in session ${session.id}`);
    }
    if (txnNumber > session.txnNumber || !session.multiDoc) {
      throw new MongoCommandError(Codes.NoSuchTransaction, `Given transaction number ${txnNumber} does not match any in-progress transactions. The active transaction number is ${session.txnNumber}`, txnLabel);
    }
    if (session.phase === 'committed') {
      if (cmd === 'commitTransaction') return { session };
      throw new MongoCommandError(Codes.TransactionCommitted, `Transaction with { txnNumber: ${txnNumber} } has been committed.`);
    }
    if (session.phase !== 'active' || !session.txn) {
      throw new MongoCommandError(Codes.NoSuchTransaction, `Transaction with { txnNumber: ${txnNumber} } has been aborted.`, txnLabel);
    }
    if (body.readConcern !== undefined && cmd !== 'commitTransaction' && cmd !== 'abortTransaction') {
      throw new MongoCommandError(Codes.InvalidOptions, 'Only the first command in a transaction may specify a readConcern');
    }
    if (body.writeConcern !== undefined && cmd !== 'commitTransaction' && cmd !== 'abortTransaction') {
      throw new MongoCommandError(Codes.InvalidOptions, 'Cannot set write concern after starting a transaction.');
    }
    session.statements++;
    return { session, txn: session.txn };
  }
}
