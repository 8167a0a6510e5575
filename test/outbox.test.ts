import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, recount } from '../src/bookings/ledger-audit.js';
import { BACKOFF_CAP_MS, retryDelayMs } from '../src/outbox/backoff.js';
import { acquireJobLease } from '../src/outbox/job-lease.js';
import type { OutboxFields } from '../src/outbox/message.model.js';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { availability, book, bookingOf, confirm, createEvent } from './fixtures/bookings.js';
import { outboxRows, registerWebhook } from './fixtures/webhooks.js';
import { buildTestApp, type TestApp } from './helper.js';
import { failCommand, failPointOff, uriWithAppName } from './support/failpoint.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

/**
 * The outbox itself (DESIGN.md 9): a change and its message commit or fail together, workers
 * under leases never deliver one message at the same time and lose none when one dies, retries
 * back off, the backlog is a metric, and the sweeper announces expired holds once.
 */

const appName = `outbox-${randomUUID().slice(0, 8)}`;
let t: TestApp;
let receiver: WebhookReceiver;
let organizer: TestAccount;
let buyers: TestAccount[];

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  // A generous sale budget: the 1,000-booking test counts messages, not seconds, and 1,000 sales at
  // once on a loaded 2-core machine can outlast the 5 s default (those buyers would get 503s).
  t = await buildTestApp({
    env: { MONGODB_URI: uriWithAppName(appName), WEBHOOKS_ALLOW_PRIVATE: 'true', OUTBOX_CONCURRENCY: '8', BOOKING_TX_TIMEOUT_MS: '60000' },
  });
  organizer = await createAccount(t.app, { role: 'organizer' });
  buyers = await Promise.all(Array.from({ length: 20 }, () => createAccount(t.app)));
}, 60_000);
afterAll(async () => {
  await t.close();
  await receiver.close();
});

const count = (filter: Record<string, unknown>) => t.app.models.OutboxMessage.countDocuments(filter);

describe('a change and its message commit or fail together', () => {
  it('an aborted booking transaction leaves neither booking nor message', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const [buyer] = buyers as [TestAccount];
    // Sales insert the booking, then the message: let the first insert through, fail the second.
    await failCommand(t.app, appName, { skip: 1 }, { failCommands: ['insert'], errorCode: 2 });
    let res;
    try {
      res = await book(t.app, buyer.accessToken, { eventId, quantity: 1 });
    } finally {
      await failPointOff(t.app);
    }
    expect(res.statusCode).toBeGreaterThanOrEqual(500);
    expect(await t.app.models.Booking.countDocuments({ eventId })).toBe(0);
    expect(await count({ eventId })).toBe(0);

    // A commit that fails takes both with it too.
    await failCommand(t.app, appName, { times: 1 }, { failCommands: ['commitTransaction'], errorCode: 2 });
    try {
      res = await book(t.app, buyer.accessToken, { eventId, quantity: 1 });
    } finally {
      await failPointOff(t.app);
    }
    expect(res.statusCode).toBeGreaterThanOrEqual(500);
    expect(await t.app.models.Booking.countDocuments({ eventId })).toBe(0);
    expect(await count({ eventId })).toBe(0);

    // Nothing failing: one booking, one message.
    const ok = await book(t.app, buyer.accessToken, { eventId, quantity: 1 });
    expect(ok.statusCode).toBe(201);
    expect(await count({ eventId, kind: 'message', type: 'booking.created' })).toBe(1);
  });

  it('a confirm whose message cannot be written stays pending', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const buyer = buyers[1] as TestAccount;
    const held = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 2 }));
    // The confirm transaction's only insert is its message.
    await failCommand(t.app, appName, { times: 1 }, { failCommands: ['insert'], errorCode: 2 });
    let res;
    try {
      res = await confirm(t.app, buyer.accessToken, held.id);
    } finally {
      await failPointOff(t.app);
    }
    expect(res.statusCode).toBeGreaterThanOrEqual(500);
    expect(await t.app.models.Booking.findById(held.id).lean()).toMatchObject({ status: 'pending', tickets: [] });
    expect(await count({ eventId, type: 'booking.confirmed' })).toBe(0);
    expect((await confirm(t.app, buyer.accessToken, held.id)).statusCode).toBe(200);
    expect(await count({ eventId, type: 'booking.confirmed' })).toBe(1);
  });

  it('enqueue refuses to write outside a transaction', async () => {
    const session = await t.app.db.startSession();
    try {
      await expect(t.app.outbox.enqueue(session, { type: 'booking.created', eventId: String(new Types.ObjectId()), data: {} })).rejects.toThrow(/inside the transaction/);
    } finally {
      await session.endSession();
    }
  });
});

