import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helper.js';
import { bearer, createAccount } from './fixtures/accounts.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

let seq = 0;
const uniqueEmail = (tag = 'user') => `${tag}-${Date.now()}-${++seq}@example.test`;

const register = (payload: Record<string, unknown>) =>
  t.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload });
const login = (payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload });

function decodePayload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('POST /auth/register', () => {
  it('creates a customer, answers 201 with the user and a token pair, and never the hash', async () => {
    const res = await register({ email: '  New.User@Example.TEST ', password: 'correct horse', name: ' Ada ' });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body.success).toBe(true);
    expect(Object.keys(body.data).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'user']);
    expect(Object.keys(body.data.user).sort()).toEqual(['createdAt', 'email', 'id', 'name', 'role']);
    expect(body.data.user).toMatchObject({ email: 'new.user@example.test', name: 'Ada', role: 'customer' });
    expect(body.data.user.id).toMatch(/^[a-f0-9]{24}$/);
    expect(new Date(body.data.user.createdAt).toISOString()).toBe(body.data.user.createdAt);
    expect(body.data.expiresIn).toBe(t.config.ACCESS_TOKEN_TTL_SECONDS);
    expect(res.body).not.toMatch(/passwordHash|\$2[aby]\$|failedLogins|lockedUntil/);

    const claims = decodePayload(body.data.accessToken);
    expect(claims).toMatchObject({ sub: body.data.user.id, role: 'customer', typ: 'access' });
    expect(claims.sid).toMatch(/^[a-f0-9]{24}$/);
    expect((claims.exp as number) - (claims.iat as number)).toBe(t.config.ACCESS_TOKEN_TTL_SECONDS);

    const stored = await t.app.models.User.findById(body.data.user.id).lean();
    expect(stored?.email).toBe('new.user@example.test');
    expect(stored?.passwordHash).toMatch(/^\$2b\$04\$/); // bcrypt at the configured cost (4 in tests)
    expect(stored?.passwordHash).not.toContain('correct horse');
  });

  it('refuses an email that exists in any letter case with 409 EMAIL_TAKEN', async () => {
    const email = uniqueEmail('dup');
    expect((await register({ email, password: 'password-1', name: 'A' })).statusCode).toBe(201);
    const res = await register({ email: email.toUpperCase(), password: 'password-2', name: 'B' });
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'EMAIL_TAKEN', status: 409, success: false });
    expect(await t.app.models.User.countDocuments({ email })).toBe(1);
  });

  it('lets only one of two concurrent registrations of the same email succeed', async () => {
    const email = uniqueEmail('race');
    const answers = await Promise.all([
      register({ email, password: 'password-1', name: 'A' }),
      register({ email: email.toUpperCase(), password: 'password-2', name: 'B' }),
    ]);
    expect(answers.map((r) => r.statusCode).sort()).toEqual([201, 409]);
  });

  it('never grants a role: an extra role field is 400 VALIDATION_FAILED', async () => {
    const email = uniqueEmail('role');
    const res = await register({ email, password: 'password-1', name: 'Mallory', role: 'admin' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(res.json().errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'role' })]));
    expect(await t.app.models.User.exists({ email })).toBeNull();
  });

  it.each([
    ['a missing name', { password: 'password-1' }],
    ['an invalid email', { email: 'not-an-email', password: 'password-1', name: 'X' }],
    ['an operator object as email', { email: { $gt: '' }, password: 'password-1', name: 'X' }],
    ['a numeric password', { email: 'n@example.test', password: 12345678, name: 'X' }],
    ['an empty name', { email: 'e@example.test', password: 'password-1', name: '   ' }],
  ])('answers 400 VALIDATION_FAILED for %s', async (_what, payload) => {
    const res = await register({ email: uniqueEmail(), ...payload });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('VALIDATION_FAILED');
  });

  describe('password length is counted in UTF-8 bytes (8-72)', () => {
    it.each([
      ['7 ASCII bytes', 400, 'a'.repeat(7)],
      ['8 ASCII bytes', 201, 'a'.repeat(8)],
      ['72 ASCII bytes', 201, 'a'.repeat(72)],
      ['73 ASCII bytes', 400, 'a'.repeat(73)],
      ['36 two-byte characters = 72 bytes', 201, 'é'.repeat(36)],
      ['37 two-byte characters = 74 bytes', 400, 'é'.repeat(37)],
      ['25 three-byte characters = 75 bytes (only 25 characters)', 400, '€'.repeat(25)],
      ['2 four-byte emoji = 8 bytes', 201, '😀😀'],
      ['4 three-byte characters = 12 bytes but only 4 characters', 201, '€€€€'],
    ])('%s -> %i', async (_what, status, password) => {
      const res = await register({ email: uniqueEmail('pw'), password, name: 'P' });
      expect(res.statusCode).toBe(status);
      if (status === 400) expect(res.json().errors[0].path).toBe('password');
    });

    it('never truncates: a login with the 72-byte password plus more is refused, not accepted', async () => {
      const email = uniqueEmail('trunc');
      const password = '€'.repeat(24); // 72 bytes
      expect((await register({ email, password, name: 'T' })).statusCode).toBe(201);
      expect((await login({ email, password })).statusCode).toBe(200);
      const longer = await login({ email, password: `${password}x` });
      expect(longer.statusCode).toBe(400);
      expect(longer.json().errors[0].path).toBe('password');
    });
  });
});

