import { z } from 'zod';
import { objectId, pagination } from '../lib/http.js';
import { DELIVERY_STATUSES, WEBHOOK_EVENT_TYPES } from '../outbox/types.js';

const url = z
  .string()
  .trim()
  .max(2048)
  .refine((v) => URL.canParse(v), 'must be an absolute URL')
  .refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), 'must be an http:// or https:// URL')
  .refine((v) => URL.canParse(v) && !new URL(v).username && !new URL(v).password, 'must not carry credentials');

export const createWebhookBody = z
  .object({
    url,
    events: z
      .array(z.enum(WEBHOOK_EVENT_TYPES))
      .min(1)
      .max(WEBHOOK_EVENT_TYPES.length)
      .refine((list) => new Set(list).size === list.length, 'must not repeat an event type'),
    eventId: objectId.optional(),
  })
  .strict();
export type CreateWebhookInput = z.output<typeof createWebhookBody>;

export const webhookSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
  eventId: z.string().nullable(),
  active: z.boolean(),
  createdAt: z.string(),
});
/** Only the registration answer carries the secret. */
export const createdWebhookSchema = webhookSchema.extend({
  secret: z.string().describe('The signing secret (whsec_...). Shown once: store it now.'),
});

export const deliverySchema = z.object({
  id: z.string(),
  type: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number(),
  lastStatusCode: z.number().nullable(),
  lastError: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  createdAt: z.string(),
});

export const listQuery = z.object(pagination).strict();
export const deliveriesQuery = z.object({ ...pagination, status: z.enum(DELIVERY_STATUSES).optional() }).strict();
export const deliveryParams = z.object({ id: objectId, deliveryId: objectId }).strict();
