interface Waiter<V> {
  resolve(value: V | undefined): void;
  reject(err: unknown): void;
}

/** Keys per query; a larger turn is split. */
const MAX_KEYS = 100;

/**
 * Reads by key that requests arriving together share: every read asked for in one turn of the
 * event loop waits for that turn's end, and then one query answers them all (`fetch` gets the
 * distinct keys, at most MAX_KEYS at a time, and returns what it found by key). Under load many
 * requests want the same few documents (the event at the door, the sessions of a drop's buyers),
 * and one query per request was most of what such a request cost the server and the database.
 *
 * Nothing is cached: the query is sent after every request that shares it arrived, so each one
 * still sees the database as it was after its request arrived. Only the round trip is shared.
 */
export class BatchedReads<V> {
  #waiting = new Map<string, Waiter<V>[]>();
  #scheduled = false;

  constructor(private readonly fetch: (keys: string[]) => Promise<Map<string, V>>) {}

  /** The value fetch finds for the key, or undefined if it finds none. */
  read(key: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.#waiting.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.#waiting.set(key, [{ resolve, reject }]);
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
    const keys = [...batch.keys()];
    for (let at = 0; at < keys.length; at += MAX_KEYS) void this.#answer(keys.slice(at, at + MAX_KEYS), batch);
  }

  async #answer(keys: string[], batch: Map<string, Waiter<V>[]>): Promise<void> {
    try {
      const found = await this.fetch(keys);
      for (const key of keys) for (const waiter of batch.get(key) ?? []) waiter.resolve(found.get(key));
    } catch (err) {
      for (const key of keys) for (const waiter of batch.get(key) ?? []) waiter.reject(err);
    }
  }
}

/**
 * The reader of `owner` (a model: one per app, so two apps in one process never share a query),
 * made on first use.
 */
export function readerFor<O extends object, V>(
  readers: WeakMap<O, BatchedReads<V>>,
  owner: O,
  fetch: (keys: string[]) => Promise<Map<string, V>>,
): BatchedReads<V> {
  let reader = readers.get(owner);
  if (!reader) readers.set(owner, (reader = new BatchedReads(fetch)));
  return reader;
}
