import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { snapshotStats } from '../src/lib/transaction.js';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, confirm, createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';
import { failCommand, failPointOff, uriWithAppName } from './support/failpoint.js';
import { expectSalesConsistent } from './support/invariants.js';
import { expectProblem } from './support/problem.js';
import { RedisServer } from './support/redis-server.js';

/**
 * Faults while selling (DESIGN.md 6): Redis dying and coming back, MongoDB failing commands.
 * Whatever happens, every answer is a success or a retryable 503, and afterwards the counts add up.
 */

interface Purchase {
  buyer: TestAccount;
  key: string;
  quantity: number;
  bookingId?: string;
}

const plan = (buyers: TestAccount[], n: number): Purchase[] =>
  Array.from({ length: n }, (_, i) => ({ buyer: buyers[i % buyers.length] as TestAccount, key: randomUUID(), quantity: 1 + (i % 3) }));

/** A 503 the client may retry: problem+json with Retry-After. */
function expectRetryable(res: LightMyRequestResponse): void {
  expectProblem(res, 503, 'SERVICE_UNAVAILABLE');
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
}

async function readiness(t: TestApp) {
  return t.app.inject({ method: 'GET', url: '/health/ready' });
}

describe('Redis stops in the middle of a run of purchases, then comes back', () => {
  let redis: RedisServer;
  let t: TestApp;
  let buyers: TestAccount[];
  let eventId: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    t = await buildTestApp({ env: { REDIS_URL: redis.url } });
    const organizer = await createAccount(t.app, { role: 'organizer' });
    buyers = await Promise.all([0, 1, 2].map(() => createAccount(t.app)));
    eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 200, maxTicketsPerBooking: 4 });
  });
  afterAll(async () => {
    await redis.restart();
    await t.close();
    await redis.kill();
  });

  const purchase = (p: Purchase) => book(t.app, p.buyer.accessToken, { eventId, quantity: p.quantity }, p.key);

  async function sell(p: Purchase): Promise<void> {
    const res = await purchase(p);
    expect(res.statusCode, res.body).toBe(201);
    p.bookingId = bookingOf(res).id;
  }

  it('keeps selling, never books a retry twice, reports Redis down, and recovers', async () => {
    // 1. Redis up.
    const before = plan(buyers, 9);
    await Promise.all(before.map(sell));

    // 2. Redis killed (SIGKILL, sent synchronously) while a burst of purchases is in flight: every one still sells.
    const during = plan(buyers, 12);
    const inFlight = during.map(sell);
    const killed = redis.kill();
    await Promise.all([...inFlight, killed]);

    // 3. Redis gone: readiness names it, selling goes on, retries of every key get their booking back.
    const down = await readiness(t);
    const problem = expectProblem(down, 503, 'SERVICE_UNAVAILABLE');
    expect(problem.down).toEqual(['redis']);
    expect(problem.detail).toContain('redis');
    expect(Number(down.headers['retry-after'])).toBeGreaterThan(0);

    const whileDown = plan(buyers, 6);
    for (const p of whileDown) await sell(p);
    for (const p of [...before, ...during, ...whileDown]) {
      const again = await purchase(p);
      expect(again.statusCode, again.body).toBe(201);
      expect(bookingOf(again).id).toBe(p.bookingId);
    }
    // The same key with another body is still refused, by the booking's own record of it.
    const reused = await book(t.app, before[0]!.buyer.accessToken, { eventId, quantity: 4 }, before[0]!.key);
    expectProblem(reused, 422, 'IDEMPOTENCY_KEY_REUSED');

    // Paying works without Redis too, and a retried confirm issues no second set of tickets.
    const payKey = randomUUID();
    const paid = await confirm(t.app, whileDown[0]!.buyer.accessToken, whileDown[0]!.bookingId!, {}, payKey);
    expect(paid.statusCode, paid.body).toBe(200);
    const paidAgain = await confirm(t.app, whileDown[0]!.buyer.accessToken, whileDown[0]!.bookingId!, {}, payKey);
    expect(paidAgain.statusCode, paidAgain.body).toBe(200);
    expect(bookingOf(paidAgain).tickets).toEqual(bookingOf(paid).tickets);

    // 4. Redis back on the same port (empty: it lost every idempotency record): readiness recovers.
    await redis.restart();
    const deadline = Date.now() + 10_000;
    let ready = await readiness(t);
    while (ready.statusCode !== 200 && Date.now() < deadline) {
      await sleep(200);
      ready = await readiness(t);
    }
    expect(ready.statusCode, ready.body).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { mongodb: 'up', redis: 'up' } });

    // 5. Keys Redis forgot still meet their booking (layer 3), and new sales go on.
    for (const p of before) {
      const again = await purchase(p);
      expect(again.statusCode, again.body).toBe(201);
      expect(bookingOf(again).id).toBe(p.bookingId);
    }
    const after = plan(buyers, 3);
    for (const p of after) await sell(p);

    // 6. Counts add up: one booking per key, and exactly the tickets sold.
    const all = [...before, ...during, ...whileDown, ...after];
    const totals = await expectSalesConsistent(t.app, eventId);
    expect(totals.bookings).toBe(all.length);
    expect(totals.confirmed + totals.held).toBe(all.reduce((sum, p) => sum + p.quantity, 0));
    expect(totals.confirmed).toBe(whileDown[0]!.quantity);
  });
});

