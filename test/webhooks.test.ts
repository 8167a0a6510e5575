import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { retryDelayMs } from '../src/outbox/backoff.js';
import { isPublicAddress } from '../src/webhooks/address-guard.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, confirm, createEvent } from './fixtures/bookings.js';
import { outboxRows, registerWebhook } from './fixtures/webhooks.js';
import { buildTestApp, type TestApp } from './helper.js';
import { expectProblem } from './support/problem.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

/**
 * Organizer webhooks (API.md "Notifications and webhooks"): registration, the SSRF guard, and
 * deliveries to a real HTTP receiver that verifies each one with the `standardwebhooks` package.
 */

let t: TestApp;
let receiver: WebhookReceiver;
let organizer: TestAccount;
let buyer: TestAccount;

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  t = await buildTestApp({ env: { WEBHOOKS_ALLOW_PRIVATE: 'true', WEBHOOK_TIMEOUT_MS: '400' } });
  [organizer, buyer] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app)]);
});
afterAll(async () => {
  await t.close();
  await receiver.close();
});
afterEach(() => {
  receiver.behaviour = {};
});

const drain = () => t.app.outboxRuntime.worker.drain();

/** Moves the app clock to the row's next attempt (the worker's backoff) and delivers again. */
async function untilNextAttempt(deliveryId: string): Promise<void> {
  const row = await t.app.models.OutboxMessage.findById(deliveryId).lean();
  if (!row) throw new Error('no such delivery');
  const wait = row.nextAttemptAt.getTime() - t.clock.now().getTime();
  if (wait > 0) t.clock.advance(wait);
  await drain();
}

describe('registration', () => {
  it('answers the secret once, lists without it, and refuses customers and strangers', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const hook = await registerWebhook(t.app, organizer.accessToken, { url: receiver.url, events: ['booking.created'], eventId });
    expect(hook).toMatchObject({ url: receiver.url, events: ['booking.created'], eventId, active: true });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const listed = await t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: bearer(organizer.accessToken) });
    expect(listed.statusCode).toBe(200);
    const items = listed.json<{ data: Record<string, unknown>[]; meta: { total: number } }>();
    expect(items.data.find((h) => h.id === hook.id)).toBeDefined();
    expect(listed.body).not.toContain(hook.secret);
    expect(items.data.every((h) => !('secret' in h))).toBe(true);

    const customer = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: bearer(buyer.accessToken), payload: { url: receiver.url, events: ['booking.created'] } });
    expectProblem(customer, 403, 'FORBIDDEN');
    const rival = await createAccount(t.app, { role: 'organizer' });
    // Someone else's event, and someone else's webhook: not found.
    const foreign = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: bearer(rival.accessToken), payload: { url: receiver.url, events: ['booking.created'], eventId } });
    expectProblem(foreign, 404, 'NOT_FOUND');
    expectProblem(await t.app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${hook.id}`, headers: bearer(rival.accessToken) }), 404, 'NOT_FOUND');
    expectProblem(await t.app.inject({ method: 'GET', url: `/api/v1/webhooks/${hook.id}/deliveries`, headers: bearer(rival.accessToken) }), 404, 'NOT_FOUND');

    const deleted = await t.app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${hook.id}`, headers: bearer(organizer.accessToken) });
    expect(deleted.statusCode).toBe(204);
    expect(await t.app.models.Webhook.countDocuments({ _id: hook.id })).toBe(0);
  });

  it('refuses bad input with 400 and stores nothing', async () => {
    const before = await t.app.models.Webhook.countDocuments();
    for (const payload of [
      { url: 'ftp://example.com/x', events: ['booking.created'] },
      { url: 'not a url', events: ['booking.created'] },
      { url: 'https://user:pw@example.com/', events: ['booking.created'] },
      { url: 'https://example.com/', events: [] },
      { url: 'https://example.com/', events: ['booking.created', 'booking.created'] },
      { url: 'https://example.com/', events: ['booking.exploded'] },
      { url: 'https://example.com/', events: ['booking.created'], extra: 1 },
      { url: { $gt: '' }, events: ['booking.created'] },
    ]) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: bearer(organizer.accessToken), payload });
      expectProblem(res, 400, 'VALIDATION_FAILED');
    }
    expect(await t.app.models.Webhook.countDocuments()).toBe(before);
  });
});

