// A storage transaction: snapshot reads, buffered writes with first-writer-wins conflict detection,
// atomic publication at commit. Non-transactional statements run as short "autocommit" transactions
// that, instead of failing with WriteConflict on a document held by an open transaction, wait for
// that transaction to end and retry (what mongod does for a plain write).
import { BlockedByTransaction, Codes, MongoCommandError, writeConflict } from './errors.js';
import { formatValue, type Index } from './indexes.js';
import type { Collection, DocChain, Store } from './storage.js';
import { hasWideNumber, type Doc } from './values.js';

export type TxnState = 'active' | 'committed' | 'aborted';

export class Txn {
  readonly snapshotTs: number;
  readonly writes = new Map<DocChain, Doc | null>();
  /** Documents this transaction holds the write intent on (a superset of writes' keys). */
  private readonly claimed = new Set<DocChain>();
  state: TxnState = 'active';
  /** Callbacks run when the transaction ends (true = committed); used by catalog changes. */
  readonly onEnd: ((committed: boolean) => void)[] = [];
  private endedPromise: Promise<void> | null = null;
  private resolveEnded: (() => void) | null = null;

  constructor(
    readonly store: Store,
    readonly autocommit: boolean,
  ) {
    this.snapshotTs = store.clock;
    store.openTxns.add(this);
  }

  /**
   * Resolves when the transaction commits or aborts (writers blocked by it wait on this). Made on
   * demand: most transactions end without anyone waiting for them.
   */
  get ended(): Promise<void> {
    if (!this.endedPromise) {
      this.endedPromise = this.state === 'active' ? new Promise((r) => (this.resolveEnded = r)) : Promise.resolve();
    }
    return this.endedPromise;
  }

  /** The document as this transaction sees it (null = absent). */
  read(chain: DocChain): Doc | null {
    const w = this.writes.get(chain);
    if (w !== undefined) return w;
    return chain.visibleAt(this.snapshotTs);
  }

  pendingDoc(chain: DocChain): Doc | null {
    return this.writes.get(chain) ?? null;
  }

  private conflict(holder: Txn | null): never {
    if (this.autocommit && holder) throw new BlockedByTransaction(holder.ended);
    throw writeConflict();
  }

  /** Claims the document for writing, or fails with WriteConflict as mongod would. */
  claim(chain: DocChain): void {
    if (chain.owner && chain.owner !== this) this.conflict(chain.owner);
    const latest = chain.latest();
    if (latest && latest.ts > this.snapshotTs) this.conflict(null);
    chain.owner = this;
    this.claimed.add(chain);
  }

  /** Buffers a new body (or tombstone) for a claimed document. */
  put(chain: DocChain, doc: Doc | null): void {
    const replaced = this.writes.get(chain);
    this.writes.set(chain, doc);
    if (doc) {
      chain.coll.indexDoc(chain, doc);
      if (!chain.coll.hasWideNumbers && hasWideNumber(doc)) chain.coll.hasWideNumbers = true;
    }
    // A second write of the document in this transaction: the first one's keys would otherwise stay
    // in the indexes for good (no version ever carries that body).
    if (replaced && replaced !== doc) chain.coll.unindex(chain, [replaced]);
  }

  /** Raises E11000 (or a write conflict) if another document holds one of doc's unique keys. */
  checkUnique(coll: Collection, chain: DocChain, doc: Doc): void {
    for (const ix of coll.uniqueIndexes()) {
      for (const key of ix.fullKeys(doc)) {
        const holders = ix.lookup(ix.fields.length, key);
        if (!holders) continue;
        for (const other of holders) {
          if (other === chain) continue;
          this.checkHolder(coll, ix, other, key, doc);
        }
      }
    }
  }

  private checkHolder(coll: Collection, ix: Index, other: DocChain, key: string, doc: Doc): void {
    const holds = (d: Doc | null | undefined): boolean => !!d && ix.fullKeys(d).includes(key);
    if (other.owner === this) {
      const mine = this.writes.has(other) ? this.writes.get(other) : other.latest()?.doc;
      if (holds(mine)) throw duplicateKey(coll, ix, doc, key);
      return;
    }
    const latest = other.latest();
    if (other.owner) {
      if (holds(other.owner.pendingDoc(other)) || holds(latest?.doc)) this.conflict(other.owner);
      return;
    }
    if (latest && holds(latest.doc)) {
      if (latest.ts > this.snapshotTs) this.conflict(null);
      throw duplicateKey(coll, ix, doc, key);
    }
  }

  commit(): void {
    if (this.state !== 'active') return;
    this.state = 'committed';
    this.store.openTxns.delete(this);
    if (this.writes.size > 0) {
      const ts = ++this.store.clock;
      this.store.stats.commits++;
      for (const [chain, doc] of this.writes) chain.versions.push({ ts, doc });
    }
    for (const chain of this.claimed) chain.owner = null;
    this.store.afterCommit(this.claimed);
    this.claimed.clear();
    for (const f of this.onEnd) f(true);
    this.resolveEnded?.();
  }

  abort(): void {
    if (this.state !== 'active') return;
    this.state = 'aborted';
    this.store.openTxns.delete(this);
    const h = this.store.horizon();
    for (const chain of this.claimed) {
      chain.owner = null;
      const doc = this.writes.get(chain);
      if (doc) chain.coll.unindex(chain, [doc]);
      // Also forgets chains this transaction created but never filled (failed inserts).
      chain.coll.prune(chain, h);
    }
    this.claimed.clear();
    this.writes.clear();
    for (const f of this.onEnd) f(false);
    this.resolveEnded?.();
  }
}

export function idKeyValue(doc: Doc): Doc {
  return { _id: doc._id };
}

export function duplicateKey(coll: Collection, ix: Index | '_id_', doc: Doc, key?: string): MongoCommandError {
  const keyPattern = ix === '_id_' ? { _id: 1 } : ix.spec.key;
  const keyValue = ix === '_id_' ? idKeyValue(doc) : ix.keyValue(doc, key ?? '');
  const name = ix === '_id_' ? '_id_' : ix.name;
  const rendered = Object.entries(keyValue)
    .map(([k, v]) => `${k}: ${formatValue(v)}`)
    .join(', ');
  return new MongoCommandError(Codes.DuplicateKey, `E11000 duplicate key error collection: ${coll.ns} index: ${name} dup key: { ${rendered} }`, {
    extra: { keyPattern, keyValue },
  });
}
