import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createHandler, type LambdaHandler, type LambdaHttpEvent, type LambdaHttpResult } from '../src/serverless.js';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { testConfig } from './helper.js';

/** An API Gateway HTTP API (payload format 2.0) event, as Lambda receives it. */
function httpEvent(method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown; query?: string } = {}): LambdaHttpEvent {
  const requestId = `apigw-${randomUUID()}`;
  const query = opts.query ?? '';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: query,
    queryStringParameters: query ? Object.fromEntries(new URLSearchParams(query)) : undefined,
    headers: {
      host: 'abc123.execute-api.eu-west-1.amazonaws.com',
      'user-agent': 'vitest',
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...opts.headers,
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      http: { method, path, sourceIp: '203.0.113.7', userAgent: 'vitest' },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
  };
}

const json = <T>(res: LambdaHttpResult) => JSON.parse(res.body) as T;

describe('serverless handler (API Gateway v2 events)', () => {
  const id = randomBytes(6).toString('hex');
  const config = testConfig({ REDIS_KEY_PREFIX: `test:${id}:` });
  let handler: LambdaHandler;
  let organizer: TestAccount;
  let buyer: TestAccount;
  let eventId: string;

  beforeAll(async () => {
    handler = createHandler({ config });
    // Setup goes through the handler's own app, the way the fixtures build accounts.
    const app = await handler.app();
    organizer = await createAccount(app, { role: 'organizer' });
    buyer = await createAccount(app);
    const created = await handler(
      httpEvent('POST', '/api/v1/events', {
        headers: { authorization: `Bearer ${organizer.accessToken}` },
        body: {
          name: `Lambda night ${id}`,
          venue: 'Cloud Hall',
          startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
          totalTickets: 10,
          price: 0,
          currency: 'EUR',
          status: 'published',
        },
      }),
    );
    expect(created.statusCode, created.body).toBe(201);
    eventId = json<{ data: { id: string } }>(created).data.id;
  });

  afterAll(async () => {
    const app = await handler.app();
    await app.db.dropDatabase().catch(() => undefined);
    await handler.close();
    const redis = new Redis(inject('redisUrl'));
    const keys = await redis.keys(`test:${id}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('answers a listing, a purchase and its replay without reconnecting', async () => {
    const app = await handler.app();
    const mongoClient = app.db.getClient();
    const redis = app.redis!;
    expect(redis).not.toBeNull();
    // Any (re)connection from here on would show up as one of these events.
    const reconnects: string[] = [];
    for (const name of ['topologyOpening', 'serverOpening', 'connectionPoolCreated'] as const) {
      mongoClient.on(name, () => reconnects.push(`mongodb ${name}`));
    }
    for (const name of ['connect', 'reconnecting'] as const) redis.on(name, () => reconnects.push(`redis ${name}`));

    const list = httpEvent('GET', '/api/v1/events', { query: 'limit=5' });
    const listed = await handler(list);
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.headers['content-type']).toMatch(/^application\/json/);
    // The API Gateway request id becomes the request id (X-Request-Id, log lines).
    expect(listed.headers['x-request-id']).toBe(list.requestContext!.requestId);
    const page = json<{ success: boolean; data: { id: string; availableTickets: number }[]; meta: { total: number } }>(listed);
    expect(page.success).toBe(true);
    expect(page.meta.total).toBe(1);
    expect(page.data[0]).toMatchObject({ id: eventId, availableTickets: 10 });

    const key = `lambda-${randomUUID()}`;
    const purchase = () =>
      handler(
        httpEvent('POST', '/api/v1/bookings', {
          headers: { authorization: `Bearer ${buyer.accessToken}`, 'idempotency-key': key },
          body: { eventId, quantity: 2 },
        }),
      );
    const first = await purchase();
    expect(first.statusCode, first.body).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const booking = json<{ data: { id: string; status: string; quantity: number; tickets: unknown[] } }>(first).data;
    expect(booking).toMatchObject({ status: 'confirmed', quantity: 2 });
    expect(booking.tickets).toHaveLength(2);

    const replay = await purchase();
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(first.body);

    // The replay changed nothing: one booking, two tickets gone.
    const availability = await handler(httpEvent('GET', `/api/v1/events/${eventId}/availability`));
    expect(json<{ data: { availableTickets: number; confirmedTickets: number } }>(availability).data).toMatchObject({
      availableTickets: 8,
      confirmedTickets: 2,
    });

    // Same container, same app, same live connections.
    expect(await handler.app()).toBe(app);
    expect(app.db.getClient()).toBe(mongoClient);
    expect(app.db.readyState).toBe(1);
    expect(app.redis).toBe(redis);
    expect(redis.status).toBe('ready');
    expect(reconnects).toEqual([]);
  });

  it('validates configuration like the server does, and retries a failed start', async () => {
    const broken = createHandler({ env: { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), REDIS_URL: 'redis://127.0.0.1:6379' } });
    await expect(broken(httpEvent('GET', '/health'))).rejects.toThrow(/MONGODB_URI/);
    // Not memoised: the next invocation validates again (and fails again, for the same reason).
    await expect(broken(httpEvent('GET', '/health'))).rejects.toThrow(/MONGODB_URI/);
  });
});
