// The TCP server: frames messages, dispatches commands through the session/transaction rules and
// the failCommand fail point, and answers with mongod's reply envelope ($clusterTime, operationTime,
// errorLabels).
import net from 'node:net';
import { Binary, Long, ObjectId, Timestamp } from 'bson';
import { handlers, canonicalName, refusedCommands } from './commands/index.js';
import { refuseBeforeInitiation } from './commands/replset.js';
import type { ConnInfo, Ctx, EmulatorState } from './context.js';
import { Cursors } from './cursors.js';
import { Codes, MongoCommandError } from './errors.js';
import { FailPoints, type FailCommandData } from './failpoint.js';
import { Sessions, type TxnContext } from './sessions.js';
import { Store } from './storage.js';
import { ttlPass } from './ttl.js';
import type { Doc } from './values.js';
import { decode, encodeMsg, encodeReply, MSG_EXHAUST_ALLOWED, MSG_MORE_TO_COME, type Request } from './wire.js';

export interface EmulatorOptions {
  port?: number;
  host?: string;
  /**
   * host:port that hello reports as this member (mongod's replica set config). Clients that reach
   * the emulator by another name than the one it listens on (a container on 0.0.0.0 reached as
   * mongo:27017) need it, or the driver follows hello's hosts to an address it cannot reach.
   */
  advertise?: string;
  /**
   * false: start as mongod --replSet does on a fresh data directory, a member without a config
   * that refuses reads and writes until replSetInitiate. Default true: primary from the start.
   */
  replSetInitiated?: boolean;
  /** Interval of the TTL monitor (mongod: 60 s). */
  ttlIntervalMs?: number;
  /** Transactions older than this are aborted (mongod: transactionLifetimeLimitSeconds = 60). */
  transactionLifetimeMs?: number;
}

/** Error codes after which a retryable write / commit may be retried (mongod's RetryableWriteError). */
const retryableCodes = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 13388, 234, 133]);
/**
 * mongod's isTransientTransactionError: WriteConflict, LockTimeout, PreparedTransactionInProgress,
 * ShardCannotRefreshDueToLocksHeld, snapshot errors and re-targeting errors.
 */
const transientCodes = new Set<number>([Codes.WriteConflict, 24, 267, 249, 246, 239, 241, 63, 150, 13388]);
const MAX_MESSAGE = 48_000_000;
/** The signature mongod sends without authentication (all zero); shared by every reply, never mutated. */
const unsignedClusterTime = Object.freeze({ hash: new Binary(Buffer.alloc(20)), keyId: Long.fromNumber(0) });

const readConcernLevels = new Set(['local', 'majority', 'linearizable', 'available', 'snapshot']);

/** Commands that take a read concern outside transactions; any other is refused level snapshot. */
const snapshotReadCommands = new Set(['find', 'aggregate', 'distinct', 'getMore']);

/**
 * One node is always current, so every level reads the latest data; reading the past is not
 * possible. Snapshot reads outside a transaction (snapshot sessions) would have to read every
 * statement at one earlier point in time: refused. Writes with level snapshot outside a
 * transaction fail as on mongod (InvalidOptions).
 */
function checkReadConcern(cmd: string, body: Doc): void {
  const rc = body.readConcern;
  if (rc === undefined || rc === null) return;
  if (typeof rc !== 'object') throw new MongoCommandError(Codes.TypeMismatch, "BSON field 'readConcern' is the wrong type, expected type 'object'");
  const { level, atClusterTime } = rc as Doc;
  if (level !== undefined && !readConcernLevels.has(String(level))) throw new MongoCommandError(Codes.FailedToParse, `Invalid readConcern level: ${String(level)}`);
  if (level === 'snapshot' && body.autocommit === undefined) {
    if (!snapshotReadCommands.has(cmd)) throw new MongoCommandError(Codes.InvalidOptions, `Command ${cmd} does not support { readConcern: { level: "snapshot" } } outside a multi-document transaction`);
    throw new MongoCommandError(Codes.NotImplemented, 'The emulator does not support readConcern level snapshot outside transactions (snapshot sessions)');
  }
  if (atClusterTime !== undefined) throw new MongoCommandError(Codes.NotImplemented, 'The emulator does not support readConcern atClusterTime (reads at a past time)');
}

