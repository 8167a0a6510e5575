import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helper.js';
import { Types } from 'mongoose';
import { openSession, sessionKey } from '../src/auth/sessions.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';

const run = promisify(execFile);

let t: TestApp;
let admin: TestAccount;
beforeAll(async () => {
  t = await buildTestApp();
  admin = await createAccount(t.app, { role: 'admin' });
});
afterAll(() => t.close());

const setRole = (id: string, payload: unknown, token?: string) =>
  t.app.inject({
    method: 'PATCH',
    url: `/api/v1/users/${id}/role`,
    headers: token ? bearer(token) : {},
    payload: payload as Record<string, unknown>,
  });
const login = (app: TestApp['app'], email: string, password: string) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });

describe('PATCH /users/:id/role', () => {
  it('lets an admin change a role and answers the user', async () => {
    const target = await createAccount(t.app);
    const res = await setRole(target.user.id, { role: 'organizer' }, admin.accessToken);
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toEqual({ ...target.user, role: 'organizer', createdAt: expect.any(String) });
    expect(res.body).not.toMatch(/passwordHash|\$2[aby]\$/);
    expect((await t.app.models.User.findById(target.user.id).lean())?.role).toBe('organizer');
  });

  it('applies the new role at once to the tokens the user holds, keeps its sessions, and new tokens name it', async () => {
    const target = await createAccount(t.app, { role: 'organizer' });
    const me = () => t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(target.accessToken) });
    const newEvent = (token: string) =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/events',
        headers: bearer(token),
        payload: { name: 'Role test', venue: 'Hall', startsAt: new Date(t.clock.now().getTime() + 86_400_000).toISOString(), totalTickets: 5, price: 100, currency: 'EUR' },
      });
    expect((await me()).statusCode).toBe(200); // the session's role is now cached

    expect((await setRole(target.user.id, { role: 'customer' }, admin.accessToken)).statusCode).toBe(200);
    // The same token, which still names "organizer", is held to the new role on its next request.
    expect((await newEvent(target.accessToken)).statusCode).toBe(403);
    expect((await me()).json().data.role).toBe('customer');

    // Promotion works the same way, and a refresh of the kept session names the new role.
    expect((await setRole(target.user.id, { role: 'organizer' }, admin.accessToken)).statusCode).toBe(200);
    expect((await newEvent(target.accessToken)).statusCode).toBe(201);
    const refreshed = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: target.refreshToken } });
    expect(refreshed.statusCode).toBe(200);
    expect(refreshed.json().data.user.role).toBe('organizer');
    const relogin = await login(t.app, target.user.email, target.password);
    expect(relogin.json().data.user.role).toBe('organizer');
  });

  it('answers the user unchanged (sessions kept) when the role is the same', async () => {
    const target = await createAccount(t.app);
    expect((await setRole(target.user.id, { role: 'customer' }, admin.accessToken)).json().data.role).toBe('customer');
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(target.accessToken) });
    expect(me.statusCode).toBe(200);
  });

  it('is 403 FORBIDDEN for customers and organizers, 401 without a token', async () => {
    const target = await createAccount(t.app);
    for (const role of ['customer', 'organizer'] as const) {
      const caller = await createAccount(t.app, { role });
      const res = await setRole(target.user.id, { role: 'admin' }, caller.accessToken);
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('FORBIDDEN');
    }
    const self = await setRole(target.user.id, { role: 'admin' }, target.accessToken);
    expect(self.statusCode).toBe(403);
    const anonymous = await setRole(target.user.id, { role: 'admin' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().code).toBe('UNAUTHENTICATED');
    expect((await t.app.models.User.findById(target.user.id).lean())?.role).toBe('customer');
  });

  it('is 404 NOT_FOUND for an unknown user and 400 for bad input', async () => {
    const missing = await setRole('0123456789abcdef01234567', { role: 'organizer' }, admin.accessToken);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('NOT_FOUND');
    const target = await createAccount(t.app);
    for (const [id, body] of [
      ['not-an-id', { role: 'organizer' }],
      [target.user.id, { role: 'superuser' }],
      [target.user.id, {}],
      [target.user.id, { role: 'organizer', email: 'x@example.test' }],
    ] as const) {
      const res = await setRole(id, body, admin.accessToken);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
  });

  it('refuses to demote the last admin (409 INVALID_STATE)', async () => {
    const fresh = await buildTestApp();
    try {
      const only = await createAccount(fresh.app, { role: 'admin' });
      const res = await fresh.app.inject({
        method: 'PATCH',
        url: `/api/v1/users/${only.user.id}/role`,
        headers: bearer(only.accessToken),
        payload: { role: 'customer' },
      });
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe('INVALID_STATE');
    } finally {
      await fresh.close();
    }
  });

  it('leaves at least one admin when the last two demote each other at once', async () => {
    const fresh = await buildTestApp();
    try {
      for (let round = 0; round < 5; round++) {
        await fresh.app.models.User.updateMany({ role: 'admin' }, { $set: { role: 'customer' } });
        const a = await createAccount(fresh.app, { role: 'admin' });
        const b = await createAccount(fresh.app, { role: 'admin' });
        const demote = (target: TestAccount, by: TestAccount) =>
          fresh.app.inject({ method: 'PATCH', url: `/api/v1/users/${target.user.id}/role`, headers: bearer(by.accessToken), payload: { role: 'customer' } });
        const answers = await Promise.all([demote(a, b), demote(b, a)]);
        const statuses = answers.map((r) => r.statusCode).sort();
        // One may win (the other then sees the last admin) or both be refused; never both succeed.
        expect([[200, 409], [409, 409]]).toContainEqual(statuses);
        expect(await fresh.app.models.User.countDocuments({ role: 'admin' })).toBeGreaterThanOrEqual(1);
      }
    } finally {
      await fresh.close();
    }
  });
});

