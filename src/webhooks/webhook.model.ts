import { type Connection, type InferSchemaType, Schema, type Types } from 'mongoose';
import { WEBHOOK_EVENT_TYPES } from '../outbox/types.js';

/**
 * An organizer's endpoint. `secret` is kept as issued because it must sign every delivery (an
 * HMAC key cannot be hashed like a password); it is answered once, at registration, and never again.
 */
const webhookSchema = new Schema(
  {
    ownerId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    url: { type: String, required: true },
    events: { type: [{ type: String, enum: WEBHOOK_EVENT_TYPES }], required: true },
    /** Only this event's messages; otherwise every event the owner organizes. */
    eventId: { type: Schema.Types.ObjectId, ref: 'Event', default: null },
    secret: { type: String, required: true },
    active: { type: Boolean, required: true, default: true },
  },
  { timestamps: true, versionKey: false },
);

// The fan-out's question: which endpoints want this event's messages.
webhookSchema.index({ ownerId: 1, active: 1 });
webhookSchema.index({ eventId: 1, active: 1 }, { partialFilterExpression: { eventId: { $type: 'objectId' } } });

export type WebhookFields = InferSchemaType<typeof webhookSchema> & { _id: Types.ObjectId; createdAt: Date; updatedAt: Date };

export function webhookModel(conn: Connection) {
  return conn.model<WebhookFields>('Webhook', webhookSchema);
}
export type WebhookModel = ReturnType<typeof webhookModel>;
