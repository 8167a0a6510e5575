import { randomUUID } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { bookingOf, createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';
import { decodeJwt, signJwt, unsignedJwt, withPayload } from './support/jwt.js';
import { captureLogs } from './support/logs.js';
import { expectProblem, leaksIn } from './support/problem.js';
import { storeState } from './support/state.js';

/**
 * Security through HTTP: the token guard, who may touch whose booking, headers, CORS, and what
 * leaves the service (answers and log lines) never holding internals, passwords, hashes or tokens.
 */

const ALLOWED_ORIGIN = 'https://shop.example';
let t: TestApp;
const logs = captureLogs();
/** Every answer of this file, scanned at the end. */
const answers: { request: string; res: LightMyRequestResponse }[] = [];
/** Every password and token this file used or was given, none of which may show up in a log. */
const secrets = new Set<string>();

async function call(options: InjectOptions): Promise<LightMyRequestResponse> {
  const res = await t.app.inject(options);
  answers.push({ request: `${options.method} ${options.url}`, res });
  return res;
}

async function account(role: 'customer' | 'organizer' | 'admin' = 'customer'): Promise<TestAccount> {
  const a = await createAccount(t.app, { role });
  secrets.add(a.password).add(a.accessToken).add(a.refreshToken);
  return a;
}

function remember(res: LightMyRequestResponse): void {
  const data = (res.json() as { data?: { accessToken?: string; refreshToken?: string } }).data;
  if (data?.accessToken) secrets.add(data.accessToken);
  if (data?.refreshToken) secrets.add(data.refreshToken);
}

const me = (token: string) => call({ method: 'GET', url: '/api/v1/users/me', headers: bearer(token) });
const book = (token: string, body: Record<string, unknown>, key: string = randomUUID()) =>
  call({ method: 'POST', url: '/api/v1/bookings', headers: { ...bearer(token), 'idempotency-key': key }, payload: body });

let customer: TestAccount;
let organizer: TestAccount;
let eventId: string;

beforeAll(async () => {
  t = await buildTestApp({ logStream: logs.stream, env: { LOG_LEVEL: 'debug', CORS_ORIGINS: ALLOWED_ORIGIN } });
  customer = await account();
  organizer = await account('organizer');
  eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 50 });
});
afterAll(() => t.close());