describe('the SSRF guard', () => {
  it('knows private, loopback, link-local and mapped addresses from public ones', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '64:ff9b::a00:1', '224.0.0.1']) {
      expect(isPublicAddress(a), a).toBe(false);
    }
    for (const a of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(isPublicAddress(a), a).toBe(true);
  });

  it('refuses private URLs at registration (400 WEBHOOK_URL_NOT_ALLOWED), and again at delivery', async () => {
    const strict = await buildTestApp();
    try {
      const owner = await createAccount(strict.app, { role: 'organizer' });
      const customer = await createAccount(strict.app);
      for (const url of [receiver.url, 'http://localhost:8080/x', 'http://[::1]/x', 'http://169.254.169.254/latest/meta-data', 'http://10.0.0.7/hook', 'http://[::ffff:127.0.0.1]/x']) {
        const res = await strict.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: bearer(owner.accessToken), payload: { url, events: ['booking.created'] } });
        expectProblem(res, 400, 'WEBHOOK_URL_NOT_ALLOWED');
      }
      expect(await strict.app.models.Webhook.countDocuments()).toBe(0);

      // A URL that was fine at registration and points inside now (DNS changed): refused at delivery.
      const eventId = await createEvent(strict.app, owner.accessToken, { price: 0 });
      await strict.app.models.Webhook.create({ ownerId: owner.user.id, url: receiver.url, events: ['booking.created'], secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', active: true });
      await strict.app.models.Webhook.create({ ownerId: owner.user.id, url: `http://localhost:${receiver.port}/hooks`, events: ['booking.created'], secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', active: true });
      expect((await book(strict.app, customer.accessToken, { eventId, quantity: 1 })).statusCode).toBe(201);
      const before = receiver.received.length;
      await strict.app.outboxRuntime.worker.drain();
      expect(receiver.received.length).toBe(before);
      const rows = await outboxRows(strict.app, { kind: 'webhook' });
      expect(rows).toHaveLength(2);
      const byUrl = rows.map((r) => ({ status: r.status, error: r.lastError }));
      // The literal loopback IP is refused for good; the name is refused at connect time and retried (DNS may change back).
      expect(byUrl).toEqual(
        expect.arrayContaining([
          { status: 'failed', error: expect.stringContaining('not a public address') },
          { status: 'pending', error: expect.stringContaining('resolves to no public address') },
        ]),
      );
    } finally {
      await strict.close();
    }
  });
});

