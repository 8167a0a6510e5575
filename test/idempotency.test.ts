import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestFingerprint } from '../src/bookings/fingerprint.js';
import { storeKeyFor } from '../src/bookings/idempotency.js';
import type { KeyValueStore } from '../src/lib/kv.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, cancel, confirm, createEvent } from './fixtures/bookings.js';
import { buildSiblingApp, buildTestApp, type TestApp } from './helper.js';

let t: TestApp;
let organizer: TestAccount;
let buyer: TestAccount;
let other: TestAccount;

beforeAll(async () => {
  t = await buildTestApp();
  [organizer, buyer, other] = await Promise.all([
    createAccount(t.app, { role: 'organizer' }),
    createAccount(t.app),
    createAccount(t.app),
  ]);
});
afterAll(() => t.close());

const post = (app: FastifyInstance, token: string, headers: Record<string, string>, payload: string | object) =>
  app.inject({
    method: 'POST',
    url: '/api/v1/bookings',
    headers: { ...bearer(token), 'content-type': 'application/json', ...headers },
    payload,
  });

async function bookingsOf(eventId: string) {
  return t.app.models.Booking.find({ eventId: new Types.ObjectId(eventId) }).lean();
}

/** Forgets every idempotency record of the app in Redis, as a Redis failover or eviction would. */
async function loseRedisKeys(test: TestApp): Promise<number> {
  const redis = new Redis(test.config.REDIS_URL as string);
  try {
    const keys = await redis.keys(`${test.config.REDIS_KEY_PREFIX}idem:*`);
    if (keys.length > 0) await redis.del(...keys);
    return keys.length;
  } finally {
    redis.disconnect();
  }
}

/** Makes every call of the app's key-value store fail, as when Redis is unreachable. */
async function withRedisDown<T>(app: FastifyInstance, run: () => Promise<T>): Promise<T> {
  const kv = app.kv as { -readonly [K in keyof KeyValueStore]: KeyValueStore[K] };
  const saved = { get: kv.get, set: kv.set, setIfAbsent: kv.setIfAbsent, setIfAbsentOrGet: kv.setIfAbsentOrGet, delete: kv.delete };
  const down = async (): Promise<never> => {
    throw new Error('Connection is closed.');
  };
  Object.assign(kv, { get: down, set: down, setIfAbsent: down, setIfAbsentOrGet: down, delete: down });
  try {
    return await run();
  } finally {
    Object.assign(kv, saved);
  }
}

describe('the Idempotency-Key header', () => {
  it('is required on every POST under /bookings', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const variants: Record<string, string>[] = [{}, { 'idempotency-key': '' }, { 'idempotency-key': '   ' }, { 'idempotency-key': '""' }];
    for (const headers of variants) {
      const res = await post(t.app, buyer.accessToken, headers, { eventId, quantity: 1 });
      expect(res.statusCode, JSON.stringify(headers)).toBe(400);
      expect(res.json().code).toBe('IDEMPOTENCY_KEY_REQUIRED');
    }
    const b = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 1 }));
    const confirmWithout = (headers: Record<string, string>) =>
      t.app.inject({ method: 'POST', url: `/api/v1/bookings/${b.id}/confirm`, headers: { ...bearer(buyer.accessToken), ...headers } });
    const res = await confirmWithout({});
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('IDEMPOTENCY_KEY_REQUIRED');
    // The confirm body is optional: with a key, no body at all is fine.
    const confirmed = await confirmWithout({ 'idempotency-key': randomUUID() });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
  });

  it('must be at most 255 visible ASCII characters', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    for (const key of ['k'.repeat(256), 'a b', 'tab\there', '"unterminated', '"bad\\escape"', '"a"b"']) {
      const res = await post(t.app, buyer.accessToken, { 'idempotency-key': key }, { eventId, quantity: 1 });
      expect(res.statusCode, key).toBe(400);
      expect(res.json().code).toBe('IDEMPOTENCY_KEY_INVALID');
    }
    const longest = await post(t.app, buyer.accessToken, { 'idempotency-key': 'k'.repeat(255) }, { eventId, quantity: 1 });
    expect(longest.statusCode).toBe(201);
    expect(await bookingsOf(eventId)).toHaveLength(1);
  });

  it('means the same key bare or as a structured-field string', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const key = `k-${randomUUID()}`;
    const first = await post(t.app, buyer.accessToken, { 'idempotency-key': key }, { eventId, quantity: 1 });
    const quoted = await post(t.app, buyer.accessToken, { 'idempotency-key': `"${key}"` }, { eventId, quantity: 1 });
    expect(first.statusCode).toBe(201);
    expect(quoted.statusCode).toBe(201);
    expect(quoted.headers['idempotent-replayed']).toBe('true');
    expect(quoted.body).toBe(first.body);
  });
});

