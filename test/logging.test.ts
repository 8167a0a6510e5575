import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { storeKeyFor } from '../src/bookings/idempotency.js';
import { eventCacheKey } from '../src/events/cache.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';
import { failCommand, uriWithAppName } from './support/failpoint.js';
import { captureLogs } from './support/logs.js';
import { expectProblem } from './support/problem.js';

/**
 * The one structured line per request (src/plugins/request-context.ts) and what the logs may hold
 * (src/lib/logger.ts), read from the pino output itself through a stream, as test/security.test.ts
 * does. API.md: every response carries X-Request-Id (the caller's X-Request-Id or X-Correlation-ID
 * when it is 1-128 visible ASCII characters, a fresh id otherwise) and every log line of that
 * request carries it; a 5xx never leaks internals to the client.
 */

type Line = Record<string, unknown>;

const appName = `logging-${randomUUID().slice(0, 8)}`;
const logs = captureLogs();
/** What the failing test route throws: internals that belong in the log and never in an answer. */
const INTERNAL = 'E11000 duplicate key on db-7.secret.internal:27017 (replica rs-prod)';
const SLOW_MS = 60;

let t: TestApp;
let customer: TestAccount;
let organizer: TestAccount;
let eventId: string;

beforeAll(async () => {
  t = await buildTestApp({
    logStream: logs.stream,
    env: { LOG_LEVEL: 'debug', MONGODB_URI: uriWithAppName(appName) },
    extend: (app) => {
      // Test-only routes: a handler that fails with internals, a slow one, and one that logs its input.
      app.get('/test/boom', async () => {
        throw new Error(INTERNAL);
      });
      app.get('/test/slow', async () => {
        await sleep(SLOW_MS);
        return { ok: true };
      });
      // Any JSON object (routes without a body schema refuse bodies with fields, see json-bodies.ts).
      app.post('/test/log-input', { schema: { body: z.object({}).loose() } }, async (request) => {
        request.log.info({ headers: request.headers, body: request.body }, 'input as received');
        return { ok: true };
      });
    },
  });
  customer = await createAccount(t.app);
  organizer = await createAccount(t.app, { role: 'organizer' });
  eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 20 });
});
afterAll(() => t.close());

/** Every line the app wrote for request id `id`. */
const linesOf = (id: string): Line[] => logs.entries().filter((e) => e.requestId === id);
const requestLines = (id: string): Line[] => linesOf(id).filter((e) => e.msg === 'request completed');

/** Sends a request and returns its answer with its one "request completed" line. */
async function send(options: InjectOptions): Promise<{ res: LightMyRequestResponse; line: Line }> {
  const res = await t.app.inject(options);
  const id = res.headers['x-request-id'];
  expect(typeof id, 'every answer carries X-Request-Id').toBe('string');
  const lines = requestLines(String(id));
  expect(lines, `${options.method} ${String(options.url)}: one request line`).toHaveLength(1);
  return { res, line: lines[0] as Line };
}

const PINO = { info: 30, warn: 40, error: 50 } as const;