const isAwaitableHello = (body: Doc): boolean => {
  const name = Object.keys(body)[0];
  return (name === 'hello' || name === 'isMaster' || name === 'ismaster') && typeof body.maxAwaitTimeMS === 'number' && body.topologyVersion !== undefined;
};

const writeCommands = new Set(['insert', 'update', 'delete', 'findAndModify', 'create', 'drop', 'dropDatabase', 'createIndexes', 'dropIndexes', 'commitTransaction', 'abortTransaction']);

/**
 * A single-node replica set applies the write but cannot satisfy w > 1 or an unknown tag set; mongod
 * then reports a writeConcernError next to the (successful) result.
 */
function unsatisfiableWriteConcern(cmd: string, body: Doc): Doc | undefined {
  const wc = body.writeConcern;
  if (!writeCommands.has(cmd) || wc === null || typeof wc !== 'object') return undefined;
  const w = (wc as Doc).w;
  if (typeof w === 'number' && w > 1) return { code: 100, codeName: 'UnsatisfiableWriteConcern', errmsg: 'Not enough data-bearing nodes' };
  if (typeof w === 'string' && w !== 'majority') {
    return { code: 79, codeName: 'UnknownReplWriteConcern', errmsg: `No write concern mode named '${w}' found in replica set configuration` };
  }
  return undefined;
}

export class Emulator implements EmulatorState {
  readonly store = new Store();
  readonly cursors = new Cursors();
  readonly failPoints = new FailPoints();
  readonly sessions: Sessions;
  readonly processId = new ObjectId();
  readonly setName = 'rs0';
  address = '';
  replSetInitiated: boolean;
  topologyCounter = 0;
  private readonly topologyWaiters = new Set<() => void>();
  transactionLifetimeMs: number;
  private readonly bootSeconds = Math.floor(Date.now() / 1000);
  private readonly server = net.createServer((s) => this.accept(s));
  private readonly sockets = new Set<net.Socket>();
  private readonly sleepers = new Set<() => void>();
  private ttlTimer: NodeJS.Timeout | null = null;
  private nextConnId = 1;
  private nextRequestId = 1;
  private stopped = false;

  constructor(private readonly opts: EmulatorOptions = {}) {
    this.transactionLifetimeMs = opts.transactionLifetimeMs ?? 60_000;
    this.replSetInitiated = opts.replSetInitiated ?? true;
    this.sessions = new Sessions(this.store, () => this.transactionLifetimeMs);
  }