describe('the role a session keeps (read by the per-request check)', () => {
  const sidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).sid as string;
  const me = (token: string) => t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(token) });

  it('follows a role change on every open session of the user', async () => {
    const target = await createAccount(t.app);
    const second = await login(t.app, target.user.email, target.password);
    expect(second.statusCode).toBe(200);
    expect((await setRole(target.user.id, { role: 'organizer' }, admin.accessToken)).statusCode).toBe(200);
    const sessions = await t.app.models.Session.find({ userId: target.user.id }).lean();
    expect(sessions).toHaveLength(2);
    expect(sessions.map((s) => s.role)).toEqual(['organizer', 'organizer']);
  });

  it('is corrected when the role changed while the session was being opened', async () => {
    // A login that read the user before a role change, and created its session after it.
    const target = await createAccount(t.app);
    const opened = await openSession(t.app, { _id: new Types.ObjectId(target.user.id), role: 'admin' }, Buffer.alloc(32, 1));
    expect((await t.app.models.Session.findById(opened.sessionId).lean())?.role).toBe('customer');
  });

  it('for a session opened before sessions kept roles, comes from the user', async () => {
    const target = await createAccount(t.app, { role: 'organizer' });
    const sid = sidOf(target.accessToken);
    await t.app.models.Session.updateOne({ _id: sid }, { $unset: { role: 1 } });
    await t.app.kv.delete(sessionKey(sid));
    const res = await me(target.accessToken);
    expect(res.statusCode).toBe(200);
    expect(await t.app.kv.get(sessionKey(sid))).toBe('live:organizer');
  });

  it('is brought in step by a refresh when the role was set another way (start-up admin)', async () => {
    const target = await createAccount(t.app);
    await t.app.models.User.updateOne({ _id: target.user.id }, { $set: { role: 'admin' } });
    const refreshed = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: target.refreshToken } });
    expect(refreshed.statusCode).toBe(200);
    expect((await t.app.models.Session.findById(sidOf(target.accessToken)).lean())?.role).toBe('admin');
    expect((await me(refreshed.json().data.accessToken)).json().data.role).toBe('admin');
  });
});

describe('first admin', () => {
  it('is created at start-up from ADMIN_EMAIL / ADMIN_PASSWORD', async () => {
    const boot = await buildTestApp({ env: { ADMIN_EMAIL: 'Boss@Example.TEST', ADMIN_PASSWORD: 'admin-password-1' } });
    try {
      const res = await login(boot.app, 'boss@example.test', 'admin-password-1');
      expect(res.statusCode).toBe(200);
      expect(res.json().data.user.role).toBe('admin');
      expect(await boot.app.models.User.countDocuments({ email: 'boss@example.test' })).toBe(1);
    } finally {
      await boot.close();
    }
  });

  it('promotes an existing account at start-up and keeps its password', async () => {
    const existing = await createAccount(t.app);
    const boot = await buildTestApp({
      env: { MONGODB_URI: t.config.MONGODB_URI, ADMIN_EMAIL: existing.user.email, ADMIN_PASSWORD: 'another-password' },
    });
    try {
      const res = await login(boot.app, existing.user.email, existing.password);
      expect(res.statusCode).toBe(200);
      expect(res.json().data.user.role).toBe('admin');
    } finally {
      // Same database as t: close without dropping it.
      await boot.app.close();
    }
  });

  it('comes from `npm run create-admin` (create, then promote)', async () => {
    const env = {
      ...process.env,
      NODE_ENV: 'test',
      MONGODB_URI: t.config.MONGODB_URI,
      BCRYPT_COST: '4',
      ADMIN_EMAIL: '',
      ADMIN_PASSWORD: '',
    };
    const created = await run(process.execPath, ['--import', 'tsx', 'scripts/create-admin.ts', '--email', 'Root@Example.TEST', '--password', 'root-password-1', '--name', 'Root'], { env });
    expect(created.stdout).toContain('admin root@example.test: created');
    const res = await login(t.app, 'root@example.test', 'root-password-1');
    expect(res.json().data.user).toMatchObject({ role: 'admin', name: 'Root' });

    const customer = await createAccount(t.app);
    const promoted = await run(process.execPath, ['--import', 'tsx', 'scripts/create-admin.ts', customer.user.email], { env });
    expect(promoted.stdout).toContain('promoted');
    expect((await login(t.app, customer.user.email, customer.password)).json().data.user.role).toBe('admin');

    await expect(run(process.execPath, ['--import', 'tsx', 'scripts/create-admin.ts', 'nobody@example.test'], { env })).rejects.toMatchObject({
      stderr: expect.stringContaining('a password is needed'),
    });
  });
});