describe('repeats', () => {
  it('replay the first answer, status and body identical, for the same body in any key order and spacing', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const key = randomUUID();
    const first = await post(t.app, buyer.accessToken, { 'idempotency-key': key }, `{"eventId":"${eventId}","quantity":2}`);
    const again = await post(t.app, buyer.accessToken, { 'idempotency-key': key }, `{ "quantity" : 2,\n "eventId": "${eventId}" }`);
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(first.body);
    // The same route with a trailing slash is the same path.
    const slash = await t.app.inject({
      method: 'POST',
      url: '/api/v1/bookings/',
      headers: { ...bearer(buyer.accessToken), 'idempotency-key': key },
      payload: { eventId, quantity: 2 },
    });
    expect(slash.statusCode).toBe(201);
    expect(slash.headers['idempotent-replayed']).toBe('true');
    expect(await bookingsOf(eventId)).toHaveLength(1);
  });

  it('with another body or path are 422 IDEMPOTENCY_KEY_REUSED and change nothing', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const key = randomUUID();
    const first = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 1 }, key));
    const otherBody = await book(t.app, buyer.accessToken, { eventId, quantity: 2 }, key);
    expect(otherBody.statusCode).toBe(422);
    expect(otherBody.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    const otherPath = await confirm(t.app, buyer.accessToken, first.id, {}, key);
    expect(otherPath.statusCode).toBe(422);
    expect(otherPath.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    const stored = await bookingsOf(eventId);
    expect(stored.map((b) => [b.quantity, b.status])).toEqual([[1, 'pending']]);
  });

  it('are scoped to the user: the same key from two users makes two bookings', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const key = randomUUID();
    const mine = await book(t.app, buyer.accessToken, { eventId, quantity: 1 }, key);
    const theirs = await book(t.app, other.accessToken, { eventId, quantity: 1 }, key);
    expect(mine.statusCode).toBe(201);
    expect(theirs.statusCode).toBe(201);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(bookingOf(theirs).id).not.toBe(bookingOf(mine).id);
    expect(await bookingsOf(eventId)).toHaveLength(2);
  });

  it('replay remembered refusals (409, 404) even after the situation changed', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 1 });
    const holder = bookingOf(await book(t.app, other.accessToken, { eventId, quantity: 1 }));
    const key = randomUUID();
    const refused = await book(t.app, buyer.accessToken, { eventId, quantity: 1 }, key);
    expect(refused.statusCode).toBe(409);
    expect((await cancel(t.app, other.accessToken, holder.id)).statusCode).toBe(200);
    const again = await book(t.app, buyer.accessToken, { eventId, quantity: 1 }, key);
    expect(again.statusCode).toBe(409);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(refused.body);
    // A new key is a new attempt, and now there is a ticket.
    expect((await book(t.app, buyer.accessToken, { eventId, quantity: 1 })).statusCode).toBe(201);

    const missingKey = randomUUID();
    const missing = await book(t.app, buyer.accessToken, { eventId: '0123456789abcdef01234567', quantity: 1 }, missingKey);
    const missingAgain = await book(t.app, buyer.accessToken, { eventId: '0123456789abcdef01234567', quantity: 1 }, missingKey);
    expect([missing.statusCode, missingAgain.statusCode]).toEqual([404, 404]);
    expect(missingAgain.headers['idempotent-replayed']).toBe('true');
  });

  it('do not remember input errors: the key may be reused with a corrected request', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { maxTicketsPerBooking: 2 });
    const schemaKey = randomUUID();
    expect((await book(t.app, buyer.accessToken, { eventId, quantity: 'two' }, schemaKey)).statusCode).toBe(400);
    expect((await book(t.app, buyer.accessToken, { eventId, quantity: 2 }, schemaKey)).statusCode).toBe(201);

    const limitKey = randomUUID();
    const tooMany = await book(t.app, buyer.accessToken, { eventId, quantity: 3 }, limitKey);
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().errors[0].path).toBe('quantity');
    const fixed = await book(t.app, buyer.accessToken, { eventId, quantity: 1 }, limitKey);
    expect(fixed.statusCode).toBe(201);
    expect(fixed.headers['idempotent-replayed']).toBeUndefined();
  });

  it('that meet a running first request get 409 IDEMPOTENCY_REQUEST_IN_PROGRESS with Retry-After', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const key = randomUUID();
    const body = { eventId, quantity: 1 };
    // The claim a running request holds (as another instance would have written it).
    const running = JSON.stringify({ state: 'running', fingerprint: requestFingerprint('POST', '/api/v1/bookings', body) });
    await t.app.kv.set(storeKeyFor(buyer.user.id, key), running, 30_000);
    const res = await book(t.app, buyer.accessToken, body, key);
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('IDEMPOTENCY_REQUEST_IN_PROGRESS');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(await bookingsOf(eventId)).toHaveLength(0);
    // A different body with the key is still a misuse of it.
    expect((await book(t.app, buyer.accessToken, { eventId, quantity: 2 }, key)).statusCode).toBe(422);
  });
});