describe('access tokens', () => {
  const refused = async (token: string) => expectProblem(await me(token), 401, 'UNAUTHENTICATED');

  it('accepts a genuine token (the baseline the refusals are measured against)', async () => {
    expect((await me(customer.accessToken)).statusCode).toBe(200);
  });

  it('refuses alg "none", with or without the original signature', async () => {
    const { payload, signature } = decodeJwt(customer.accessToken);
    await refused(unsignedJwt(payload));
    await refused(`${unsignedJwt(payload)}${signature}`);
    await refused(unsignedJwt({ ...payload, role: 'admin' }));
  });

  it('refuses a token signed with another key or another algorithm', async () => {
    const { payload } = decodeJwt(customer.accessToken);
    await refused(signJwt(payload, 'not-the-secret-not-the-secret-not-the-secret'));
    await refused(signJwt(payload, t.config.JWT_SECRET, 'HS512'));
  });

  it('refuses a tampered token: claims edited, signature kept, or signature altered', async () => {
    const { payload, signature } = decodeJwt(customer.accessToken);
    await refused(withPayload(customer.accessToken, { ...payload, role: 'admin' }));
    await refused(withPayload(customer.accessToken, { ...payload, sub: organizer.user.id }));
    await refused(withPayload(customer.accessToken, { ...payload, exp: Number(payload.exp) + 3600 }));
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    await refused(customer.accessToken.replace(signature, flipped));
  });

  it('refuses an expired token, judged by the service clock', async () => {
    const { payload } = decodeJwt(customer.accessToken);
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const expired = signJwt({ ...payload, iat: now - 3600, exp: now - 1 }, t.config.JWT_SECRET);
    const problem = await refused(expired);
    expect(problem.detail).toMatch(/expired/i);
  });

  it('refuses a correctly signed token that is not an access token', async () => {
    const { payload } = decodeJwt(customer.accessToken);
    await refused(signJwt({ ...payload, typ: 'refresh' }, t.config.JWT_SECRET));
    await refused(customer.refreshToken);
  });

  it('refuses malformed Authorization headers', async () => {
    for (const authorization of ['Bearer', 'Bearer ', `Basic ${customer.accessToken}`, `Bearer ${customer.accessToken} extra`, `Bearer ${'a'.repeat(10_000)}`]) {
      expectProblem(await call({ method: 'GET', url: '/api/v1/users/me', headers: { authorization } }), 401, 'UNAUTHENTICATED');
    }
  });

  it('refuses the access and refresh tokens of a session once it is logged out', async () => {
    const a = await account();
    expect((await call({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(a.accessToken) })).statusCode).toBe(204);
    await refused(a.accessToken);
    const refresh = await call({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: a.refreshToken } });
    expectProblem(refresh, 401);
  });

  it('refuses the whole session once a spent refresh token is presented again', async () => {
    const a = await account();
    const rotated = await call({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: a.refreshToken } });
    expect(rotated.statusCode).toBe(200);
    remember(rotated);
    const reuse = await call({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: a.refreshToken } });
    expectProblem(reuse, 401, 'REFRESH_TOKEN_REUSED');
    await refused(rotated.json().data.accessToken);
  });

  it('holds the old token of a demoted admin to its new role at once, whatever the token names', async () => {
    const admin = await account('admin');
    const demoted = await account('admin');
    const other = await account();
    const promote = (token: string) =>
      call({ method: 'PATCH', url: `/api/v1/users/${other.user.id}/role`, headers: bearer(token), payload: { role: 'organizer' } });
    // Warm the session cache with the admin role, then demote.
    expect((await call({ method: 'GET', url: '/api/v1/users/me', headers: bearer(demoted.accessToken) })).statusCode).toBe(200);
    const changed = await call({ method: 'PATCH', url: `/api/v1/users/${demoted.user.id}/role`, headers: bearer(admin.accessToken), payload: { role: 'customer' } });
    expect(changed.statusCode).toBe(200);
    expectProblem(await promote(demoted.accessToken), 403, 'FORBIDDEN');
    expect((await call({ method: 'GET', url: `/api/v1/users/me`, headers: bearer(other.accessToken) })).json().data.role).toBe('customer');
  });
});

describe('passwords', () => {
  it('refuses a password that is not well-formed Unicode (a lone surrogate would be hashed as U+FFFD)', async () => {
    const res = await call({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: `s-${randomUUID()}@example.test`, password: '\ud800'.repeat(8), name: 'Surrogate' },
    });
    expectProblem(res, 400, 'VALIDATION_FAILED');
  });

  it('never lets a different password open an account', async () => {
    const email = `p-${randomUUID()}@example.test`;
    const password = '\ud800'.repeat(8);
    secrets.add(password);
    await call({ method: 'POST', url: '/api/v1/auth/register', payload: { email, password, name: 'Collide' } });
    const login = await call({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password: '\udfff'.repeat(8) } });
    // Refused either way: as malformed input (400) or as the wrong password (401), never 200.
    expectProblem(login, [400, 401]);
  });

  it('answers an unknown email and a wrong password alike', async () => {
    const unknown = await call({ method: 'POST', url: '/api/v1/auth/login', payload: { email: `nobody-${randomUUID()}@example.test`, password: 'whatever-password' } });
    const wrong = await call({ method: 'POST', url: '/api/v1/auth/login', payload: { email: customer.user.email, password: 'whatever-password' } });
    const strip = (res: LightMyRequestResponse) => ({ ...res.json(), requestId: undefined });
    expect(unknown.statusCode).toBe(401);
    expect(strip(unknown)).toEqual(strip(wrong));
  });
});