describe('deliveries', () => {
  it('are signed per Standard Webhooks; a receiver failing 3 times gets the 4th with the same webhook-id', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const hook = await registerWebhook(t.app, organizer.accessToken, { url: receiver.url, events: ['booking.created', 'booking.confirmed'], eventId });
    receiver.secret = hook.secret;
    receiver.behaviour = { status: (attempt) => (attempt <= 3 ? 500 : 200) };

    const held = await book(t.app, buyer.accessToken, { eventId, quantity: 2 });
    expect(held.statusCode).toBe(201);
    const booking = bookingOf(held);
    await drain();
    const [delivery] = await outboxRows(t.app, { kind: 'webhook', webhookId: hook.id });
    expect(delivery).toMatchObject({ type: 'booking.created', status: 'pending', attempts: 1, lastStatusCode: 500 });
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const row = await t.app.models.OutboxMessage.findById(delivery!._id).lean();
      waits.push(row!.nextAttemptAt.getTime() - t.clock.now().getTime());
      await untilNextAttempt(String(delivery!._id));
    }
    const done = await t.app.models.OutboxMessage.findById(delivery!._id).lean();
    expect(done).toMatchObject({ status: 'delivered', attempts: 4, lastStatusCode: 200 });
    // Exponential: every wait longer than the one before (jitter never reverses the ramp).
    expect(waits[0]).toBeGreaterThanOrEqual(15_000);
    expect(waits[1]).toBeGreaterThan(waits[0]!);
    expect(waits[2]).toBeGreaterThan(waits[1]!);

    const got = receiver.received.filter((r) => r.body.data.booking && (r.body.data.booking as { id: string }).id === booking.id);
    expect(got.map((r) => r.answered)).toEqual([500, 500, 500, 200]);
    expect(new Set(got.map((r) => r.id)).size).toBe(1);
    expect(got.every((r) => r.verified)).toBe(true);
    expect(got[0]!.id).toMatch(/^msg_[a-f0-9]{24}$/);
    expect(got[0]!.body).toMatchObject({ type: 'booking.created', data: { booking: { id: booking.id, eventId, status: 'pending', quantity: 2 } } });

    // The delivery list shows it; confirming sends booking.confirmed, a new message with a new id.
    const list = await t.app.inject({ method: 'GET', url: `/api/v1/webhooks/${hook.id}/deliveries`, headers: bearer(organizer.accessToken) });
    expect(list.statusCode).toBe(200);
    expect(list.json<{ data: unknown[] }>().data).toEqual([
      { id: String(delivery!._id), type: 'booking.created', status: 'delivered', attempts: 4, lastStatusCode: 200, lastError: null, nextAttemptAt: null, createdAt: expect.any(String) },
    ]);
    expect((await confirm(t.app, buyer.accessToken, booking.id)).statusCode).toBe(200);
    await drain();
    const confirmed = receiver.received.filter((r) => r.body.type === 'booking.confirmed' && (r.body.data.booking as { id: string }).id === booking.id);
    expect(confirmed).toHaveLength(1);
    expect(confirmed[0]!.id).not.toBe(got[0]!.id);
    expect(confirmed[0]!.body.data.booking).toMatchObject({ status: 'confirmed', tickets: [{ number: expect.any(String) }, { number: expect.any(String) }] });
  });

  it('retries a receiver that does not answer in time', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 0 });
    const hook = await registerWebhook(t.app, organizer.accessToken, { url: receiver.url, events: ['booking.created'], eventId });
    receiver.secret = hook.secret;
    // The first attempt hangs past WEBHOOK_TIMEOUT_MS (400 ms); the second answers at once.
    receiver.behaviour = { delayMs: (attempt) => (attempt === 1 ? 1500 : 0) };
    expect((await book(t.app, buyer.accessToken, { eventId, quantity: 1 })).statusCode).toBe(201);
    await drain();
    const [row] = await outboxRows(t.app, { kind: 'webhook', webhookId: hook.id });
    expect(row).toMatchObject({ status: 'pending', attempts: 1, lastError: 'no answer within 400 ms' });
    await untilNextAttempt(String(row!._id));
    expect(await t.app.models.OutboxMessage.findById(row!._id).lean()).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it("go to the event's own webhooks and its organizer's catch-alls, only for subscribed types", async () => {
    const other = await createAccount(t.app, { role: 'organizer' });
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 0 });
    const mine = await registerWebhook(t.app, organizer.accessToken, { url: receiver.url, events: ['booking.created'] });
    const onlyCancel = await registerWebhook(t.app, organizer.accessToken, { url: receiver.url, events: ['event.cancelled'], eventId });
    const stranger = await registerWebhook(t.app, other.accessToken, { url: receiver.url, events: ['booking.created'] });
    expect((await book(t.app, buyer.accessToken, { eventId, quantity: 1 })).statusCode).toBe(201);
    await drain();
    const rows = await outboxRows(t.app, { kind: 'webhook', eventId });
    expect(rows.map((r) => String(r.webhookId))).toEqual([mine.id]);
    expect(rows.some((r) => String(r.webhookId) === onlyCancel.id || String(r.webhookId) === stranger.id)).toBe(false);
  });
});