describe('under concurrency', () => {
  it('50 identical requests at once make exactly one booking', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 100 });
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 50 }, () => book(t.app, buyer.accessToken, { eventId, quantity: 2 }, key)));
    const stored = await bookingsOf(eventId);
    expect(stored).toHaveLength(1);
    const id = String(stored[0]._id);
    const created = answers.filter((a) => a.statusCode === 201);
    const busy = answers.filter((a) => a.statusCode === 409);
    expect(created.length + busy.length).toBe(50);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(created.every((a) => bookingOf(a).id === id)).toBe(true);
    expect(created.filter((a) => a.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);
    expect(busy.every((a) => a.json().code === 'IDEMPOTENCY_REQUEST_IN_PROGRESS' && a.headers['retry-after'])).toBe(true);
  });
});

describe('when Redis loses or cannot keep keys (layer 3)', () => {
  it('a retry after Redis lost the key gets the same booking back; another body is 422', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const key = randomUUID();
    const first = await book(t.app, buyer.accessToken, { eventId, quantity: 2 }, key);
    expect(first.statusCode).toBe(201);
    expect(await loseRedisKeys(t)).toBeGreaterThan(0);

    const retry = await book(t.app, buyer.accessToken, { eventId, quantity: 2 }, key);
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toBe(first.body);
    expect(await bookingsOf(eventId)).toHaveLength(1);

    await loseRedisKeys(t);
    const changed = await book(t.app, buyer.accessToken, { eventId, quantity: 3 }, key);
    expect(changed.statusCode).toBe(422);
    expect(changed.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await bookingsOf(eventId)).toHaveLength(1);
  });

  it('a confirm retried after Redis lost the key answers the confirmed booking again', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 2 }));
    const key = randomUUID();
    const first = await confirm(t.app, buyer.accessToken, b.id, { paymentReference: 'pay_1' }, key);
    expect(first.statusCode).toBe(200);
    await loseRedisKeys(t);
    const retry = await confirm(t.app, buyer.accessToken, b.id, { paymentReference: 'pay_1' }, key);
    expect(retry.statusCode).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(bookingOf(retry).tickets).toEqual(bookingOf(first).tickets);
    await loseRedisKeys(t);
    // The same key for a different confirm body, or for a new purchase, is a misuse of it.
    expect((await confirm(t.app, buyer.accessToken, b.id, { paymentReference: 'pay_2' }, key)).statusCode).toBe(422);
    expect((await book(t.app, buyer.accessToken, { eventId, quantity: 1 }, key)).statusCode).toBe(422);
  });

  it('with Redis down, purchases still work and retries, even concurrent ones, never book twice', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const key = randomUUID();
    const answers = await withRedisDown(t.app, () =>
      Promise.all(Array.from({ length: 10 }, () => book(t.app, buyer.accessToken, { eventId, quantity: 1 }, key))),
    );
    const stored = await bookingsOf(eventId);
    expect(stored).toHaveLength(1);
    expect(answers.map((a: LightMyRequestResponse) => a.statusCode)).toEqual(Array(10).fill(201));
    expect(new Set(answers.map((a) => bookingOf(a).id))).toEqual(new Set([String(stored[0]._id)]));
    expect(answers.filter((a) => a.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);
  });
});