describe('leases', () => {
  /** Inserts `n` message rows with no recipients: delivering one is only the worker's work. */
  async function seedMessages(n: number): Promise<void> {
    const now = t.clock.now();
    await t.app.models.OutboxMessage.insertMany(
      Array.from({ length: n }, () => ({ kind: 'message', type: 'test.lease', eventId: null, data: {}, occurredAt: now, nextAttemptAt: now, retryUntil: new Date(now.getTime() + 86_400_000) })),
    );
  }

  it('four workers against one database: every row delivered once, never two at a time', async () => {
    await t.app.outboxRuntime.worker.drain(); // what earlier tests left, so only the seeded rows remain
    await seedMessages(300);
    const inFlight = new Set<string>();
    const handled = new Map<string, number>();
    let overlaps = 0;
    const slowHandler = async (row: OutboxFields) => {
      const id = String(row._id);
      if (inFlight.has(id)) overlaps++;
      inFlight.add(id);
      handled.set(id, (handled.get(id) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 2));
      inFlight.delete(id);
    };
    const handlers = { message: slowHandler, email: slowHandler, webhook: slowHandler };
    const workers = Array.from({ length: 4 }, () => t.app.outboxRuntime.createWorker({ handlers, concurrency: 10 }));
    await Promise.all(workers.map((w) => w.drain()));
    expect(overlaps).toBe(0);
    expect(handled.size).toBe(300);
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    expect(workers.reduce((sum, w) => sum + w.stats.delivered, 0)).toBe(300);
    expect(workers.filter((w) => w.stats.delivered > 0).length).toBeGreaterThan(1);
    expect(await count({ type: 'test.lease', status: 'delivered', attempts: 1 })).toBe(300);
  });

  it('a worker that dies mid-delivery: the row is delivered again after its lease, and its late outcome is refused', async () => {
    await t.app.models.OutboxMessage.deleteMany({ type: 'test.lease' });
    await seedMessages(1);
    const dying = t.app.outboxRuntime.createWorker({ concurrency: 1 });
    const claimed = await dying.claim();
    expect(claimed).not.toBeNull();
    // "Killed": it never settles. Another worker finds nothing due while the lease lasts.
    const survivor = t.app.outboxRuntime.createWorker({ concurrency: 1 });
    expect(await survivor.drain()).toBe(0);
    t.clock.advance(t.config.OUTBOX_LEASE_SECONDS * 1000 - 1);
    expect(await survivor.drain()).toBe(0);
    t.clock.advance(1);
    expect(await survivor.drain()).toBe(1);
    const row = await t.app.models.OutboxMessage.findById(claimed!.row._id).lean();
    expect(row).toMatchObject({ status: 'delivered', attempts: 2 });
    // The dead worker's delivery finishing late changes nothing.
    await dying.deliver(claimed!.row, claimed!.token);
    expect(dying.stats).toMatchObject({ delivered: 0, lostLeases: 1 });
  });
});

describe('1,000 bookings made concurrently', () => {
  it('give exactly 1,000 booking.created messages, each delivered to the webhook once, by two workers', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 1000, maxTicketsPerBooking: 1 });
    const hook = await registerWebhook(t.app, organizer.accessToken, { url: receiver.url, events: ['booking.created'], eventId });
    receiver.secret = hook.secret;
    let started = performance.now();
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => book(t.app, (buyers[i % buyers.length] as TestAccount).accessToken, { eventId, quantity: 1 })));
    expect(answers.filter((r) => r.statusCode === 201)).toHaveLength(1000);
    const messages = await outboxRows(t.app, { kind: 'message', eventId });
    expect(messages).toHaveLength(1000);
    expect(messages.every((m) => m.type === 'booking.created')).toBe(true);
    expect(new Set(messages.map((m) => (m.data as { booking: { id: string } }).booking.id))).toEqual(new Set(answers.map((r) => bookingOf(r).id)));

    const backlog = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(backlog.body).toMatch(/ticketing_outbox_backlog\{kind="message"\} 1000/);

    console.log(`[outbox] 1000 concurrent bookings answered in ${Math.round(performance.now() - started)} ms`);
    started = performance.now();
    const second = t.app.outboxRuntime.createWorker();
    await Promise.all([t.app.outboxRuntime.worker.drain(), second.drain()]);
    console.log(`[outbox] 1000 messages fanned out and delivered as webhooks by two workers in ${Math.round(performance.now() - started)} ms`);
    const got = receiver.received.filter((r) => r.body.type === 'booking.created' && (r.body.data.booking as { eventId: string }).eventId === eventId);
    expect(got).toHaveLength(1000);
    expect(new Set(got.map((r) => r.id)).size).toBe(1000);
    expect(got.every((r) => r.verified && r.answered === 204)).toBe(true);
    expect(receiver.maxParallelPerId).toBe(1);
    expect(new Set(got.map((r) => r.id))).toEqual(new Set(messages.map((m) => `msg_${String(m._id)}`)));

    const after = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(after.body).toMatch(/ticketing_outbox_backlog\{kind="message"\} 0/);
    expect(after.body).toMatch(/ticketing_outbox_backlog\{kind="webhook"\} 0/);
    expect(after.body).toMatch(/ticketing_outbox_oldest_pending_age_seconds 0/);
  }, 120_000);
});

