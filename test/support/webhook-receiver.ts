import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';

/** One request the receiver got, after checking its signature as an organizer's code would. */
export interface Received {
  id: string;
  timestamp: string;
  verified: boolean;
  body: { type: string; timestamp: string; data: Record<string, unknown> };
  answered: number;
}

export interface ReceiverBehaviour {
  /** The status to answer attempt `n` (1-based) of a webhook-id with; 204 by default. */
  status?: (attempt: number, id: string) => number;
  /** How long to wait before answering attempt `n` of a webhook-id (a slow or hanging receiver). */
  delayMs?: (attempt: number, id: string) => number;
}

/**
 * A real HTTP endpoint for webhooks. It verifies every request with the `standardwebhooks` package
 * (signature and timestamp), records it, and tracks how many requests per webhook-id are in
 * flight at once, which must never exceed one (the worker's leases).
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  private readonly attempts = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();
  maxParallelPerId = 0;
  /** Requests that arrived, answered or not yet. */
  arrivals = 0;
  secret = '';
  behaviour: ReceiverBehaviour = {};

  private readonly server: Server;
  port = 0;

  private constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    receiver.port = (receiver.server.address() as AddressInfo).port;
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.arrivals++;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const id = String(req.headers['webhook-id']);
    const attempt = (this.attempts.get(id) ?? 0) + 1;
    this.attempts.set(id, attempt);
    const parallel = (this.inFlight.get(id) ?? 0) + 1;
    this.inFlight.set(id, parallel);
    this.maxParallelPerId = Math.max(this.maxParallelPerId, parallel);
    let verified = false;
    try {
      new Webhook(this.secret).verify(raw, {
        'webhook-id': id,
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      });
      verified = true;
    } catch {
      verified = false;
    }
    const delay = this.behaviour.delayMs?.(attempt, id) ?? 0;
    if (delay > 0) await sleep(delay);
    const status = verified ? (this.behaviour.status?.(attempt, id) ?? 204) : 401;
    this.inFlight.set(id, (this.inFlight.get(id) ?? 1) - 1);
    // The sender gave up (timed out, or died) before the answer: recorded as unanswered (0).
    const gone = res.destroyed || req.socket.destroyed;
    this.received.push({ id, timestamp: String(req.headers['webhook-timestamp']), verified, body: JSON.parse(raw) as Received['body'], answered: gone ? 0 : status });
    if (!gone) res.writeHead(status).end();
  }

  attemptsOf(id: string): number {
    return this.attempts.get(id) ?? 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
