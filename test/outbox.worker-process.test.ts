import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, createEvent } from './fixtures/bookings.js';
import { outboxRows, registerWebhook } from './fixtures/webhooks.js';
import { buildTestApp, type TestApp } from './helper.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

/**
 * `npm run worker` as a process of its own against the test database: it delivers, it stops
 * cleanly on SIGTERM, and when it is killed (SIGKILL) in the middle of a delivery the message is
 * delivered again, by another worker, once the dead one's lease has ended. None is lost.
 */

const LEASE_SECONDS = 5;
let t: TestApp;
let receiver: WebhookReceiver;
let organizer: TestAccount;
let buyer: TestAccount;
let eventId: string;

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  // The app's clock starts at the real now: the worker process runs on the system clock.
  t = await buildTestApp({ env: { WEBHOOKS_ALLOW_PRIVATE: 'true', OUTBOX_LEASE_SECONDS: String(LEASE_SECONDS) } });
  [organizer, buyer] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app)]);
  eventId = await createEvent(t.app, organizer.accessToken, { price: 0, totalTickets: 10 });
  const hook = await registerWebhook(t.app, organizer.accessToken, { url: receiver.url, events: ['booking.created'], eventId });
  receiver.secret = hook.secret;
});
afterAll(async () => {
  await t.close();
  await receiver.close();
});

function startWorker(): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      MONGODB_URI: t.config.MONGODB_URI,
      LOG_LEVEL: 'info',
      OUTBOX_POLL_MS: '50',
      OUTBOX_LEASE_SECONDS: String(LEASE_SECONDS),
      WEBHOOKS_ALLOW_PRIVATE: 'true',
      HOLD_SWEEP_SECONDS: '3600',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('the worker process', () => {
  it('delivers, and stops cleanly on SIGTERM', async () => {
    const worker = startWorker();
    try {
      expect((await book(t.app, buyer.accessToken, { eventId, quantity: 1 })).statusCode).toBe(201);
      await waitFor('the webhook', () => receiver.received.some((r) => r.verified && r.answered === 204), 30_000);
    } finally {
      worker.child.kill('SIGTERM');
    }
    expect(await worker.exited, worker.output()).toBe(0);
    expect(worker.output()).toContain('outbox worker running');
  }, 60_000);

  it('killed mid-delivery: the message is delivered again after the lease, with the same webhook-id', async () => {
    const before = receiver.received.length;
    // The first attempt of the next message hangs: the worker is in the middle of it when it dies.
    receiver.behaviour = { delayMs: (attempt) => (attempt === 1 ? 8_000 : 0) };
    const arrivals = receiver.arrivals;
    const worker = startWorker();
    expect((await book(t.app, buyer.accessToken, { eventId, quantity: 1 })).statusCode).toBe(201);
    await waitFor('the delivery to start', () => receiver.arrivals > arrivals, 30_000);
    worker.child.kill('SIGKILL');
    expect(await worker.exited).toBeNull();

    const [leased] = (await outboxRows(t.app, { kind: 'webhook', status: 'pending' })).filter((r) => r.leaseToken !== null);
    expect(leased).toBeDefined();
    expect(leased!.attempts).toBe(1);
    // While the dead worker's lease lasts nobody takes the row; once it ends, another worker does.
    t.clock.set(new Date());
    expect(await t.app.outboxRuntime.worker.drain()).toBe(0);
    t.clock.set(new Date(Date.now() + LEASE_SECONDS * 1000 + 1000));
    await t.app.outboxRuntime.worker.drain();
    const row = await t.app.models.OutboxMessage.findById(leased!._id).lean();
    expect(row).toMatchObject({ status: 'delivered', attempts: 2, lastStatusCode: 204 });
    const answered = receiver.received.slice(before).filter((r) => r.answered === 204 && r.verified);
    expect(answered.map((r) => r.id)).toEqual([`msg_${String(leased!.sourceId)}`]);
  }, 60_000);

  it('npm start runs it in-process in development (OUTBOX_WORKER_INLINE), and closing the app stops it', async () => {
    const inline = await buildTestApp({ env: { WEBHOOKS_ALLOW_PRIVATE: 'true', OUTBOX_WORKER_INLINE: 'true', OUTBOX_POLL_MS: '20' } });
    const own = await WebhookReceiver.start();
    try {
      const owner = await createAccount(inline.app, { role: 'organizer' });
      const customer = await createAccount(inline.app);
      const id = await createEvent(inline.app, owner.accessToken, { price: 0 });
      own.secret = (await registerWebhook(inline.app, owner.accessToken, { url: own.url, events: ['booking.created'], eventId: id })).secret;
      expect((await book(inline.app, customer.accessToken, { eventId: id, quantity: 1 })).statusCode).toBe(201);
      await waitFor('the in-process worker', () => own.received.some((r) => r.verified && r.answered === 204));
    } finally {
      await inline.close();
      await own.close();
    }
  });
});
