import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

/**
 * A local stand-in for the parts of the Stripe API the service uses: PaymentIntents (create,
 * retrieve) and Refunds (create), with Stripe's idempotency-key behaviour (the same key and body
 * answer the first answer again, with `Idempotent-Replayed`; the same key with another body is a
 * 400 idempotency_error). The real `stripe` SDK is pointed at it through its host/port/protocol
 * options, so the adapter is tested through the real client. Webhooks are Stripe-shaped events,
 * signed with the SDK's own test-header helper; the test decides when (and how often) they arrive.
 */

export interface LocalIntent {
  id: string;
  object: 'payment_intent';
  amount: number;
  currency: string;
  status: string;
  client_secret: string;
  metadata: Record<string, string>;
  payment_method: string | null;
  last_payment_error: { message: string; code: string } | null;
  amount_refunded: number;
}

const TEST_METHODS: Record<string, string> = {
  pm_card_visa: 'succeeded',
  pm_card_mastercard: 'succeeded',
  pm_card_chargeDeclined: 'declined',
  pm_card_threeDSecure2Required: 'requires_action',
  pm_card_processing: 'processing',
};

/** `a[b][c]=v` form fields into nested objects, the way Stripe reads them. */
function parseForm(body: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const parts = key.replace(/\]/g, '').split('[');
    let node = out;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = value;
  }
  return out;
}

const id = (prefix: string) => `${prefix}_local_${randomBytes(8).toString('hex')}`;

export class LocalStripeApi {
  readonly secretKey = `sk_test_${randomBytes(12).toString('hex')}`;
  readonly webhookSecret = `whsec_${randomBytes(16).toString('hex')}`;
  readonly intents = new Map<string, LocalIntent>();
  /** Webhook bodies waiting for the test to deliver them, oldest first. */
  readonly events: string[] = [];
  /** `down`: every call answers 500; `hang`: no answer for `hangMs`. */
  mode: 'up' | 'down' | 'hang' = 'up';
  hangMs = 5_000;
  /** Requests that reached the API (not replays): what was really created. */
  readonly created = { intents: 0, refunds: 0 };
  calls = 0;
  private readonly keys = new Map<string, { body: string; status: number; answer: string }>();
  private server: Server | null = null;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Signs a body as Stripe would, with the SDK's helper (a timestamp in seconds to sign an old one). */
  sign(payload: string, timestamp?: number, secret = this.webhookSecret): string {
    return Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
  }

  /** The buyer passes 3-D Secure for an intent waiting on it. */
  authenticate(intentId: string): void {
    const intent = this.must(intentId, 'requires_action');
    intent.status = 'succeeded';
    this.emit('payment_intent.succeeded', intent);
  }

  /** A processing intent succeeds (late). */
  settle(intentId: string): void {
    const intent = this.must(intentId, 'processing');
    intent.status = 'succeeded';
    this.emit('payment_intent.succeeded', intent);
  }

  /** What the buyer was charged and not given back. */
  netCharged(intentId: string): number {
    const intent = this.intents.get(intentId);
    return intent && intent.status === 'succeeded' ? intent.amount - intent.amount_refunded : 0;
  }

  private must(intentId: string, status: string): LocalIntent {
    const intent = this.intents.get(intentId);
    if (!intent || intent.status !== status) throw new Error(`${intentId} is not ${status}`);
    return intent;
  }