describe("one user and another's bookings", () => {
  let owner: TestAccount;
  let intruder: TestAccount;
  let otherOrganizer: TestAccount;
  let bookingId: string;
  let key: string;

  beforeAll(async () => {
    owner = await account();
    intruder = await account();
    otherOrganizer = await account('organizer');
    key = randomUUID();
    const res = await book(owner.accessToken, { eventId, quantity: 2 }, key);
    expect(res.statusCode, res.body).toBe(201);
    bookingId = bookingOf(res).id;
  });

  it.each([
    ['read', 'GET', ''],
    ['confirm', 'POST', '/confirm'],
    ['cancel', 'PATCH', '/cancel'],
  ] as const)('another customer cannot %s it (404) and nothing changes', async (_what, method, suffix) => {
    const before = await storeState(t.app);
    const headers = { ...bearer(intruder.accessToken), ...(method === 'POST' ? { 'idempotency-key': randomUUID() } : {}) };
    const res = await call({ method, url: `/api/v1/bookings/${bookingId}${suffix}`, headers, ...(method === 'POST' ? { payload: {} } : {}) });
    expectProblem(res, 404, 'NOT_FOUND');
    expect((await storeState(t.app)).digest).toBe(before.digest);
  });

  it("an organizer of another event cannot read it (404); it is not in the intruder's list", async () => {
    expectProblem(await call({ method: 'GET', url: `/api/v1/bookings/${bookingId}`, headers: bearer(otherOrganizer.accessToken) }), 404, 'NOT_FOUND');
    const list = await call({ method: 'GET', url: '/api/v1/bookings', headers: bearer(intruder.accessToken) });
    expect(list.json().data.map((b: { id: string }) => b.id)).not.toContain(bookingId);
  });

  it("the same Idempotency-Key from another user books for that user, never replays the owner's booking", async () => {
    const res = await book(intruder.accessToken, { eventId, quantity: 2 }, key);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect(bookingOf(res).id).not.toBe(bookingId);
    expect(bookingOf(res).userId).toBe(intruder.user.id);
  });

  it("an organizer cannot run another organizer's event, and a customer cannot run any", async () => {
    const draft = await createEvent(t.app, organizer.accessToken, { status: 'draft' });
    const before = await storeState(t.app);
    const attempts: [string, string, string, Record<string, unknown> | undefined][] = [
      ['PATCH', `/api/v1/events/${eventId}`, otherOrganizer.accessToken, { name: 'Hijacked' }],
      ['POST', `/api/v1/events/${eventId}/cancel`, otherOrganizer.accessToken, undefined],
      ['DELETE', `/api/v1/events/${eventId}`, otherOrganizer.accessToken, undefined],
      ['GET', `/api/v1/events/${eventId}/bookings`, otherOrganizer.accessToken, undefined],
      ['POST', `/api/v1/events/${draft}/publish`, otherOrganizer.accessToken, undefined],
      ['GET', `/api/v1/events/${draft}`, otherOrganizer.accessToken, undefined],
      ['PATCH', `/api/v1/events/${eventId}`, customer.accessToken, { name: 'Hijacked' }],
      ['PATCH', `/api/v1/users/${customer.user.id}/role`, customer.accessToken, { role: 'admin' }],
    ];
    for (const [method, url, token, payload] of attempts) {
      const res = await call({ method: method as InjectOptions['method'], url, headers: bearer(token), ...(payload ? { payload } : {}) });
      expectProblem(res, [403, 404]);
    }
    // A draft is invisible to anyone but its organizer and admins.
    expectProblem(await call({ method: 'GET', url: `/api/v1/events/${draft}`, headers: bearer(otherOrganizer.accessToken) }), 404);
    expect((await storeState(t.app)).digest).toBe(before.digest);
  });
});