describe('POST /auth/login', () => {
  it('logs in with any letter case of the email and answers like register', async () => {
    const account = await createAccount(t.app, { email: uniqueEmail('Login').toLowerCase() });
    const res = await login({ email: account.user.email.toUpperCase(), password: account.password });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(Object.keys(body.data).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'user']);
    expect(body.data.user).toEqual({ ...account.user, createdAt: expect.any(String) });
    expect(res.body).not.toMatch(/passwordHash|\$2[aby]\$/);
    // Each login opens a session of its own.
    expect(decodePayload(body.data.accessToken).sid).not.toBe(decodePayload(account.accessToken).sid);
    expect(await t.app.models.Session.countDocuments({ userId: account.user.id })).toBe(2);
  });

  it('answers unknown email and wrong password identically (401 INVALID_CREDENTIALS)', async () => {
    const account = await createAccount(t.app);
    const wrong = await login({ email: account.user.email, password: 'wrong-password' });
    const unknown = await login({ email: uniqueEmail('nobody'), password: 'wrong-password' });
    for (const res of [wrong, unknown]) {
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const strip = (b: Record<string, unknown>) => ({ ...b, requestId: undefined });
    expect(strip(wrong.json())).toEqual(strip(unknown.json()));
    expect(wrong.json().code).toBe('INVALID_CREDENTIALS');
  });

  it('rejects unknown fields and missing fields with 400', async () => {
    expect((await login({ email: 'a@example.test', password: 'password-1', remember: true })).statusCode).toBe(400);
    expect((await login({ email: 'a@example.test' })).statusCode).toBe(400);
  });
});

describe('GET /users/me', () => {
  it('answers the caller without any secret', async () => {
    const account = await createAccount(t.app, { name: 'Grace' });
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(account.accessToken) });
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toEqual({ ...account.user, createdAt: expect.any(String) });
    expect(res.body).not.toMatch(/passwordHash|\$2[aby]\$/);
  });

  it('is 401 UNAUTHENTICATED without a token', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/users/me' });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('UNAUTHENTICATED');
  });
});

describe('OpenAPI', () => {
  it('documents the account routes', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const paths = Object.keys(res.json().paths);
    for (const p of ['/api/v1/auth/register', '/api/v1/auth/login', '/api/v1/auth/refresh', '/api/v1/auth/logout', '/api/v1/users/me', '/api/v1/users/{id}/role']) {
      expect(paths).toContain(p);
    }
  });
});