  async listen(): Promise<number> {
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, host, () => resolve());
    });
    const port = (this.server.address() as net.AddressInfo).port;
    this.address = this.opts.advertise ?? `${host}:${port}`;
    this.ttlTimer = setInterval(() => ttlPass(this.store), this.opts.ttlIntervalMs ?? 60_000);
    this.ttlTimer.unref();
    return port;
  }

  initiateReplicaSet(host: string): void {
    this.address = host;
    this.replSetInitiated = true;
    this.topologyCounter++;
    for (const wake of this.topologyWaiters) wake();
    this.topologyWaiters.clear();
  }

  async topologyChange(ms: number): Promise<void> {
    let wake: () => void = () => undefined;
    const changed = new Promise<void>((resolve) => {
      wake = resolve;
      this.topologyWaiters.add(resolve);
    });
    await Promise.race([this.sleep(ms), changed]);
    this.topologyWaiters.delete(wake);
  }

  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.sleepers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ttlTimer) clearInterval(this.ttlTimer);
    for (const wake of [...this.sleepers]) wake();
    this.sessions.endAll();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const conn: ConnInfo = { id: this.nextConnId++, remote: `${socket.remoteAddress}:${socket.remotePort}` };
    let buf: Buffer = Buffer.alloc(0);
    let queue: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 4) {
        const len = buf.readInt32LE(0);
        if (len < 16 || len > MAX_MESSAGE) {
          socket.destroy();
          return;
        }
        if (buf.length < len) break;
        const msg = buf.subarray(0, len);
        buf = buf.subarray(len);
        // One request at a time per connection, as mongod does.
        queue = queue.then(() => this.onMessage(socket, conn, msg)).catch(() => void socket.destroy());
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async onMessage(socket: net.Socket, conn: ConnInfo, raw: Buffer): Promise<void> {
    const req: Request = decode(raw);
    if (req.kind === 'unsupported') {
      socket.destroy();
      return;
    }
    const db = req.kind === 'msg' ? String(req.body.$db ?? 'test') : req.collection.split('.')[0];
    if (req.kind === 'msg' && req.flags & MSG_EXHAUST_ALLOWED && isAwaitableHello(req.body)) {
      await this.streamHello(socket, conn, db, req.body, req.header.requestId);
      return;
    }
    const result = await this.execute(conn, db, req.body, req.kind === 'query');
    if (result === 'close') {
      socket.destroy();
      return;
    }
    if (socket.destroyed) return;
    const requestId = this.nextRequestId++;
    if (req.kind === 'query') socket.write(encodeReply(result, requestId, req.header.requestId));
    else if (!(req.flags & MSG_MORE_TO_COME)) socket.write(encodeMsg(result, requestId, req.header.requestId));
  }

  /**
   * Streaming SDAM: an awaitable hello with exhaustAllowed is answered every maxAwaitTimeMS with
   * moreToCome set, each reply responding to the previous one, until the connection closes.
   */
  private async streamHello(socket: net.Socket, conn: ConnInfo, db: string, body: Doc, requestId: number): Promise<void> {
    let responseTo = requestId;
    while (!socket.destroyed && !this.stopped) {
      const result = await this.execute(conn, db, body, false);
      if (result === 'close' || socket.destroyed) {
        socket.destroy();
        return;
      }
      const id = this.nextRequestId++;
      socket.write(encodeMsg(result, id, responseTo, MSG_MORE_TO_COME));
      responseTo = id;
    }
  }

  private clusterTime(): Timestamp {
    return new Timestamp({ t: this.bootSeconds, i: this.store.clock + 1 });
  }

  private envelope(reply: Doc): Doc {
    const t = this.clusterTime();
    reply.$clusterTime = { clusterTime: t, signature: unsignedClusterTime };
    reply.operationTime = t;
    return reply;
  }

  private labelsFor(cmd: string, body: Doc, code: number | undefined, wcCode?: number): string[] {
    const labels: string[] = [];
    const inTxn = body.autocommit === false;
    const commitOrAbort = cmd === 'commitTransaction' || cmd === 'abortTransaction';
    if (inTxn && code !== undefined) {
      const transient = transientCodes.has(code) || (code === Codes.NoSuchTransaction && (!commitOrAbort || wcCode === undefined)) || (!commitOrAbort && retryableCodes.has(code));
      if (transient) labels.push('TransientTransactionError');
    }
    const retryableWrite = body.txnNumber !== undefined && body.autocommit === undefined;
    if ((retryableWrite || commitOrAbort) && ((code !== undefined && retryableCodes.has(code)) || (wcCode !== undefined && retryableCodes.has(wcCode)))) {
      labels.push('RetryableWriteError');
    }
    return labels;
  }

  private errorReply(e: unknown, cmd: string, body: Doc): Doc {
    const err = e instanceof MongoCommandError ? e : new MongoCommandError(Codes.InternalError, e instanceof Error ? e.message : String(e));
    const labels = [...new Set([...err.errorLabels, ...this.labelsFor(cmd, body, err.code)])];
    const reply: Doc = { ok: 0, errmsg: err.message, code: err.code, codeName: err.codeName, ...err.extra };
    if (labels.length) reply.errorLabels = labels;
    return this.envelope(reply);
  }

  private failReply(fp: FailCommandData, cmd: string, body: Doc): Doc {
    const code = fp.errorCode as number;
    const reply: Doc = { ok: 0, errmsg: fp.errmsg ?? "Failing command via 'failCommand' failpoint", code, codeName: new MongoCommandError(code, '').codeName };
    const labels = fp.errorLabels ?? this.labelsFor(cmd, body, code);
    if (labels.length) reply.errorLabels = labels;
    return this.envelope(reply);
  }

  async execute(conn: ConnInfo, db: string, body: Doc, legacy: boolean): Promise<Doc | 'close'> {
    const name = Object.keys(body)[0] ?? '';
    const cmd = canonicalName(name);
    const handler = handlers[name];
    if (!handler) {
      const err = refusedCommands.has(name)
        ? new MongoCommandError(Codes.NotImplemented, `The emulator does not support the '${name}' command`)
        : new MongoCommandError(Codes.CommandNotFound, `no such command: '${name}'`);
      return this.errorReply(err, cmd, body);
    }
    const notInitiated = this.replSetInitiated ? undefined : refuseBeforeInitiation(cmd);
    if (notInitiated) return this.errorReply(notInitiated, cmd, body);
    if (legacy && cmd !== 'hello' && cmd !== 'isMaster') {
      return this.errorReply(new MongoCommandError(352, `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade.`, { codeName: 'UnsupportedOpQueryCommand' }), cmd, body);
    }
    let tctx: TxnContext;
    try {
      checkReadConcern(cmd, body);
      tctx = this.sessions.resolve(cmd, body);
    } catch (e) {
      return this.errorReply(e, cmd, body);
    }
    // The fail point fires for a retried write too (mongod checks it before looking up the
    // session's record), so a retry can meet the same writeConcernError again.
    const fp = cmd === 'configureFailPoint' ? undefined : this.failPoints.check(cmd, conn.appName);
    if (fp) {
      if (fp.blockConnection) await this.sleep(fp.blockTimeMS ?? 0);
      if (fp.closeConnection) return 'close';
      if (fp.errorCode !== undefined) return this.failReply(fp, cmd, body);
    }

    let reply: Doc;
    if (tctx.replay) {
      reply = { ...tctx.replay };
    } else {
      const ctx: Ctx = { state: this, db, cmd, body, conn, session: tctx.session, txn: tctx.txn };
      try {
        reply = await handler(ctx);
      } catch (e) {
        // mongod aborts a transaction when one of its statements fails.
        if (tctx.txn && cmd !== 'commitTransaction') tctx.session?.abortTxn();
        return this.errorReply(e, cmd, body);
      }
      if (tctx.txn && Array.isArray(reply.writeErrors) && reply.writeErrors.length) tctx.session?.abortTxn();
      reply.ok = 1;
      if (tctx.retryableTxnNumber !== undefined && tctx.session) tctx.session.retryReply = { ...reply };
    }
    const wce = fp?.writeConcernError ?? unsatisfiableWriteConcern(cmd, body);
    if (wce) {
      reply.writeConcernError = wce;
      const wcCode = typeof wce.code === 'number' ? wce.code : undefined;
      const labels = fp?.errorLabels ?? this.labelsFor(cmd, body, undefined, wcCode);
      if (labels.length) reply.errorLabels = labels;
    }
    return this.envelope(reply);
  }

  /** Runs one TTL pass now (tests use the interval instead; this is for manual use). */
  runTtlPass(): number {
    return ttlPass(this.store);
  }
}
