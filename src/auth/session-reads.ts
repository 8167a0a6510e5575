import { Types } from 'mongoose';
import { BatchedReads, readerFor } from '../lib/batched-reads.js';
import type { SessionFields, SessionModel } from './session.model.js';

export type SessionRow = Pick<SessionFields, '_id' | 'userId' | 'revokedAt' | 'expiresAt' | 'role'>;

const PROJECTION = { userId: 1, revokedAt: 1, expiresAt: 1, role: 1 } as const;

// The session documents the session check reads when its cache has no answer, read together
// (lib/batched-reads.ts). A drop is exactly that case: its buyers' sessions were cached minutes ago
// if ever, so their first requests all miss at once. Through the driver, not a Mongoose query: the
// sid is a checked hex id and no casting is needed.
const readers = new WeakMap<SessionModel, BatchedReads<SessionRow>>();

/** The session's document (only what the session check needs), or null if there is none. */
export async function readSession(model: SessionModel, sessionId: string): Promise<SessionRow | null> {
  const reader = readerFor(readers, model, async (ids) => {
    const rows = await model.collection
      .find<SessionRow>({ _id: { $in: ids.map((id) => new Types.ObjectId(id)) } }, { projection: PROJECTION })
      .toArray();
    return new Map(rows.map((row) => [String(row._id), row]));
  });
  return (await reader.read(sessionId)) ?? null;
}
