import { MongoBulkWriteError, MongoServerError } from 'mongodb';
import type { Clock } from '../lib/clock.js';
import type { Models } from '../models.js';
import { planEmails } from '../notifications/emails.js';
import { subscribersOf } from '../webhooks/service.js';
import type { OutboxFields } from './message.model.js';

export interface FanOutDeps {
  models: Pick<Models, 'OutboxMessage' | 'Webhook' | 'Event' | 'Booking' | 'User'>;
  clock: Clock;
  retryMs: number;
}

const isDuplicateOnly = (err: unknown): boolean => {
  if (err instanceof MongoBulkWriteError) {
    const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    return errors.every((e) => e.code === 11000);
  }
  return err instanceof MongoServerError && err.code === 11000;
};

/**
 * Delivers a `message` row by turning it into one row per recipient: an email per buyer concerned,
 * a webhook delivery per subscribed endpoint. Each then has its own attempts and backoff. Run twice
 * (a worker died after inserting), the unique (sourceId, target) index keeps one row per recipient.
 */
export async function fanOut(deps: FanOutDeps, message: OutboxFields): Promise<void> {
  const [emails, hooks] = await Promise.all([planEmails(deps.models, message), subscribersOf(deps, message)]);
  const now = deps.clock.now();
  const common = {
    type: message.type,
    eventId: message.eventId,
    occurredAt: message.occurredAt,
    sourceId: message._id,
    status: 'pending' as const,
    attempts: 0,
    nextAttemptAt: now,
    retryUntil: new Date(now.getTime() + deps.retryMs),
    createdAt: now,
    updatedAt: now,
  };
  const rows = [
    ...emails.map((e) => ({ ...common, kind: 'email' as const, target: e.target, data: e.data })),
    ...hooks.map((h) => ({ ...common, kind: 'webhook' as const, target: `webhook:${String(h._id)}`, webhookId: h._id, data: message.data })),
  ];
  if (rows.length === 0) return;
  try {
    await deps.models.OutboxMessage.insertMany(rows, { ordered: false });
  } catch (err) {
    // The rows an earlier run made are there already; every other row was inserted.
    if (!isDuplicateOnly(err)) throw err;
  }
}
