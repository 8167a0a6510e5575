import { Types } from 'mongoose';
import type { Role } from '../auth/user.model.js';
import type { Clock } from '../lib/clock.js';
import { AppError, notFound } from '../lib/errors.js';
import type { Models } from '../models.js';
import type { OutboxFields } from '../outbox/message.model.js';
import { isWebhookEventType } from '../outbox/types.js';
import { checkUrlTarget } from './address-guard.js';
import type { CreateWebhookInput } from './schemas.js';
import { newSecret } from './signing.js';
import type { WebhookFields } from './webhook.model.js';

export interface Actor {
  userId: string;
  role: Role;
}

export interface WebhookDeps {
  models: Pick<Models, 'Webhook' | 'Event' | 'OutboxMessage'>;
  clock: Clock;
  allowPrivate: boolean;
  retryMs: number;
}

export const urlNotAllowed = (detail: string) => new AppError(400, 'WEBHOOK_URL_NOT_ALLOWED', detail);

export function toWebhookView(hook: WebhookFields) {
  return {
    id: String(hook._id),
    url: hook.url,
    events: hook.events.filter(isWebhookEventType),
    eventId: hook.eventId ? String(hook.eventId) : null,
    active: hook.active,
    createdAt: hook.createdAt.toISOString(),
  };
}

export function toDeliveryView(row: OutboxFields) {
  return {
    id: String(row._id),
    type: row.type,
    status: row.status,
    attempts: row.attempts,
    lastStatusCode: row.lastStatusCode ?? null,
    lastError: row.lastError ?? null,
    nextAttemptAt: row.status === 'pending' ? row.nextAttemptAt.toISOString() : null,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Registers an endpoint: its URL must reach a public address; an `eventId` must be the caller's event. */
export async function createWebhook(deps: WebhookDeps, actor: Actor, input: CreateWebhookInput) {
  if (input.eventId) {
    const event = await deps.models.Event.findById(input.eventId, { organizerId: 1 }).lean();
    // Someone else's event is "not found": its existence is not the caller's business.
    if (!event || (actor.role !== 'admin' && String(event.organizerId) !== actor.userId)) throw notFound('Event');
  }
  const verdict = await checkUrlTarget(new URL(input.url), deps.allowPrivate);
  if (!verdict.ok) throw urlNotAllowed(`The webhook URL is not allowed: ${verdict.reason}`);
  const hook = await deps.models.Webhook.create({
    ownerId: new Types.ObjectId(actor.userId),
    url: input.url,
    events: input.events,
    eventId: input.eventId ? new Types.ObjectId(input.eventId) : null,
    secret: newSecret(),
    active: true,
  });
  const stored = hook.toObject<WebhookFields>();
  return { ...toWebhookView(stored), secret: stored.secret };
}

const ownFilter = (actor: Actor) => (actor.role === 'admin' ? {} : { ownerId: new Types.ObjectId(actor.userId) });

/** The caller's endpoints (an admin's list has everyone's), newest first. */
export async function listWebhooks(deps: WebhookDeps, actor: Actor, page: number, limit: number) {
  const filter = ownFilter(actor);
  const [items, total] = await Promise.all([
    deps.models.Webhook.find(filter)
      .sort({ _id: -1 })
      .skip((page - 1) * limit)
      .limit(limit)
      .lean<WebhookFields[]>(),
    deps.models.Webhook.countDocuments(filter),
  ]);
  return { items: items.map(toWebhookView), total };
}

async function visibleWebhook(deps: WebhookDeps, actor: Actor, id: string): Promise<WebhookFields> {
  const hook = await deps.models.Webhook.findOne({ _id: id, ...ownFilter(actor) }).lean<WebhookFields>();
  if (!hook) throw notFound('Webhook');
  return hook;
}

/** Deletes an endpoint; its pending deliveries then fail at once (deliverWebhook finds no endpoint). */
export async function deleteWebhook(deps: WebhookDeps, actor: Actor, id: string): Promise<void> {
  const hook = await visibleWebhook(deps, actor, id);
  await deps.models.Webhook.deleteOne({ _id: hook._id });
}

export async function listDeliveries(deps: WebhookDeps, actor: Actor, id: string, query: { page: number; limit: number; status?: string }) {
  const hook = await visibleWebhook(deps, actor, id);
  const filter = { kind: 'webhook', webhookId: hook._id, ...(query.status ? { status: query.status } : {}) };
  const [items, total] = await Promise.all([
    deps.models.OutboxMessage.find(filter)
      .sort({ _id: -1 })
      .skip((query.page - 1) * query.limit)
      .limit(query.limit)
      .lean<OutboxFields[]>(),
    deps.models.OutboxMessage.countDocuments(filter),
  ]);
  return { items: items.map(toDeliveryView), total };
}

/**
 * Sends a delivery again as soon as a worker is free, with a new retry window; the webhook-id
 * stays the same, so the receiver can still tell it is the same message. A delivery in a worker's
 * hands right now keeps its lease: it becomes due when that attempt is over.
 */
export async function retryDelivery(deps: WebhookDeps, actor: Actor, id: string, deliveryId: string) {
  const hook = await visibleWebhook(deps, actor, id);
  const now = deps.clock.now();
  const filter = { _id: new Types.ObjectId(deliveryId), kind: 'webhook', webhookId: hook._id };
  const retryUntil = new Date(now.getTime() + deps.retryMs);
  // In a worker's hands right now (leased, lease not over): a new window, and it stays leased.
  const inFlight = await deps.models.OutboxMessage.updateOne(
    { ...filter, status: 'pending', leaseToken: { $ne: null }, nextAttemptAt: { $gt: now } },
    { $set: { retryUntil, updatedAt: now } },
    { timestamps: false },
  );
  if (inFlight.matchedCount === 0) {
    await deps.models.OutboxMessage.updateOne(
      filter,
      { $set: { status: 'pending', failedAt: null, retryUntil, nextAttemptAt: now, updatedAt: now } },
      { timestamps: false },
    );
  }
  const row = await deps.models.OutboxMessage.findOne(filter).lean<OutboxFields>();
  if (!row) throw notFound('Delivery');
  return toDeliveryView(row);
}

/** The active endpoints that want a message: the event's own, and its organizer's catch-alls. */
export async function subscribersOf(deps: Pick<WebhookDeps, 'models'>, message: OutboxFields): Promise<WebhookFields[]> {
  if (!message.eventId || !isWebhookEventType(message.type)) return [];
  const event = await deps.models.Event.findById(message.eventId, { organizerId: 1 }).lean();
  const or: Record<string, unknown>[] = [{ eventId: message.eventId }];
  if (event) or.push({ ownerId: event.organizerId, eventId: null });
  return deps.models.Webhook.find({ active: true, events: message.type, $or: or }).lean<WebhookFields[]>();
}
