// Multi-version storage. Every document is a chain of committed versions (commit timestamp, body or
// tombstone). A transaction reads the newest version at or before its snapshot, overlaid with its
// own buffered writes, and publishes all of them at commit under one new timestamp. Versions that
// no open snapshot can see any more are pruned.
import { BlockedByTransaction, Codes, MongoCommandError, writeConflict } from './errors.js';
import { Index, type IndexSpec } from './indexes.js';
import type { Txn } from './txn.js';
import type { DocumentValidator } from './validation.js';
import { type Doc } from './values.js';

export interface Version {
  ts: number;
  doc: Doc | null;
}

export class DocChain {
  versions: Version[] = [];
  /** The open transaction that has written this document (MongoDB's document-level write intent). */
  owner: Txn | null = null;
  constructor(
    readonly coll: Collection,
    readonly key: string,
    readonly seq: number,
  ) {}

  latest(): Version | undefined {
    return this.versions[this.versions.length - 1];
  }

  visibleAt(ts: number): Doc | null {
    for (let i = this.versions.length - 1; i >= 0; i--) if (this.versions[i].ts <= ts) return this.versions[i].doc;
    return null;
  }
}

export interface CollectionOptions {
  [k: string]: unknown;
}

export class Collection {
  readonly chains = new Map<string, DocChain>();
  readonly indexes = new Map<string, Index>();
  private seq = 0;
  dropped = false;
  /** Set while the collection exists only inside the transaction that created it. */
  pendingTxn: Txn | null = null;
  /** Ever held a Decimal128 / wide Long: aggregation arithmetic over it is refused. */
  hasWideNumbers = false;
  /** Document validation (create/collMod `validator`, `validationLevel`, `validationAction`). */
  validator: DocumentValidator | null = null;

  constructor(
    readonly store: Store,
    readonly db: string,
    readonly name: string,
    readonly options: CollectionOptions = {},
  ) {}

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  chainFor(key: string): DocChain {
    let c = this.chains.get(key);
    if (!c) {
      c = new DocChain(this, key, this.seq++);
      this.chains.set(key, c);
    }
    return c;
  }

  uniqueIndexes(): Index[] {
    const out: Index[] = [];
    for (const ix of this.indexes.values()) if (ix.unique) out.push(ix);
    return out;
  }

  addIndex(spec: IndexSpec): Index {
    const ix = new Index(spec);
    for (const chain of this.chains.values()) {
      for (const v of chain.versions) if (v.doc) ix.add(chain, v.doc);
      const pending = chain.owner?.pendingDoc(chain);
      if (pending) ix.add(chain, pending);
    }
    this.indexes.set(spec.name, ix);
    return ix;
  }

  indexDoc(chain: DocChain, doc: Doc): void {
    for (const ix of this.indexes.values()) ix.add(chain, doc);
  }

  /** Removes index entries of documents no longer reachable from the chain. */
  unindex(chain: DocChain, removed: Doc[]): void {
    if (removed.length === 0 || this.indexes.size === 0) return;
    const kept: Doc[] = [];
    for (const v of chain.versions) if (v.doc) kept.push(v.doc);
    const pending = chain.owner?.pendingDoc(chain);
    if (pending) kept.push(pending);
    for (const ix of this.indexes.values()) ix.remove(chain, removed, kept);
  }

  /** Drops versions older than the newest one visible at `horizon`; forgets dead chains. */
  prune(chain: DocChain, horizon: number): void {
    const vs = chain.versions;
    let keepFrom = 0;
    for (let i = vs.length - 1; i >= 0; i--) {
      if (vs[i].ts <= horizon) {
        keepFrom = i;
        break;
      }
    }
    const removed: Doc[] = [];
    if (keepFrom > 0) {
      for (const v of vs.splice(0, keepFrom)) if (v.doc) removed.push(v.doc);
    }
    const dead = !chain.owner && (vs.length === 0 || (vs.length === 1 && vs[0].doc === null && vs[0].ts <= horizon));
    if (dead) {
      for (const v of vs) if (v.doc) removed.push(v.doc);
      vs.length = 0;
      if (this.chains.get(chain.key) === chain) this.chains.delete(chain.key);
    }
    this.unindex(chain, removed);
    if (!dead && (vs.length > 1 || vs[0]?.doc === null)) this.store.dirty.add(chain);
    else this.store.dirty.delete(chain);
  }
}

