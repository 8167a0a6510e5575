import { type Connection, type InferSchemaType, Schema } from 'mongoose';

/**
 * Failed-login bookkeeping, one document per email that was tried, whether or not an account has
 * that email. Keeping it apart from the users makes a login for an unknown email run the same
 * steps as one for a known email (reserve a try, read the user, one bcrypt comparison, maybe lock),
 * so neither the answers nor their timing tell which emails have accounts.
 */
const loginAttemptSchema = new Schema(
  {
    /** The normalised (trimmed, lower-case) email. */
    _id: { type: String, required: true },
    /** Tries used since the last success or lock; each is reserved before its password check. */
    failures: { type: Number, default: 0 },
    lockedUntil: { type: Date, default: null },
    /** When the record may go: a day after the last try, or when its lock ends if later. */
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false },
);

// Bounds what a spray of made-up emails can leave behind; MongoDB's TTL monitor removes them.
loginAttemptSchema.index({ expiresAt: 1 }, { expireAfterSeconds: 0 });

export type LoginAttemptFields = InferSchemaType<typeof loginAttemptSchema> & { _id: string };

export function loginAttemptModel(conn: Connection) {
  return conn.model<LoginAttemptFields>('LoginAttempt', loginAttemptSchema);
}
export type LoginAttemptModel = ReturnType<typeof loginAttemptModel>;
