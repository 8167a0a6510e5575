// Converting the driver's result model objects into plain documents for matching.
import type { BulkWriteResult, ClientBulkWriteResult } from 'mongodb';
import type { Doc } from './bson-values.js';

export function bulkResultDoc(r: BulkWriteResult): Doc {
  return {
    insertedCount: r.insertedCount,
    matchedCount: r.matchedCount,
    modifiedCount: r.modifiedCount,
    deletedCount: r.deletedCount,
    upsertedCount: r.upsertedCount,
    upsertedIds: { ...r.upsertedIds },
    insertedIds: { ...r.insertedIds },
  };
}

function mapToDoc(m: ReadonlyMap<number, unknown> | undefined): Doc | undefined {
  if (!m) return undefined;
  const out: Doc = {};
  for (const [k, v] of m) out[String(k)] = v && typeof v === 'object' ? { ...v } : v;
  return out;
}

export function clientBulkResultDoc(r: ClientBulkWriteResult): Doc {
  const out: Doc = {
    acknowledged: r.acknowledged,
    insertedCount: r.insertedCount,
    upsertedCount: r.upsertedCount,
    matchedCount: r.matchedCount,
    modifiedCount: r.modifiedCount,
    deletedCount: r.deletedCount,
  };
  const ins = mapToDoc(r.insertResults);
  const upd = mapToDoc(r.updateResults);
  const del = mapToDoc(r.deleteResults);
  if (ins) out.insertResults = ins;
  if (upd) out.updateResults = upd;
  if (del) out.deleteResults = del;
  return out;
}
