import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { sessionKey } from '../src/auth/sessions.js';
import type { Config } from '../src/config.js';
import { type ManualClock, manualClock } from '../src/lib/clock.js';
import { testConfig } from './helper.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';

/** Like buildTestApp, plus probe routes that use each guard decorator, and captured log lines. */
async function buildGuardApp() {
  const config: Config = testConfig({ LOG_LEVEL: 'info' });
  const clock = manualClock(new Date());
  const lines: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const app = await buildApp(config, { clock, logStream });
  await app.register(async (probe) => {
    const whoAmI = async (request: { auth?: unknown }) => ({ auth: request.auth ?? null });
    probe.get('/probe/required', { onRequest: probe.authenticate }, whoAmI);
    probe.get('/probe/optional', { onRequest: probe.authenticateOptional }, whoAmI);
    probe.get('/probe/staff', { onRequest: probe.requireRole('organizer', 'admin') }, whoAmI);
  });
  await app.ready();
  return { app, config, clock, lines };
}

let app: FastifyInstance;
let config: Config;
let clock: ManualClock;
let lines: Record<string, unknown>[];
let customer: TestAccount;

beforeAll(async () => {
  ({ app, config, clock, lines } = await buildGuardApp());
  customer = await createAccount(app);
});
afterAll(async () => {
  await app.db.dropDatabase().catch(() => undefined);
  await app.close();
});

const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers });
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Builds a JWT by hand, so the guard's refusals are tested against tokens it did not make. */
function craftJwt(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | null): string {
  const body = `${b64(header)}.${b64(payload)}`;
  if (secret === null) return `${body}.`;
  const algorithm = header.alg === 'HS512' ? 'sha512' : 'sha256';
  return `${body}.${createHmac(algorithm, secret).update(body).digest('base64url')}`;
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;
}

function expectUnauthenticated(res: Awaited<ReturnType<typeof get>>) {
  expect(res.statusCode).toBe(401);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, success: false });
}

