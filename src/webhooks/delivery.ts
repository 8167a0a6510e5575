import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { Models } from '../models.js';
import { DeliveryError } from '../outbox/errors.js';
import type { OutboxFields } from '../outbox/message.model.js';
import { guardedLookup, isPublicAddress } from './address-guard.js';
import { signedHeaders } from './signing.js';

export interface WebhookDeliveryDeps {
  models: Pick<Models, 'Webhook'>;
  timeoutMs: number;
  allowPrivate: boolean;
}

/** What a receiver sees: Standard Webhooks' recommended envelope. */
export function webhookBody(row: Pick<OutboxFields, 'type' | 'occurredAt' | 'data'>): string {
  return JSON.stringify({ type: row.type, timestamp: row.occurredAt.toISOString(), data: row.data });
}

/** The webhook-id of a delivery: the message's id, the same on every retry (API.md). */
export const webhookIdOf = (row: Pick<OutboxFields, 'sourceId' | '_id'>): string => `msg_${String(row.sourceId ?? row._id)}`;

/**
 * One POST, no redirects followed (a 3xx could point anywhere), the whole exchange bounded by
 * `timeoutMs`. Resolves with the status code; the response body is read and dropped.
 */
function post(url: URL, headers: Record<string, string>, body: string, deps: WebhookDeliveryDeps): Promise<number> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'ticketing-webhooks/1' },
        lookup: guardedLookup(deps.allowPrivate),
        signal: AbortSignal.timeout(deps.timeoutMs),
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Delivers one `webhook` row to its endpoint, signed; any answer but a 2xx is retried. */
export async function deliverWebhook(deps: WebhookDeliveryDeps, row: OutboxFields): Promise<{ statusCode: number }> {
  const hook = row.webhookId ? await deps.models.Webhook.findById(row.webhookId).lean() : null;
  // Deleted or switched off since the message was fanned out: nothing to deliver to, ever.
  if (!hook?.active) throw new DeliveryError('the webhook was deleted or deactivated', { permanent: true });
  const url = new URL(hook.url);
  // The socket's lookup guards names; a literal IP never goes through a lookup, so check it here.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!deps.allowPrivate && isIP(host) && !isPublicAddress(host)) {
    throw new DeliveryError(`${host} is not a public address`, { permanent: true });
  }
  const body = webhookBody(row);
  let status: number;
  try {
    status = await post(url, signedHeaders(hook.secret, webhookIdOf(row), body), body, deps);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'WEBHOOK_URL_NOT_ALLOWED') throw new DeliveryError((err as Error).message);
    const timedOut = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
    throw new DeliveryError(timedOut ? `no answer within ${deps.timeoutMs} ms` : `request failed: ${code ?? (err as Error).message}`);
  }
  if (status < 200 || status > 299) throw new DeliveryError(`answered ${status}`, { statusCode: status });
  return { statusCode: status };
}