describe('MongoDB fails commands (failCommand fail point)', () => {
  const appName = `faults-${randomUUID().slice(0, 8)}`;
  const TX_TIMEOUT_MS = 1500;
  let t: TestApp;
  let buyers: TestAccount[];
  let organizer: TestAccount;

  beforeAll(async () => {
    t = await buildTestApp({ env: { MONGODB_URI: uriWithAppName(appName), BOOKING_TX_TIMEOUT_MS: String(TX_TIMEOUT_MS) } });
    organizer = await createAccount(t.app, { role: 'organizer' });
    buyers = await Promise.all([0, 1, 2].map(() => createAccount(t.app)));
  });
  afterEach(() => failPointOff(t.app));
  afterAll(() => t.close());

  const newEvent = () => createEvent(t.app, organizer.accessToken, { totalTickets: 30, maxTicketsPerBooking: 4 });

  /**
   * Fires the purchases at once; each answer must be 201 or a retryable 503. Then, with the fail
   * point off, retries every 503 with its key: each must now sell. Returns how many got 503.
   */
  async function sellThrough(eventId: string, purchases: Purchase[], whileFailing: () => Promise<void>): Promise<number> {
    await whileFailing();
    const first = await Promise.all(
      purchases.map((p) => book(t.app, p.buyer.accessToken, { eventId, quantity: p.quantity }, p.key)),
    );
    await failPointOff(t.app);
    let unavailable = 0;
    for (const [i, res] of first.entries()) {
      const p = purchases[i] as Purchase;
      if (res.statusCode === 503) {
        expectRetryable(res);
        unavailable++;
        const retry = await book(t.app, p.buyer.accessToken, { eventId, quantity: p.quantity }, p.key);
        expect(retry.statusCode, retry.body).toBe(201);
        p.bookingId = bookingOf(retry).id;
      } else {
        expect(res.statusCode, res.body).toBe(201);
        p.bookingId = bookingOf(res).id;
      }
    }
    return unavailable;
  }

  async function expectSoldOnce(eventId: string, purchases: Purchase[]): Promise<void> {
    const totals = await expectSalesConsistent(t.app, eventId);
    expect(totals.bookings).toBe(purchases.length);
    expect(totals.held).toBe(purchases.reduce((sum, p) => sum + p.quantity, 0));
    expect(new Set(purchases.map((p) => p.bookingId)).size).toBe(purchases.length);
  }

  it('a WriteConflict storm is retried: every purchase sells exactly once', async () => {
    const eventId = await newEvent();
    const purchases = plan(buyers, 6);
    const conflictsBefore = snapshotStats().conflicts;
    await sellThrough(eventId, purchases, () =>
      failCommand(t.app, appName, { times: 8 }, {
        failCommands: ['findAndModify', 'insert'],
        errorCode: 112,
        errorLabels: ['TransientTransactionError'],
      }),
    );
    // The storm really hit the sales: the service saw (and retried) the injected conflicts.
    expect(snapshotStats().conflicts - conflictsBefore).toBeGreaterThanOrEqual(8);
    await expectSoldOnce(eventId, purchases);
  });

  it('a storm that does not stop answers 503 with Retry-After in time, books nothing, and the key books once later', async () => {
    const eventId = await newEvent();
    const [p] = plan(buyers, 1) as [Purchase];
    await failCommand(t.app, appName, 'alwaysOn', {
      failCommands: ['findAndModify'],
      errorCode: 112,
      errorLabels: ['TransientTransactionError'],
    });
    const started = performance.now();
    const res = await book(t.app, p.buyer.accessToken, { eventId, quantity: p.quantity }, p.key);
    const tookMs = performance.now() - started;
    expectRetryable(res);
    expect(tookMs).toBeLessThan(TX_TIMEOUT_MS + 1500);
    expect(await t.app.models.Booking.countDocuments({ eventId })).toBe(0);

    await failPointOff(t.app);
    const retry = await book(t.app, p.buyer.accessToken, { eventId, quantity: p.quantity }, p.key);
    expect(retry.statusCode, retry.body).toBe(201);
    p.bookingId = bookingOf(retry).id;
    await expectSoldOnce(eventId, [p]);
  });

  it('a network error on commit is retried: one booking per purchase, none half-made', async () => {
    const eventId = await newEvent();
    const once = plan(buyers, 3);
    await sellThrough(eventId, once, () =>
      failCommand(t.app, appName, { times: 1 }, { failCommands: ['commitTransaction'], closeConnection: true }),
    );
    const thrice = plan(buyers, 3);
    await sellThrough(eventId, thrice, () =>
      failCommand(t.app, appName, { times: 3 }, { failCommands: ['commitTransaction'], closeConnection: true }),
    );
    await expectSoldOnce(eventId, [...once, ...thrice]);
  });

  it('commits that keep failing answer 503, and the event sells again as soon as they stop', async () => {
    const eventId = await newEvent();
    const [p, other] = plan(buyers, 2) as [Purchase, Purchase];
    await failCommand(t.app, appName, 'alwaysOn', { failCommands: ['commitTransaction'], closeConnection: true });
    const res = await book(t.app, p.buyer.accessToken, { eventId, quantity: p.quantity }, p.key);
    expectRetryable(res);
    await failPointOff(t.app);

    // An abandoned transaction must not keep the event locked: both sell within a few retries.
    for (const q of [p, other]) {
      let sold: LightMyRequestResponse | undefined;
      for (let attempt = 0; attempt < 4 && sold?.statusCode !== 201; attempt++) {
        if (attempt > 0) await sleep(500);
        sold = await book(t.app, q.buyer.accessToken, { eventId, quantity: q.quantity }, q.key);
        if (sold.statusCode !== 201) expectRetryable(sold);
      }
      expect(sold?.statusCode, sold?.body).toBe(201);
      q.bookingId = bookingOf(sold as LightMyRequestResponse).id;
    }
    await expectSoldOnce(eventId, [p, other]);
  });

  it('a slow primary: purchases sell or answer 503 with Retry-After, and the counts add up', async () => {
    const eventId = await newEvent();
    const purchases = plan(buyers, 5);
    const started = performance.now();
    await sellThrough(eventId, purchases, () =>
      failCommand(t.app, appName, 'alwaysOn', { failCommands: ['findAndModify', 'insert'], blockConnection: true, blockTimeMS: 250 }),
    );
    const tookMs = performance.now() - started;
    // Blocked for real (every sale waits at least once), yet every buyer had an answer in bounded time.
    expect(tookMs).toBeGreaterThanOrEqual(250);
    expect(tookMs).toBeLessThan(15_000);
    await expectSoldOnce(eventId, purchases);
  });

  it('a confirm whose commit fails on the network ends whole: confirmed with its tickets, once', async () => {
    const eventId = await newEvent();
    const [p] = plan(buyers, 1) as [Purchase];
    const held = await book(t.app, p.buyer.accessToken, { eventId, quantity: 3 }, p.key);
    expect(held.statusCode, held.body).toBe(201);
    const bookingId = bookingOf(held).id;
    const payKey = randomUUID();

    await failCommand(t.app, appName, { times: 2 }, { failCommands: ['commitTransaction'], closeConnection: true });
    let paid = await confirm(t.app, p.buyer.accessToken, bookingId, {}, payKey);
    await failPointOff(t.app);
    if (paid.statusCode === 503) {
      expectRetryable(paid);
      paid = await confirm(t.app, p.buyer.accessToken, bookingId, {}, payKey);
    }
    expect(paid.statusCode, paid.body).toBe(200);
    expect(bookingOf(paid).tickets).toHaveLength(3);
    const again = await confirm(t.app, p.buyer.accessToken, bookingId, {}, payKey);
    expect(again.statusCode, again.body).toBe(200);
    expect(bookingOf(again).tickets).toEqual(bookingOf(paid).tickets);

    const totals = await expectSalesConsistent(t.app, eventId);
    expect(totals).toMatchObject({ bookings: 1, confirmed: 3, held: 0 });
  });

  it('reads while MongoDB drops every connection answer 503 with Retry-After, without driver text', async () => {
    await failCommand(t.app, appName, 'alwaysOn', { failCommands: ['find', 'aggregate', 'count'], closeConnection: true });
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/bookings', headers: { authorization: `Bearer ${buyers[0]!.accessToken}` } });
    expectRetryable(res);
    // The fail point names this app only: another client of the same server reads on (other test files run alongside).
    const bystander = await buildTestApp();
    try {
      expect((await bystander.app.inject({ method: 'GET', url: '/api/v1/events' })).statusCode).toBe(200);
    } finally {
      await bystander.close();
    }
  });

  it('readiness names MongoDB while it fails, and recovers', async () => {
    await failCommand(t.app, appName, 'alwaysOn', { failCommands: ['ping'], errorCode: 91 });
    const down = await readiness(t);
    expect(expectProblem(down, 503, 'SERVICE_UNAVAILABLE').down).toEqual(['mongodb']);
    await failPointOff(t.app);
    expect((await readiness(t)).statusCode).toBe(200);
  });
});