  emit(type: string, object: object): string {
    const body = JSON.stringify({
      id: id('evt'),
      object: 'event',
      api_version: '2025-01-01',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      pending_webhooks: 1,
      type,
      data: { object: structuredClone(object) },
    });
    this.events.push(body);
    return body;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    this.calls++;
    const send = (status: number, answer: string, replayed = false) => {
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req'), ...(replayed ? { 'idempotent-replayed': 'true' } : {}) });
      res.end(answer);
    };
    if (this.mode === 'down') return send(500, JSON.stringify({ error: { type: 'api_error', message: 'Stripe is down (local)' } }));
    if (this.mode === 'hang') {
      await new Promise((resolve) => setTimeout(resolve, this.hangMs));
      if (res.destroyed) return;
    }
    if (req.headers.authorization !== `Bearer ${this.secretKey}`) {
      return send(401, JSON.stringify({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } }));
    }
    const key = req.headers['idempotency-key'];
    const scope = `${req.method} ${req.url} ${String(key)}`;
    if (req.method === 'POST' && typeof key === 'string') {
      const earlier = this.keys.get(scope);
      if (earlier) {
        if (earlier.body !== body) {
          return send(400, JSON.stringify({ error: { type: 'idempotency_error', message: 'Keys for idempotent requests can only be used with the same parameters they were first used with.' } }));
        }
        return send(earlier.status, earlier.answer, true);
      }
    }
    const [status, answer] = this.route(req.method ?? 'GET', req.url ?? '/', parseForm(body));
    const text = JSON.stringify(answer);
    // Stripe stores the answer of a request that ran (5xx excepted) under its key.
    if (req.method === 'POST' && typeof key === 'string' && status < 500) this.keys.set(scope, { body, status, answer: text });
    send(status, text);
  }

  private route(method: string, url: string, params: Record<string, unknown>): [number, unknown] {
    if (method === 'POST' && url === '/v1/payment_intents') return this.createIntent(params);
    const get = /^\/v1\/payment_intents\/([^/?]+)/.exec(url);
    if (method === 'GET' && get) {
      const intent = this.intents.get(get[1]);
      return intent ? [200, intent] : [404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: 'No such payment_intent' } }];
    }
    if (method === 'POST' && url === '/v1/refunds') return this.createRefund(params);
    return [404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${url})` } }];
  }

  private createIntent(params: Record<string, unknown>): [number, unknown] {
    const amount = Number(params.amount);
    if (!Number.isInteger(amount) || amount < 1 || typeof params.currency !== 'string') {
      return [400, { error: { type: 'invalid_request_error', message: 'amount and currency are required' } }];
    }
    this.created.intents++;
    const method = typeof params.payment_method === 'string' ? params.payment_method : null;
    const intent: LocalIntent = {
      id: id('pi'),
      object: 'payment_intent',
      amount,
      currency: params.currency,
      status: 'requires_payment_method',
      client_secret: '',
      metadata: (params.metadata ?? {}) as Record<string, string>,
      payment_method: method,
      last_payment_error: null,
      amount_refunded: 0,
    };
    intent.client_secret = `${intent.id}_secret_${randomBytes(6).toString('hex')}`;
    this.intents.set(intent.id, intent);
    if (!method || params.confirm !== 'true') return [200, intent];
    const behaviour = TEST_METHODS[method];
    if (!behaviour) return [400, { error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such PaymentMethod: '${method}'` } }];
    if (behaviour === 'declined') {
      intent.last_payment_error = { message: 'Your card was declined.', code: 'card_declined' };
      this.emit('payment_intent.payment_failed', intent);
      return [402, { error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.', payment_intent: intent } }];
    }
    intent.status = behaviour;
    this.emit(`payment_intent.${behaviour}`, intent);
    return [200, intent];
  }

  private createRefund(params: Record<string, unknown>): [number, unknown] {
    const intent = typeof params.payment_intent === 'string' ? this.intents.get(params.payment_intent) : undefined;
    if (!intent || intent.status !== 'succeeded') {
      return [400, { error: { type: 'invalid_request_error', message: 'This PaymentIntent has no successful charge to refund' } }];
    }
    const amount = params.amount === undefined ? intent.amount - intent.amount_refunded : Number(params.amount);
    if (intent.amount_refunded + amount > intent.amount) {
      return [400, { error: { type: 'invalid_request_error', code: 'charge_already_refunded', message: 'Charge has already been refunded' } }];
    }
    this.created.refunds++;
    intent.amount_refunded += amount;
    const refund = { id: id('re'), object: 'refund', amount, payment_intent: intent.id, status: 'succeeded', currency: intent.currency };
    this.emit('charge.refunded', { id: id('ch'), object: 'charge', payment_intent: intent.id, amount_refunded: intent.amount_refunded, metadata: intent.metadata });
    return [200, refund];
  }
}
