// Server-side cursors. Results are materialised when the cursor opens (reads are snapshot-consistent
// at that moment); getMore hands out further batches.
import { Long, calculateObjectSize } from 'bson';
import { Codes, MongoCommandError } from './errors.js';
import type { Doc } from './values.js';

const MAX_BATCH_BYTES = 16 * 1024 * 1024;
/** mongod's cursorTimeoutMillis: idle cursors are closed after 10 minutes. */
const CURSOR_TIMEOUT_MS = 10 * 60 * 1000;
const DEFAULT_FIRST_BATCH = 101;

interface Cursor {
  id: number;
  ns: string;
  docs: Doc[];
  pos: number;
  sessionKey?: string;
  lastUsed: number;
}

export class Cursors {
  private readonly open = new Map<number, Cursor>();
  private nextId = 1;

  /** First batch of a result; registers a cursor when documents remain. */
  first(ns: string, docs: Doc[], batchSize: number | undefined, singleBatch: boolean, sessionKey?: string): Doc {
    const n = batchSize === undefined ? DEFAULT_FIRST_BATCH : batchSize;
    const take = takeBatch(docs, 0, n);
    let id = 0;
    if (!singleBatch && take < docs.length) {
      this.expireIdle();
      id = this.nextId++;
      this.open.set(id, { id, ns, docs, pos: take, sessionKey, lastUsed: Date.now() });
    }
    return { cursor: { firstBatch: docs.slice(0, take), id: Long.fromNumber(id), ns } };
  }

  more(idRaw: unknown, ns: string, batchSize: number | undefined): Doc {
    const id = typeof idRaw === 'number' ? idRaw : idRaw instanceof Long ? idRaw.toNumber() : NaN;
    const c = this.open.get(id);
    if (!c) throw new MongoCommandError(Codes.CursorNotFound, `cursor id ${String(idRaw)} not found`);
    if (c.ns !== ns) throw new MongoCommandError(Codes.Unauthorized, `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${c.ns}`);
    c.lastUsed = Date.now();
    const take = takeBatch(c.docs, c.pos, batchSize && batchSize > 0 ? batchSize : Infinity);
    const batch = c.docs.slice(c.pos, c.pos + take);
    c.pos += take;
    let outId = c.id;
    if (c.pos >= c.docs.length) {
      this.open.delete(c.id);
      outId = 0;
    }
    return { cursor: { nextBatch: batch, id: Long.fromNumber(outId), ns } };
  }

  kill(ids: unknown[]): Doc {
    const killed: Long[] = [];
    const notFound: Long[] = [];
    for (const raw of ids) {
      const id = typeof raw === 'number' ? raw : raw instanceof Long ? raw.toNumber() : NaN;
      if (this.open.delete(id)) killed.push(Long.fromNumber(id));
      else notFound.push(raw instanceof Long ? raw : Long.fromNumber(Number(raw)));
    }
    return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [] };
  }

  private expireIdle(): void {
    const cutoff = Date.now() - CURSOR_TIMEOUT_MS;
    for (const [id, c] of this.open) if (c.lastUsed < cutoff) this.open.delete(id);
  }

  killSession(sessionKey: string): void {
    for (const [id, c] of this.open) if (c.sessionKey === sessionKey) this.open.delete(id);
  }

  clear(): void {
    this.open.clear();
  }
}

/** How many documents from `pos` fit in one batch of at most n documents and 16 MiB. */
function takeBatch(docs: Doc[], pos: number, n: number): number {
  const end = Math.min(docs.length, pos + n);
  if (end - pos <= 1000) return end - pos;
  let bytes = 0;
  let i = pos;
  for (; i < end; i++) {
    bytes += calculateObjectSize(docs[i]);
    if (bytes > MAX_BATCH_BYTES && i > pos) break;
  }
  return i - pos;
}
