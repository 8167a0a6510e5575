import { Types } from 'mongoose';
import type { SessionFields, SessionModel } from './session.model.js';

export type SessionRow = Pick<SessionFields, '_id' | 'userId' | 'revokedAt' | 'expiresAt' | 'role'>;

interface Waiter {
  resolve(row: SessionRow | null): void;
  reject(err: unknown): void;
}

/** Ids per query; a larger turn is split. */
const MAX_IDS = 100;
const PROJECTION = { userId: 1, revokedAt: 1, expiresAt: 1, role: 1 } as const;

/**
 * The session documents the session check reads when its cache has no answer, read together: the
 * checks that miss in one turn of the event loop share one query (`_id $in`, an index lookup per
 * id). A drop is exactly that case: its buyers' sessions were cached minutes ago if ever, so their
 * first requests all miss at once, and one query per buyer was most of what a purchase cost the
 * server and the database (BENCHMARKS.md). Each caller still gets the document as the database
 * holds it after its request arrived; only the round trip is shared. Through the driver, not a
 * Mongoose query: the sid is a checked hex id and no casting is needed.
 */
class SessionReads {
  #waiting = new Map<string, Waiter[]>();
  #scheduled = false;

  constructor(private readonly model: SessionModel) {}

  read(sessionId: string): Promise<SessionRow | null> {
    return new Promise((resolve, reject) => {
      const waiters = this.#waiting.get(sessionId);
      if (waiters) waiters.push({ resolve, reject });
      else this.#waiting.set(sessionId, [{ resolve, reject }]);
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#waiting;
    this.#waiting = new Map();
    const ids = [...batch.keys()];
    for (let at = 0; at < ids.length; at += MAX_IDS) void this.#fetch(ids.slice(at, at + MAX_IDS), batch);
  }

  async #fetch(ids: string[], batch: Map<string, Waiter[]>): Promise<void> {
    try {
      const rows = await this.model.collection
        .find<SessionRow>({ _id: { $in: ids.map((id) => new Types.ObjectId(id)) } }, { projection: PROJECTION })
        .toArray();
      const byId = new Map(rows.map((row) => [String(row._id), row]));
      for (const id of ids) for (const waiter of batch.get(id) ?? []) waiter.resolve(byId.get(id) ?? null);
    } catch (err) {
      for (const id of ids) for (const waiter of batch.get(id) ?? []) waiter.reject(err);
    }
  }
}

// One reader per app (its own Mongoose model), so two apps in one process never share a query.
const readers = new WeakMap<SessionModel, SessionReads>();

/** The session's document (only what the session check needs), or null if there is none. */
export function readSession(model: SessionModel, sessionId: string): Promise<SessionRow | null> {
  let reader = readers.get(model);
  if (!reader) readers.set(model, (reader = new SessionReads(model)));
  return reader.read(sessionId);
}