describe('the one line per request', () => {
  it('carries the id sent back in X-Request-Id, method, route pattern, url, status and duration', async () => {
    const { res, line } = await send({ method: 'GET', url: `/api/v1/events/${eventId}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(line).toMatchObject({
      level: PINO.info,
      msg: 'request completed',
      requestId: res.headers['x-request-id'],
      method: 'GET',
      route: '/api/v1/events/:id',
      url: `/api/v1/events/${eventId}`,
      status: 200,
    });
    expect(typeof line.durationMs).toBe('number');
    expect(line.durationMs as number).toBeGreaterThanOrEqual(0);
    expect(line.userId).toBeUndefined(); // anonymous
  });

  it('gives each request its own fresh id when the caller sends none', async () => {
    const a = await send({ method: 'GET', url: '/health' });
    const b = await send({ method: 'GET', url: '/health' });
    expect(a.res.headers['x-request-id']).not.toBe(b.res.headers['x-request-id']);
    expect(a.line.requestId).toBe(a.res.headers['x-request-id']);
    expect(b.line.requestId).toBe(b.res.headers['x-request-id']);
  });

  it('measures the time the request took', async () => {
    const { line } = await send({ method: 'GET', url: '/test/slow' });
    expect(line.durationMs as number).toBeGreaterThanOrEqual(SLOW_MS - 1);
    expect(line.durationMs as number).toBeLessThan(SLOW_MS + 5000);
  });

  it.each([
    ['X-Request-Id', { 'x-request-id': 'client-req-42' }, 'client-req-42'],
    ['X-Correlation-ID', { 'x-correlation-id': 'corr:7/alpha' }, 'corr:7/alpha'],
    ['X-Request-Id over X-Correlation-ID', { 'x-request-id': 'req-wins', 'x-correlation-id': 'corr-loses' }, 'req-wins'],
    ['X-Correlation-ID when X-Request-Id is not sane', { 'x-request-id': 'has space', 'x-correlation-id': 'corr-fallback' }, 'corr-fallback'],
    ['128 visible characters', { 'x-request-id': `${'r'.repeat(127)}~` }, `${'r'.repeat(127)}~`],
  ])('honours an incoming id: %s', async (_what, headers, expected) => {
    const { res, line } = await send({ method: 'GET', url: '/health', headers });
    expect(res.headers['x-request-id']).toBe(expected);
    expect(line.requestId).toBe(expected);
  });

  it.each([
    ['too long', { 'x-request-id': 'x'.repeat(129) }],
    ['with a space', { 'x-request-id': 'two words' }],
    ['non-ASCII', { 'x-correlation-id': 'idé-1' }],
    ['empty', { 'x-request-id': '' }],
  ])('replaces an id that is not sane (%s) with a fresh one, in the header and the line alike', async (_what, headers) => {
    const { res, line } = await send({ method: 'GET', url: '/health', headers });
    const given = Object.values(headers)[0];
    expect(res.headers['x-request-id']).not.toBe(given);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(line.requestId).toBe(res.headers['x-request-id']);
  });

  it('names the user of an authenticated request, and no one otherwise', async () => {
    const me = await send({ method: 'GET', url: '/api/v1/users/me', headers: bearer(customer.accessToken) });
    expect(me.res.statusCode).toBe(200);
    expect(me.line).toMatchObject({ userId: customer.user.id, route: '/api/v1/users/me', status: 200 });

    // Optional authentication: the same read names the reader only when a token is sent.
    const named = await send({ method: 'GET', url: `/api/v1/events/${eventId}`, headers: bearer(organizer.accessToken) });
    expect(named.line.userId).toBe(organizer.user.id);
    const anonymous = await send({ method: 'GET', url: `/api/v1/events/${eventId}` });
    expect(anonymous.line).not.toHaveProperty('userId');

    // A refused token names no one.
    const refused = await send({ method: 'GET', url: '/api/v1/users/me', headers: bearer(`${customer.accessToken}x`) });
    expect(refused.res.statusCode).toBe(401);
    expect(refused.line).toMatchObject({ status: 401, level: PINO.warn });
    expect(refused.line).not.toHaveProperty('userId');
  });

  it('is written exactly once for every kind of answer, at a level that follows the status', async () => {
    const cases: { options: InjectOptions; status: number; route: string }[] = [
      { options: { method: 'GET', url: '/health' }, status: 200, route: '/health' },
      { options: { method: 'POST', url: '/api/v1/auth/register', payload: { email: `u-${randomUUID()}@example.test`, password: 'long enough password', name: 'N' } }, status: 201, route: '/api/v1/auth/register' },
      { options: { method: 'POST', url: '/api/v1/auth/login', payload: { email: 'nobody@example.test', password: 'wrong password!' } }, status: 401, route: '/api/v1/auth/login' },
      { options: { method: 'POST', url: '/api/v1/auth/login', payload: { email: 'x@example.test', password: 'p4ssword!!', extra: 1 } }, status: 400, route: '/api/v1/auth/login' },
      { options: { method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"email":' }, status: 400, route: '/api/v1/auth/login' },
      { options: { method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'text/plain' }, payload: 'hi' }, status: 415, route: '/api/v1/auth/login' },
      { options: { method: 'POST', url: '/api/v1/auth/login', payload: { blob: 'x'.repeat(70 * 1024) } }, status: 413, route: '/api/v1/auth/login' },
      { options: { method: 'PATCH', url: `/api/v1/users/${customer.user.id}/role`, headers: bearer(customer.accessToken), payload: { role: 'admin' } }, status: 403, route: '/api/v1/users/:id/role' },
      { options: { method: 'GET', url: '/api/v1/events/0123456789abcdef01234567' }, status: 404, route: '/api/v1/events/:id' },
      { options: { method: 'GET', url: '/api/v1/no-such-thing' }, status: 404, route: 'not-found' },
      { options: { method: 'GET', url: '/test/boom' }, status: 500, route: '/test/boom' },
    ];
    for (const { options, status, route } of cases) {
      const id = `kind-${randomUUID()}`;
      const { res, line } = await send({ ...options, headers: { ...options.headers, 'x-request-id': id } });
      expect(res.statusCode, `${options.method} ${String(options.url)}`).toBe(status);
      expect(res.headers['x-request-id']).toBe(id);
      expect(line).toMatchObject({ requestId: id, method: options.method, status });
      expect(line.level).toBe(status >= 500 ? PINO.error : status >= 400 ? PINO.warn : PINO.info);
      // The route pattern, not the URL (ids stay out of it); a request no route matched says so.
      expect(line.route).toBe(route);
      expect(line.url).toBe(options.url);
    }
  });

  it('answers a URL the router cannot take with the caller\'s request id, and writes its one line too', async () => {
    // Fastify answers this from its router (frameworkErrors in src/app.ts), before any request hook
    // runs, so the line comes from the frameworkErrors handler rather than request-context's onResponse.
    const url = '/api/v1/events/%E0%A4%A';
    const { res, line } = await send({ method: 'GET', url, headers: { 'x-request-id': 'router-400' } });
    const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(problem.requestId).toBe('router-400');
    expect(line).toMatchObject({ requestId: 'router-400', method: 'GET', route: 'not-found', url, status: 400, level: PINO.warn });
  });
});

describe('every line of a request carries its id', () => {
  it('including a warning logged while the request runs', async () => {
    // An unreadable idempotency record makes the booking route log a warning of its own.
    const key = `idem-${randomBytes(12).toString('hex')}`;
    await t.app.kv.set(storeKeyFor(customer.user.id, key), 'not a record', 60_000);
    const { res, line } = await send({
      method: 'POST',
      url: '/api/v1/bookings',
      headers: { ...bearer(customer.accessToken), 'idempotency-key': key, 'x-request-id': 'idem-warn-1' },
      payload: { eventId, quantity: 1 },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(line).toMatchObject({ requestId: 'idem-warn-1', userId: customer.user.id, route: '/api/v1/bookings', status: 201 });
    const warning = linesOf('idem-warn-1').find((l) => l.msg === 'unreadable idempotency record; relying on the booking key index');
    expect(warning).toMatchObject({ level: PINO.warn, requestId: 'idem-warn-1' });
    // It names the record by the hash the store uses, never by the client's key.
    expect(String(warning?.storeKey)).toBe(storeKeyFor(customer.user.id, key));
    expect(JSON.stringify(warning)).not.toContain(key);
  });
});

describe('a 5xx', () => {
  it('logs the error with its message and stack under the request id; the answer holds none of it', async () => {
    const { res, line } = await send({ method: 'GET', url: '/test/boom', headers: { 'x-request-id': 'boom-1' } });
    const problem = expectProblem(res, 500, 'INTERNAL_ERROR');
    expect(problem.requestId).toBe('boom-1');
    expect(res.body).not.toContain('secret.internal');
    expect(res.body).not.toContain('E11000');
    expect(res.body).not.toContain('logging.test');

    expect(line).toMatchObject({ level: PINO.error, status: 500, route: '/test/boom' });
    const failure = linesOf('boom-1').find((l) => l.msg === 'request failed');
    expect(failure).toBeDefined();
    const err = failure?.err as { type?: string; message?: string; stack?: string };
    expect(failure?.level).toBe(PINO.error);
    expect(err.type).toBe('Error');
    expect(err.message).toBe(INTERNAL);
    expect(err.stack).toMatch(/logging\.test\.ts/); // where it was thrown
  });

  it('from a failing database command: the driver error is in the log only', async () => {
    // Not a test route: the real event read, with MongoDB refusing its find (2 BadValue, not retryable).
    // Armed for one firing, which this request uses up, so nothing is left armed afterwards.
    await t.app.kv.delete(eventCacheKey(eventId)); // so the read goes to the database
    await failCommand(t.app, appName, { times: 1 }, { failCommands: ['find'], errorCode: 2 });
    const { res, line } = await send({ method: 'GET', url: `/api/v1/events/${eventId}`, headers: { 'x-request-id': 'db-boom-1' } });
    expectProblem(res, 500, 'INTERNAL_ERROR');
    expect(res.body).not.toMatch(/failCommand|BadValue/);
    expect(line).toMatchObject({ level: PINO.error, status: 500, route: '/api/v1/events/:id' });
    const failure = linesOf('db-boom-1').find((l) => l.msg === 'request failed');
    const err = failure?.err as { type?: string; message?: string; code?: number; codeName?: string };
    expect(failure?.level).toBe(PINO.error);
    expect(err.type).toBe('MongoServerError');
    expect(err.message).toMatch(/failCommand/); // the server's own message, as MongoDB words it
    expect(err).toMatchObject({ code: 2, codeName: 'BadValue' });
  });

  it('a 4xx writes no error line: only the request line, as a warning', async () => {
    const { res } = await send({ method: 'GET', url: '/api/v1/users/me', headers: { 'x-request-id': 'no-error-401' } });
    expect(res.statusCode).toBe(401);
    expect(linesOf('no-error-401').map((l) => [l.msg, l.level])).toEqual([['request completed', PINO.warn]]);
  });
});

describe('secrets never reach the log', () => {
  it('the logger redacts Authorization, cookies, passwords and tokens in the headers and body a request logs', async () => {
    const token = customer.accessToken;
    const password = `pw-${randomBytes(10).toString('hex')}`;
    const refreshToken = customer.refreshToken;
    const { res } = await send({
      method: 'POST',
      url: '/test/log-input',
      headers: { ...bearer(token), cookie: 'sid=cookie-secret-123', 'x-request-id': 'echo-1' },
      payload: { email: 'e@example.test', password, refreshToken, accessToken: token, token },
    });
    expect(res.statusCode).toBe(200);
    const line = linesOf('echo-1').find((l) => l.msg === 'input as received') as { headers: Line; body: Line } | undefined;
    expect(line).toBeDefined();
    expect(line?.headers.authorization).toBe('[redacted]');
    expect(line?.headers.cookie).toBe('[redacted]');
    expect(line?.body).toMatchObject({ email: 'e@example.test', password: '[redacted]', refreshToken: '[redacted]', accessToken: '[redacted]', token: '[redacted]' });
    const text = JSON.stringify(linesOf('echo-1'));
    for (const secret of [password, refreshToken, token, token.split('.')[2] as string, 'cookie-secret-123']) expect(text).not.toContain(secret);
  });

  it('no line of a whole account and booking flow holds a password, token, refresh token or Idempotency-Key', async () => {
    const from = logs.raw.length;
    const password = `Pw-${randomBytes(12).toString('hex')}`;
    const email = `flow-${randomUUID()}@example.test`;
    const secrets: string[] = [password];
    const keep = (res: LightMyRequestResponse) => {
      const data = (res.json() as { data?: { accessToken?: string; refreshToken?: string } }).data;
      for (const s of [data?.accessToken, data?.refreshToken]) if (s) secrets.push(s, s.split('.').at(-1) as string);
      return data;
    };

    const registered = keep(await t.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password, name: 'Flow' } }));
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: `${password}-wrong` } });
    secrets.push(`${password}-wrong`);
    const loggedIn = keep(await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } }));
    const refreshed = keep(await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: loggedIn?.refreshToken } }));
    // A spent refresh token presented again (401 REFRESH_TOKEN_REUSED) and a malformed one (400/401).
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: loggedIn?.refreshToken } });
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: `${registered?.refreshToken}-mangled` } });

    const key = `Idem-${randomBytes(16).toString('hex')}`;
    secrets.push(key);
    const access = registered?.accessToken as string;
    const purchase = () =>
      t.app.inject({ method: 'POST', url: '/api/v1/bookings', headers: { ...bearer(access), 'idempotency-key': key }, payload: { eventId, quantity: 1 } });
    expect((await purchase()).statusCode).toBe(201);
    expect((await purchase()).headers['idempotent-replayed']).toBe('true');
    // The same key with another body is refused (422): still never logged.
    await t.app.inject({ method: 'POST', url: '/api/v1/bookings', headers: { ...bearer(access), 'idempotency-key': key }, payload: { eventId, quantity: 2 } });
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(refreshed?.accessToken as string) });

    const written = logs.raw.slice(from);
    // The flow was logged (one line per request at least), just without the secrets.
    expect(written.length).toBeGreaterThanOrEqual(10);
    const text = written.join('\n');
    for (const secret of secrets) expect(text.includes(secret), `a log line holds ${secret.slice(0, 10)}…`).toBe(false);
    expect(text).not.toMatch(/\$2[aby]\$\d\d\$/); // no bcrypt hash either
  });
});