describe('answers replayed once are kept in the process (replay-cache.ts)', () => {
  it('later repeats are answered from memory, identically, even after Redis lost the key; another body is still 422', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const key = randomUUID();
    const first = await book(t.app, buyer.accessToken, { eventId, quantity: 2 }, key);
    const replayed = await book(t.app, buyer.accessToken, { eventId, quantity: 2 }, key);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(await loseRedisKeys(t)).toBeGreaterThan(0);
    // Layer 3 would find the booking too; what shows memory answered is that Redis got no new claim.
    const fromMemory = await book(t.app, buyer.accessToken, { eventId, quantity: 2 }, key);
    expect(fromMemory.statusCode).toBe(201);
    expect(fromMemory.headers['idempotent-replayed']).toBe('true');
    expect(fromMemory.body).toBe(first.body);
    expect(await t.app.kv.get(storeKeyFor(buyer.user.id, key))).toBeNull();
    const misuse = await book(t.app, buyer.accessToken, { eventId, quantity: 3 }, key);
    expect(misuse.statusCode).toBe(422);
    expect(misuse.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await bookingsOf(eventId)).toHaveLength(1);
  });

  it('300 repeats at once through two instances, Redis losing the key midway: one booking, every answer the first', async () => {
    const sibling = await buildSiblingApp(t);
    try {
      const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 5 });
      const key = randomUUID();
      const body = { eventId, quantity: 1 };
      const first = await book(t.app, buyer.accessToken, body, key);
      expect(first.statusCode).toBe(201);
      // Each instance replays once from Redis, which puts the answer in its memory.
      for (const app of [t.app, sibling.app]) expect((await book(app, buyer.accessToken, body, key)).body).toBe(first.body);
      const storm = Array.from({ length: 300 }, (_, i) => book(i % 2 ? sibling.app : t.app, buyer.accessToken, body, key));
      await loseRedisKeys(t);
      const answers = await Promise.all(storm);
      expect(answers.filter((a) => a.statusCode !== 201 || a.body !== first.body)).toEqual([]);
      expect(answers.every((a) => a.headers['idempotent-replayed'] === 'true')).toBe(true);
      expect(await bookingsOf(eventId)).toHaveLength(1);
    } finally {
      // Not close(): that would drop the database and Redis keys the suite shares with it.
      await sibling.app.close();
    }
  });

  it("never past the store's expiry of the answer, and never a running claim", async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const body = { eventId, quantity: 1 };
    const fingerprint = requestFingerprint('POST', '/api/v1/bookings', body);
    const key = randomUUID();
    const storeKey = storeKeyFor(buyer.user.id, key);
    // A finished answer as another instance stored it, with little time left.
    const stored = { state: 'done', fingerprint, status: 409, contentType: 'application/json', body: '{"stored":true}' };
    await t.app.kv.set(storeKey, JSON.stringify({ ...stored, until: Date.now() + 400 }), 400);
    expect((await book(t.app, buyer.accessToken, body, key)).body).toBe('{"stored":true}');
    await t.app.kv.delete(storeKey);
    expect((await book(t.app, buyer.accessToken, body, key)).body).toBe('{"stored":true}');
    await new Promise((resolve) => setTimeout(resolve, 450));
    const fresh = await book(t.app, buyer.accessToken, body, key);
    expect(fresh.statusCode).toBe(201);
    expect(fresh.headers['idempotent-replayed']).toBeUndefined();

    // An answer stored without its expiry (by an older version) is replayed but not kept.
    const oldKey = randomUUID();
    await t.app.kv.set(storeKeyFor(buyer.user.id, oldKey), JSON.stringify(stored), 60_000);
    expect((await book(t.app, buyer.accessToken, body, oldKey)).body).toBe('{"stored":true}');
    await t.app.kv.delete(storeKeyFor(buyer.user.id, oldKey));
    expect((await book(t.app, buyer.accessToken, body, oldKey)).headers['idempotent-replayed']).toBeUndefined();

    const runningKey = randomUUID();
    await t.app.kv.set(storeKeyFor(buyer.user.id, runningKey), JSON.stringify({ state: 'running', fingerprint }), 30_000);
    expect((await book(t.app, buyer.accessToken, body, runningKey)).statusCode).toBe(409);
    await t.app.kv.delete(storeKeyFor(buyer.user.id, runningKey));
    expect((await book(t.app, buyer.accessToken, body, runningKey)).statusCode).toBe(201);
  });
});

describe('server errors', () => {
  it('answer 503 with Retry-After when the event stays contended past BOOKING_TX_TIMEOUT_MS, make nothing, and free the key', async () => {
    const impatient = await buildTestApp({ env: { BOOKING_TX_TIMEOUT_MS: '300' } });
    try {
      const boss = await createAccount(impatient.app, { role: 'organizer' });
      const customer = await createAccount(impatient.app);
      const eventId = await createEvent(impatient.app, boss.accessToken);
      // Another instance's transaction holds the event document and does not finish in time.
      const session = await impatient.app.db.startSession();
      session.startTransaction();
      await impatient.app.models.Event.updateOne({ _id: eventId }, { $inc: { salesVersion: 1 } }, { session });
      const key = randomUUID();
      let busy: LightMyRequestResponse;
      try {
        busy = await book(impatient.app, customer.accessToken, { eventId, quantity: 1 }, key);
      } finally {
        await session.abortTransaction();
        await session.endSession();
      }
      expect(busy.statusCode).toBe(503);
      expect(busy.json().code).toBe('SERVICE_UNAVAILABLE');
      expect(busy.headers['retry-after']).toBe('1');
      expect(await impatient.app.models.Booking.countDocuments({})).toBe(0);

      // 5xx answers are not remembered: the same key now goes through.
      const retry = await book(impatient.app, customer.accessToken, { eventId, quantity: 1 }, key);
      expect(retry.statusCode).toBe(201);
      expect(retry.headers['idempotent-replayed']).toBeUndefined();
    } finally {
      await impatient.close();
    }
  });
});