describe('headers', () => {
  const HELMET = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'SAMEORIGIN',
    'x-dns-prefetch-control': 'off',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'x-permitted-cross-domain-policies': 'none',
  };

  it.each([
    ['a success', '/api/v1/events'],
    ['a problem', '/api/v1/nothing-here'],
  ])("helmet's headers are on %s", async (_what, url) => {
    const res = await call({ method: 'GET', url });
    expect(res.headers).toMatchObject(HELMET);
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('CORS answers only the configured origin, on requests and preflights', async () => {
    const get = (origin: string) => call({ method: 'GET', url: '/api/v1/events', headers: { origin } });
    expect((await get(ALLOWED_ORIGIN)).headers['access-control-allow-origin']).toBe(ALLOWED_ORIGIN);
    for (const origin of ['https://evil.example', 'null', `${ALLOWED_ORIGIN}.evil.example`, 'http://shop.example']) {
      expect((await get(origin)).headers['access-control-allow-origin'], origin).toBeUndefined();
    }
    const preflight = (origin: string) =>
      call({
        method: 'OPTIONS',
        url: '/api/v1/bookings',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key' },
      });
    const allowed = await preflight(ALLOWED_ORIGIN);
    expect(allowed.statusCode).toBeLessThan(300);
    expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED_ORIGIN);
    expect((await preflight('https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('without CORS_ORIGINS no origin is allowed', async () => {
    const closed = await buildTestApp({ env: { CORS_ORIGINS: undefined } });
    try {
      const res = await closed.app.inject({ method: 'GET', url: '/api/v1/events', headers: { origin: ALLOWED_ORIGIN } });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await closed.close();
    }
  });
});

describe('what leaves the service', () => {
  it('users never carry a password hash', async () => {
    const admin = await account('admin');
    const shown = [
      await me(customer.accessToken),
      await call({ method: 'PATCH', url: `/api/v1/users/${customer.user.id}/role`, headers: bearer(admin.accessToken), payload: { role: 'customer' } }),
      await call({ method: 'GET', url: `/api/v1/events/${eventId}/bookings`, headers: bearer(organizer.accessToken) }),
    ];
    for (const res of shown) {
      expect(res.statusCode, res.body).toBe(200);
      expect(res.body).not.toMatch(/passwordHash|\$2[aby]\$/);
    }
  });

  // These two run last in the file: they scan everything collected above.
  it('no answer of this file holds a stack trace, a driver message, a password or a hash', () => {
    expect(answers.length).toBeGreaterThan(50);
    const passwords = [...secrets].filter((s) => !s.includes('.'));
    for (const { request, res } of answers) {
      expect(leaksIn(res.body), `${request}: ${res.body.slice(0, 200)}`).toEqual([]);
      expect(res.body, request).not.toMatch(/\$2[aby]\$\d\d\$/);
      for (const p of passwords) expect(res.body.includes(JSON.stringify(p).slice(1, -1)), `${request} echoes a password`).toBe(false);
      // Tokens belong in the answers of the token routes only.
      if (!/\/auth\/(register|login|refresh)$/.test(request)) {
        for (const s of secrets) if (s.includes('.')) expect(res.body.includes(s), `${request} echoes a token`).toBe(false);
      }
    }
  });

  it('no log line holds a password, a hash or a token, even at debug level', () => {
    expect(logs.raw.length).toBeGreaterThan(50);
    expect(logs.entries().some((e) => e.level === 20 || e.level === 30)).toBe(true);
    const text = logs.raw.join('\n');
    expect(text).not.toMatch(/\$2[aby]\$\d\d\$/);
    for (const secret of secrets) {
      const escaped = JSON.stringify(secret).slice(1, -1);
      expect(text.includes(escaped), `a log line holds ${secret.slice(0, 12)}…`).toBe(false);
      // The signature alone would be enough to replay a token.
      const signature = secret.split('.')[2];
      if (signature && signature.length > 20) expect(text.includes(signature)).toBe(false);
    }
  });
});
