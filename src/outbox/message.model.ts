import { type Connection, type InferSchemaType, Schema, type Types } from 'mongoose';
import { DELIVERY_KINDS, DELIVERY_STATUSES } from './types.js';

/**
 * One row of the outbox. A state change writes a `message` row in its own transaction; the worker
 * fans it out into `email` and `webhook` rows (one per recipient), and each row is delivered on its
 * own with its own attempts, so a failing organizer endpoint never holds back a buyer's email.
 *
 * Leases: a worker claims a row by moving `nextAttemptAt` to the end of its lease and writing a
 * fresh `leaseToken` in one atomic update. Nobody else can claim it until the lease ends; if the
 * worker dies, the row simply becomes due again then. Settling checks the token, so a worker whose
 * lease ran out can no longer overwrite the outcome of the one that took over.
 */
const outboxSchema = new Schema(
  {
    kind: { type: String, enum: DELIVERY_KINDS, required: true },
    type: { type: String, required: true },
    eventId: { type: Schema.Types.ObjectId, default: null },
    data: { type: Schema.Types.Mixed, required: true },
    /** When the change happened (the webhook body's `timestamp`). */
    occurredAt: { type: Date, required: true },
    /** For fanned-out rows: the message row they came from, and who they go to. */
    sourceId: { type: Schema.Types.ObjectId, default: null },
    target: { type: String, default: null },
    webhookId: { type: Schema.Types.ObjectId, default: null },
    status: { type: String, enum: DELIVERY_STATUSES, required: true, default: 'pending' },
    attempts: { type: Number, required: true, default: 0 },
    nextAttemptAt: { type: Date, required: true },
    /** Retries stop here (OUTBOX_RETRY_HOURS after the first try; a manual retry opens a new window). */
    retryUntil: { type: Date, required: true },
    leaseToken: { type: String, default: null },
    lastError: { type: String, default: null },
    lastStatusCode: { type: Number, default: null },
    deliveredAt: { type: Date, default: null },
    failedAt: { type: Date, default: null },
  },
  { timestamps: true, versionKey: false, minimize: false, collection: 'outbox' },
);

// The worker's claim: the oldest due row still pending.
outboxSchema.index({ status: 1, nextAttemptAt: 1 });
// Fan-out is idempotent: a worker that dies halfway and a second run create each delivery once.
outboxSchema.index({ sourceId: 1, target: 1 }, { unique: true, partialFilterExpression: { sourceId: { $type: 'objectId' } } });
// Delivered rows are history after a while (30 days); failed ones stay until someone looks at them.
outboxSchema.index({ deliveredAt: 1 }, { expireAfterSeconds: 30 * 24 * 3600, partialFilterExpression: { status: 'delivered' } });
// GET /webhooks/:id/deliveries, newest first.
outboxSchema.index({ webhookId: 1, _id: -1 }, { partialFilterExpression: { webhookId: { $type: 'objectId' } } });

export type OutboxFields = InferSchemaType<typeof outboxSchema> & { _id: Types.ObjectId };

export function outboxModel(conn: Connection) {
  return conn.model<OutboxFields>('OutboxMessage', outboxSchema);
}
export type OutboxModel = ReturnType<typeof outboxModel>;
