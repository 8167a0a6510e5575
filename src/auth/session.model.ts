import { type Connection, type InferSchemaType, Schema, type Types } from 'mongoose';
import { ROLES } from './user.model.js';

/** One login. Only a hash of the current refresh token is kept; rotation replaces it. */
const sessionSchema = new Schema(
  {
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true, index: true },
    refreshTokenHash: { type: String, required: true },
    revokedAt: { type: Date, default: null },
    expiresAt: { type: Date, required: true },
    /**
     * The user's role, kept in step by every role change (auth/service.ts), so the per-request
     * session check reads one document. Sessions opened before it existed have none: the check
     * then reads the user.
     */
    role: { type: String, enum: ROLES },
  },
  { timestamps: true, versionKey: false },
);

// Expired sessions are removed by MongoDB's TTL monitor.
sessionSchema.index({ expiresAt: 1 }, { expireAfterSeconds: 0 });

export type SessionFields = InferSchemaType<typeof sessionSchema> & { _id: Types.ObjectId };

export function sessionModel(conn: Connection) {
  return conn.model<SessionFields>('Session', sessionSchema);
}
export type SessionModel = ReturnType<typeof sessionModel>;