/** A read-only view: its documents are viewOn's passed through pipeline, computed at each read. */
export interface ViewDef {
  viewOn: string;
  pipeline: Doc[];
}

export function viewError(db: string, name: string): MongoCommandError {
  return new MongoCommandError(Codes.CommandNotSupportedOnView, `Namespace ${db}.${name} is a view, not a collection`);
}

export class Store {
  clock = 0;
  readonly dbs = new Map<string, Map<string, Collection>>();
  /** Views by database and name (catalog entries, not versioned: changes are immediate). */
  readonly views = new Map<string, Map<string, ViewDef>>();
  readonly openTxns = new Set<Txn>();
  /** Chains that still carry old versions or tombstones, swept when snapshots move on. */
  readonly dirty = new Set<DocChain>();
  private commitsSinceSweep = 0;
  /** Documents examined by queries (a time-independent proof of index use in tests). */
  readonly stats = { docsExamined: 0, commits: 0 };

  /** The collection as `txn` sees it: one created by another, still open transaction is invisible. */
  collection(db: string, name: string, txn?: Txn): Collection | undefined {
    const c = this.dbs.get(db)?.get(name);
    if (!c || c.dropped) return undefined;
    return c.pendingTxn && c.pendingTxn !== txn ? undefined : c;
  }

  view(db: string, name: string): ViewDef | undefined {
    return this.views.get(db)?.get(name);
  }

  createView(db: string, name: string, def: ViewDef): void {
    let vs = this.views.get(db);
    if (!vs) this.views.set(db, (vs = new Map()));
    vs.set(name, def);
  }

  dropView(db: string, name: string): boolean {
    const vs = this.views.get(db);
    if (!vs?.delete(name)) return false;
    if (vs.size === 0) this.views.delete(db);
    return true;
  }

  /**
   * Before a collection is created: a view of that name refuses (no write ever lands in a view), a
   * collection another open transaction is creating conflicts (in a transaction) or waits.
   */
  private checkPending(db: string, name: string, txn?: Txn): void {
    if (this.view(db, name)) throw viewError(db, name);
    const c = this.dbs.get(db)?.get(name);
    if (c && c.pendingTxn && c.pendingTxn !== txn) {
      if (txn && !txn.autocommit) throw writeConflict();
      throw new BlockedByTransaction(c.pendingTxn.ended);
    }
  }

  /**
   * Creates a collection. Inside a multi-document transaction it stays private to that transaction
   * until commit and disappears on abort, as in MongoDB 4.4+.
   */
  createCollection(db: string, name: string, options: CollectionOptions = {}, txn?: Txn): Collection {
    this.checkPending(db, name, txn);
    let colls = this.dbs.get(db);
    if (!colls) this.dbs.set(db, (colls = new Map()));
    const c = new Collection(this, db, name, options);
    c.addIndex({ v: 2, key: { _id: 1 }, name: '_id_' });
    colls.set(name, c);
    if (txn && !txn.autocommit) {
      c.pendingTxn = txn;
      txn.onEnd.push((committed) => {
        c.pendingTxn = null;
        if (!committed && this.dbs.get(db)?.get(name) === c) this.dropCollection(db, name);
      });
    }
    return c;
  }

  ensureCollection(db: string, name: string, txn?: Txn): Collection {
    this.checkPending(db, name, txn);
    return this.collection(db, name, txn) ?? this.createCollection(db, name, {}, txn);
  }

  dropCollection(db: string, name: string): boolean {
    const c = this.dbs.get(db)?.get(name);
    if (!c || c.dropped) return false;
    c.dropped = true;
    this.dbs.get(db)?.delete(name);
    for (const chain of c.chains.values()) this.dirty.delete(chain);
    if (this.dbs.get(db)?.size === 0) this.dbs.delete(db);
    return true;
  }

  /** Oldest snapshot an open transaction may still read; versions older than it are garbage. */
  horizon(): number {
    let min = this.clock;
    for (const t of this.openTxns) if (t.snapshotTs < min) min = t.snapshotTs;
    return min;
  }

  afterCommit(chains: Iterable<DocChain>): void {
    const h = this.horizon();
    for (const c of chains) c.coll.prune(c, h);
    if (++this.commitsSinceSweep >= 64) this.sweep();
  }

  sweep(): void {
    this.commitsSinceSweep = 0;
    if (this.dirty.size === 0) return;
    const h = this.horizon();
    for (const c of [...this.dirty]) if (!c.owner) c.coll.prune(c, h);
  }
}
