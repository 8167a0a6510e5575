// The TTL monitor: like mongod's, a background pass (every 60 s by default) deletes documents whose
// single-field TTL index value (a date, or the earliest date of an array) is older than
// expireAfterSeconds. Documents held by an open transaction are left for the next pass.
import { BlockedByTransaction } from './errors.js';
import type { Store } from './storage.js';
import { Txn } from './txn.js';
import { pathValues } from './values.js';

export function ttlPass(store: Store, now = Date.now()): number {
  let removed = 0;
  for (const colls of store.dbs.values()) {
    for (const coll of colls.values()) {
      if (coll.pendingTxn) continue;
      for (const ix of coll.indexes.values()) {
        const secs = ix.spec.expireAfterSeconds;
        if (typeof secs !== 'number' || ix.fields.length !== 1) continue;
        const cutoff = now - secs * 1000;
        for (const chain of [...coll.chains.values()]) {
          if (chain.owner) continue;
          const doc = chain.latest()?.doc;
          if (!doc || !ix.covers(doc)) continue;
          const dates: number[] = [];
          for (const v of pathValues(doc, ix.fields[0])) {
            for (const x of Array.isArray(v) ? v : [v]) if (x instanceof Date) dates.push(x.getTime());
          }
          if (dates.length === 0 || Math.min(...dates) > cutoff) continue;
          const t = new Txn(store, true);
          try {
            t.claim(chain);
            t.put(chain, null);
            t.commit();
            removed++;
          } catch (e) {
            t.abort();
            if (!(e instanceof BlockedByTransaction)) throw e;
          }
        }
      }
    }
  }
  return removed;
}