describe('backoff', () => {
  it('grows exponentially with jitter inside [step/2, step], capped at one hour', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempts, r) => {
        const step = Math.min(BACKOFF_CAP_MS, 30_000 * 2 ** (attempts - 1));
        const delay = retryDelayMs(attempts, () => r);
        expect(delay).toBeGreaterThanOrEqual(step / 2);
        expect(delay).toBeLessThanOrEqual(step);
        // The least wait of the next attempt is never below the most of this one's half step.
        expect(retryDelayMs(attempts + 1, () => 0)).toBeGreaterThanOrEqual(retryDelayMs(attempts, () => 0));
      }),
    );
  });
});

describe('the hold sweeper', () => {
  it('announces each expired hold once (booking.expired), and nothing that is still live, confirmed or cancelled', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const [a, b, c] = buyers as [TestAccount, TestAccount, TestAccount];
    const expiring = bookingOf(await book(t.app, a.accessToken, { eventId, quantity: 2 }));
    const paid = bookingOf(await book(t.app, b.accessToken, { eventId, quantity: 1 }));
    expect((await confirm(t.app, b.accessToken, paid.id)).statusCode).toBe(200);
    await t.app.outboxRuntime.sweepOnce();
    t.clock.advance(t.config.HOLD_TTL_SECONDS * 1000 + 1);
    const fresh = bookingOf(await book(t.app, c.accessToken, { eventId, quantity: 1 }));

    // Earlier tests left many holds; one run announces them all, batch after batch.
    const first = await t.app.outboxRuntime.sweepOnce();
    expect(first?.expired).toBeGreaterThanOrEqual(1);
    const expired = await outboxRows(t.app, { kind: 'message', type: 'booking.expired', eventId });
    expect(expired).toHaveLength(1);
    expect(expired[0]!.data).toMatchObject({
      booking: { id: expiring.id, status: 'expired', quantity: 2, items: [{ quantity: 2, unitPrice: expiring.unitPrice }] },
    });
    expect((await t.app.models.Booking.findById(expiring.id).lean())?.expiryAnnouncedAt).toEqual(t.clock.now());
    expect((await t.app.models.Booking.findById(fresh.id).lean())?.expiryAnnouncedAt).toBeNull();
    expect(await t.app.outboxRuntime.sweepOnce()).toEqual({ reminded: 0, expired: 0 });
    expect(await outboxRows(t.app, { kind: 'message', type: 'booking.expired', eventId })).toHaveLength(1);
  });

  it('claims the event but changes no availability: the ledger stays exact, only run-out hold groups leave it', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 10 });
    const [a, b, c] = buyers.slice(3) as [TestAccount, TestAccount, TestAccount];
    bookingOf(await book(t.app, a.accessToken, { eventId, quantity: 3 }));
    const paid = bookingOf(await book(t.app, b.accessToken, { eventId, quantity: 2 }));
    expect((await confirm(t.app, b.accessToken, paid.id)).statusCode).toBe(200);
    t.clock.advance(60_000);
    // A later hold, still live when the first has run out: it must still count after the sweep.
    bookingOf(await book(t.app, c.accessToken, { eventId, quantity: 1 }));
    t.clock.advance(t.config.HOLD_TTL_SECONDS * 1000 - 30_000);
    const before = await t.app.models.Event.findById(eventId).lean();
    // No sale since a's hold ran out: its group is still in the document, and no longer counts.
    expect(before?.holds.map((h) => h.quantity)).toEqual([3, 1]);
    const figures = await availability(t.app, eventId);

    await t.app.outboxRuntime.sweepOnce();
    const after = await t.app.models.Event.findById(eventId).lean();
    if (!before || !after) throw new Error('no event');
    expect(after.salesVersion).toBeGreaterThan(before.salesVersion ?? 0);
    expect(after.ticketTypes.map((ty) => ty.confirmed)).toEqual(before.ticketTypes.map((ty) => ty.confirmed));
    expect(after.holds.map((h) => h.quantity)).toEqual([1]);
    expect(await availability(t.app, eventId)).toMatchObject({ availableTickets: 7, confirmedTickets: 2, heldTickets: 1 });
    expect(figures).toMatchObject({ availableTickets: 7, confirmedTickets: 2, heldTickets: 1 });
    const now = t.clock.now();
    expect(compare(after, await recount(t.app.models, after, now), now)).toEqual([]);
  });

  it('runs on one instance at a time (a lease across instances)', async () => {
    const now = t.clock.now();
    const owners = Array.from({ length: 10 }, () => randomUUID());
    const won = await Promise.all(owners.map((o) => acquireJobLease(t.app.models.JobLease, 'test-job', o, now, 30_000)));
    expect(won.filter(Boolean)).toHaveLength(1);
    // Another instance holds the sweeper's lease: this one skips its run until the lease ends.
    await t.app.models.JobLease.deleteMany({ _id: 'hold-sweeper' });
    expect(await acquireJobLease(t.app.models.JobLease, 'hold-sweeper', 'another-instance', now, 30_000)).toBe(true);
    expect(await t.app.outboxRuntime.sweepOnce()).toBeNull();
    t.clock.advance(30_000);
    expect(await t.app.outboxRuntime.sweepOnce()).not.toBeNull();
  });
});