describe('the retry window', () => {
  it('gives up after the retry window (24 h) and says so; a manual retry sends it again with the same webhook-id', async () => {
    // An app of its own: a day passes on its clock (and every access token expires with it).
    const own = await buildTestApp({ env: { WEBHOOKS_ALLOW_PRIVATE: 'true', WEBHOOK_TIMEOUT_MS: '400' } });
    try {
      const t = own;
      const drain = () => t.app.outboxRuntime.worker.drain();
      const untilNextAttempt = async (id: string) => {
        const row = await t.app.models.OutboxMessage.findById(id).lean();
        const wait = (row?.nextAttemptAt.getTime() ?? 0) - t.clock.now().getTime();
        if (wait > 0) t.clock.advance(wait);
        await drain();
      };
      const [organizer, buyer] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app)]);
      const eventId = await createEvent(t.app, organizer.accessToken, { price: 0 });
      const hook = await registerWebhook(t.app, organizer.accessToken, { url: receiver.url, events: ['booking.created'], eventId });
      receiver.secret = hook.secret;
      receiver.behaviour = { status: () => 503 };
      const start = t.clock.now().getTime();
      expect((await book(t.app, buyer.accessToken, { eventId, quantity: 1 })).statusCode).toBe(201);
      await drain();
      const [row] = await outboxRows(t.app, { kind: 'webhook', webhookId: hook.id });
      let current = await t.app.models.OutboxMessage.findById(row!._id).lean();
      while (current?.status === 'pending') {
        await untilNextAttempt(String(row!._id));
        current = await t.app.models.OutboxMessage.findById(row!._id).lean();
      }
      expect(current).toMatchObject({ status: 'failed', lastStatusCode: 503 });
      const elapsed = current!.failedAt!.getTime() - start;
      // Tried for (nearly) the whole day, not beyond it: the next wait would have passed 24 h.
      expect(elapsed).toBeLessThanOrEqual(24 * 3_600_000);
      expect(elapsed).toBeGreaterThan(22 * 3_600_000);
      // As many attempts as the jittered backoff fits into the day: between the count with every
      // wait at its longest and the count with every wait at its shortest.
      const attemptsWithin = (random: () => number) => {
        let attempts = 1;
        for (let at = retryDelayMs(1, random); at <= 24 * 3_600_000; at += retryDelayMs(attempts, random)) attempts++;
        return attempts;
      };
      expect(current!.attempts).toBeGreaterThanOrEqual(attemptsWithin(() => 1));
      expect(current!.attempts).toBeLessThanOrEqual(attemptsWithin(() => 0));
      expect(current!.attempts).toBeGreaterThan(10);

      const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/ticketing_outbox_failed\{kind="webhook"\} [1-9]/);
      expect(metrics.body).toMatch(/ticketing_outbox_delivery_failures_total\{kind="webhook",final="true"\} [1-9]/);

      receiver.behaviour = {};
      // A day later the organizer logs in again (refresh token) to retry it by hand.
      const refreshed = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: organizer.refreshToken } });
      expect(refreshed.statusCode).toBe(200);
      organizer.accessToken = refreshed.json<{ data: { accessToken: string } }>().data.accessToken;
      const retry = await t.app.inject({ method: 'POST', url: `/api/v1/webhooks/${hook.id}/deliveries/${String(row!._id)}/retry`, headers: bearer(organizer.accessToken) });
      expect(retry.statusCode).toBe(202);
      expect(retry.json<{ data: { status: string } }>().data.status).toBe('pending');
      await drain();
      expect(await t.app.models.OutboxMessage.findById(row!._id).lean()).toMatchObject({ status: 'delivered', lastStatusCode: 204 });
      const ids = receiver.received.filter((r) => r.id === `msg_${String(row!.sourceId)}`);
      expect(ids.length).toBe(current!.attempts + 1);

      const unknown = await t.app.inject({ method: 'POST', url: `/api/v1/webhooks/${hook.id}/deliveries/${'0'.repeat(24)}/retry`, headers: bearer(organizer.accessToken) });
      expectProblem(unknown, 404, 'NOT_FOUND');
    } finally {
      await own.close();
    }
  });

});