describe('authenticate', () => {
  it('accepts a valid token and exposes request.auth', async () => {
    const res = await get('/probe/required', bearer(customer.accessToken));
    expect(res.statusCode).toBe(200);
    expect(res.json().auth).toEqual({ userId: customer.user.id, role: 'customer', sessionId: claimsOf(customer.accessToken).sid });
  });

  it('accepts a hand-made token with our secret and correct claims (control for the cases below)', async () => {
    const good = craftJwt({ alg: 'HS256', typ: 'JWT' }, claimsOf(customer.accessToken), config.JWT_SECRET);
    expect((await get('/probe/required', bearer(good))).statusCode).toBe(200);
  });

  it('puts the user id on the request log line', async () => {
    const res = await get('/probe/required', { ...bearer(customer.accessToken), 'x-request-id': 'guard-log-probe' });
    expect(res.statusCode).toBe(200);
    const line = lines.find((l) => l.requestId === 'guard-log-probe' && l.msg === 'request completed');
    expect(line?.userId).toBe(customer.user.id);
    expect(JSON.stringify(lines)).not.toContain(customer.accessToken);
  });

  it('refuses a missing Authorization header', async () => {
    expectUnauthenticated(await get('/probe/required'));
  });

  it.each([
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['an empty bearer', 'Bearer '],
    ['a bearer without a JWT', 'Bearer not-a-jwt'],
    ['a bearer with two parts', 'Bearer abc.def'],
    ['a token with spaces', 'Bearer abc def ghi'],
  ])('refuses a malformed header: %s', async (_what, authorization) => {
    expectUnauthenticated(await get('/probe/required', { authorization }));
  });

  it('refuses a token whose payload was changed (signature no longer matches)', async () => {
    const [header, , signature] = customer.accessToken.split('.');
    const elevated = b64({ ...claimsOf(customer.accessToken), role: 'admin' });
    expectUnauthenticated(await get('/probe/staff', bearer(`${header}.${elevated}.${signature}`)));
  });

  it('refuses a token signed with another secret', async () => {
    const token = craftJwt({ alg: 'HS256', typ: 'JWT' }, claimsOf(customer.accessToken), `another-${config.JWT_SECRET}`);
    expectUnauthenticated(await get('/probe/required', bearer(token)));
  });

  it('refuses alg "none" (unsigned) tokens', async () => {
    const claims = { ...claimsOf(customer.accessToken), role: 'admin' };
    expectUnauthenticated(await get('/probe/required', bearer(craftJwt({ alg: 'none', typ: 'JWT' }, claims, null))));
    expectUnauthenticated(await get('/probe/required', bearer(craftJwt({ alg: 'none' }, claims, null).slice(0, -1))));
  });

  it('refuses another algorithm even with the right secret (HS256 is pinned)', async () => {
    const token = craftJwt({ alg: 'HS512', typ: 'JWT' }, claimsOf(customer.accessToken), config.JWT_SECRET);
    expectUnauthenticated(await get('/probe/required', bearer(token)));
  });

  it('refuses an expired token, judged by the app clock', async () => {
    const account = await createAccount(app);
    const issuedAt = clock.now();
    try {
      clock.advance((config.ACCESS_TOKEN_TTL_SECONDS - 1) * 1000);
      expect((await get('/probe/required', bearer(account.accessToken))).statusCode).toBe(200);
      clock.advance(2000);
      const res = await get('/probe/required', bearer(account.accessToken));
      expectUnauthenticated(res);
      expect(res.json().detail).toMatch(/expired/);
    } finally {
      // The other tests share the customer's token; put time back where it was.
      clock.set(issuedAt);
    }
  });

  it('refuses a token without exp, or with claims of the wrong shape', async () => {
    const { exp: _exp, ...noExp } = claimsOf(customer.accessToken);
    expectUnauthenticated(await get('/probe/required', bearer(craftJwt({ alg: 'HS256' }, noExp, config.JWT_SECRET))));
    const badRole = { ...claimsOf(customer.accessToken), role: 'superuser' };
    expectUnauthenticated(await get('/probe/required', bearer(craftJwt({ alg: 'HS256' }, badRole, config.JWT_SECRET))));
  });

  it('refuses a refresh token presented as an access token', async () => {
    expectUnauthenticated(await get('/probe/required', bearer(customer.refreshToken)));
    // A JWT that says it is a refresh token is refused too, though our secret signed it.
    const refreshJwt = { ...claimsOf(customer.accessToken), typ: 'refresh' };
    expectUnauthenticated(await get('/probe/required', bearer(craftJwt({ alg: 'HS256' }, refreshJwt, config.JWT_SECRET))));
  });

  it('refuses the access token of a revoked session at once, on every path', async () => {
    const account = await createAccount(app);
    expect((await get('/probe/required', bearer(account.accessToken))).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(account.accessToken) })).statusCode).toBe(204);
    expectUnauthenticated(await get('/probe/required', bearer(account.accessToken)));
    expectUnauthenticated(await get('/probe/optional', bearer(account.accessToken)));
    expectUnauthenticated(await get('/probe/staff', bearer(account.accessToken)));
  });

  it('refuses the access token of a session that no longer exists', async () => {
    const account = await createAccount(app);
    const sid = String(claimsOf(account.accessToken).sid);
    await app.models.Session.deleteOne({ _id: sid });
    await app.kv.delete(sessionKey(sid));
    expectUnauthenticated(await get('/probe/required', bearer(account.accessToken)));
  });

  it('keeps working from the database when the cache fails, and still sees revocation', async () => {
    const account = await createAccount(app);
    const kv = app.kv;
    const original = { get: kv.get, set: kv.set, setIfAbsent: kv.setIfAbsent };
    const down = async (): Promise<never> => {
      throw new Error('redis down');
    };
    Object.assign(kv, { get: down, set: down, setIfAbsent: down });
    try {
      expect((await get('/probe/required', bearer(account.accessToken))).statusCode).toBe(200);
      expect((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(account.accessToken) })).statusCode).toBe(204);
      expectUnauthenticated(await get('/probe/required', bearer(account.accessToken)));
    } finally {
      Object.assign(kv, original);
    }
  });
});

describe('authenticateOptional', () => {
  it('lets anonymous callers through without auth', async () => {
    const res = await get('/probe/optional');
    expect(res.statusCode).toBe(200);
    expect(res.json().auth).toBeNull();
  });

  it('authenticates when a token is sent, and refuses a bad one', async () => {
    expect((await get('/probe/optional', bearer(customer.accessToken))).json().auth.userId).toBe(customer.user.id);
    expectUnauthenticated(await get('/probe/optional', bearer('garbage.token.here')));
    expectUnauthenticated(await get('/probe/optional', { authorization: '' }));
  });
});

describe('requireRole', () => {
  it('is 401 without a token, 403 FORBIDDEN for the wrong role, and lets listed roles in', async () => {
    expectUnauthenticated(await get('/probe/staff'));
    const forbidden = await get('/probe/staff', bearer(customer.accessToken));
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    for (const role of ['organizer', 'admin'] as const) {
      const account = await createAccount(app, { role });
      const res = await get('/probe/staff', bearer(account.accessToken));
      expect(res.statusCode).toBe(200);
      expect(res.json().auth.role).toBe(role);
    }
  });
});
