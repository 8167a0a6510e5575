/**
 * The messages a state change announces (API.md "Notifications and webhooks"). A feature writes one
 * with `outbox.enqueue(session, { type, eventId, data })` inside the transaction that makes the
 * change; the worker then turns it into webhooks for the event's organizer and emails for buyers.
 *
 * `data` is a snapshot taken at the change: receivers see what happened, not what is true later.
 * The webhook types below are the public ones; `booking.expiring` only ever sends an email.
 */
export const WEBHOOK_EVENT_TYPES = [
  'booking.created',
  'booking.confirmed',
  'booking.cancelled',
  'booking.expired',
  'booking.refunded',
  'payment.succeeded',
  'payment.failed',
  'waitlist.offered',
  'event.cancelled',
  'ticket.checked_in',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Internal types: emails only, never sent to webhooks. */
export const INTERNAL_MESSAGE_TYPES = ['booking.expiring'] as const;
export type MessageType = WebhookEventType | (typeof INTERNAL_MESSAGE_TYPES)[number];

export const isWebhookEventType = (type: string): type is WebhookEventType =>
  (WEBHOOK_EVENT_TYPES as readonly string[]).includes(type);

/** A JSON value: what `data` may hold (it is stored, signed and sent as JSON). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** What a feature hands to `enqueue`. */
export interface OutboxMessageInput {
  type: MessageType;
  /** The event the change belongs to: picks the organizer's webhooks. */
  eventId: string;
  /** The snapshot sent as the webhook's `data` and used to write the emails (see docs/API.md, "Notifications and webhooks"). */
  data: { [key: string]: Json };
}

/** How a message travels: the fan-out of a message, or one email, or one webhook delivery. */
export const DELIVERY_KINDS = ['message', 'email', 'webhook'] as const;
export type DeliveryKind = (typeof DELIVERY_KINDS)[number];

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
