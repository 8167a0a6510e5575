import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionKey } from '../src/auth/sessions.js';
import { buildTestApp, type TestApp } from './helper.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

const refresh = (refreshToken: unknown) =>
  t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });
const me = (accessToken: string) => t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(accessToken) });
const logout = (accessToken: string) =>
  t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(accessToken) });
const sidOf = (accessToken: string) =>
  (JSON.parse(Buffer.from(accessToken.split('.')[1] as string, 'base64url').toString()) as { sid: string }).sid;

describe('session storage', () => {
  it('stores only a sha256 of the current refresh token', async () => {
    const account = await createAccount(t.app);
    const session = await t.app.models.Session.findById(sidOf(account.accessToken)).lean();
    expect(session?.refreshTokenHash).toBe(createHash('sha256').update(account.refreshToken).digest('hex'));
    expect(JSON.stringify(session)).not.toContain(account.refreshToken);
    expect(String(session?.userId)).toBe(account.user.id);
    expect(session?.revokedAt).toBeNull();
    expect(session?.expiresAt.getTime()).toBe(t.clock.now().getTime() + t.config.REFRESH_TOKEN_TTL_SECONDS * 1000);
  });

  it('has a TTL index that removes expired sessions', async () => {
    const indexes = await t.app.models.Session.listIndexes();
    const ttl = indexes.find((i) => JSON.stringify(i.key) === JSON.stringify({ expiresAt: 1 }));
    expect(ttl?.expireAfterSeconds).toBe(0);
  });
});

describe('POST /auth/refresh', () => {
  it('answers a new pair and spends the presented token', async () => {
    const account = await createAccount(t.app);
    const res = await refresh(account.refreshToken);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const data = res.json().data;
    expect(data.refreshToken).not.toBe(account.refreshToken);
    expect(data.expiresIn).toBe(t.config.ACCESS_TOKEN_TTL_SECONDS);
    expect(data.user).toMatchObject(account.user);
    expect(sidOf(data.accessToken)).toBe(sidOf(account.accessToken));
    expect((await me(data.accessToken)).statusCode).toBe(200);

    const session = await t.app.models.Session.findById(sidOf(account.accessToken)).lean();
    expect(session?.refreshTokenHash).toBe(createHash('sha256').update(data.refreshToken).digest('hex'));
    // The new refresh token chains on.
    expect((await refresh(data.refreshToken)).statusCode).toBe(200);
  });

  it('treats a spent token as reuse: 401 REFRESH_TOKEN_REUSED and the whole session is revoked', async () => {
    const account = await createAccount(t.app);
    const first = (await refresh(account.refreshToken)).json().data;

    const reuse = await refresh(account.refreshToken);
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json()).toMatchObject({ code: 'REFRESH_TOKEN_REUSED', status: 401 });

    // Everything of that session is dead now, including the pair the legitimate refresh got.
    expect((await refresh(first.refreshToken)).statusCode).toBe(401);
    expect((await me(first.accessToken)).statusCode).toBe(401);
    expect((await me(account.accessToken)).statusCode).toBe(401);
    const session = await t.app.models.Session.findById(sidOf(account.accessToken)).lean();
    expect(session?.revokedAt).toBeInstanceOf(Date);
    // A spent token stays recognised as such.
    expect((await refresh(account.refreshToken)).json().code).toBe('REFRESH_TOKEN_REUSED');
  });

  it('lets exactly one of two concurrent refreshes with the same token win', async () => {
    const account = await createAccount(t.app);
    const answers = await Promise.all([refresh(account.refreshToken), refresh(account.refreshToken)]);
    const statuses = answers.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([200, 401]);
    const loser = answers.find((r) => r.statusCode === 401);
    expect(loser?.json().code).toBe('REFRESH_TOKEN_REUSED');
  });

  it('does not let a forged token (right session id, wrong MAC) revoke the session', async () => {
    const account = await createAccount(t.app);
    const [sid, random] = account.refreshToken.split('.') as [string, string, string];
    const forged = `${sid}.${random}.${'A'.repeat(22)}`;
    const res = await refresh(forged);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('UNAUTHENTICATED');
    expect((await refresh(account.refreshToken)).statusCode).toBe(200);
  });

  it.each([
    ['garbage', 'not-a-token'],
    ['an access token', 'ACCESS'],
  ])('refuses %s with 401 UNAUTHENTICATED', async (_what, token) => {
    const account = await createAccount(t.app);
    const res = await refresh(token === 'ACCESS' ? account.accessToken : token);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('UNAUTHENTICATED');
  });

  it('answers 400 for a missing, non-string or extra field', async () => {
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: {} })).statusCode).toBe(400);
    expect((await refresh({ $ne: null })).statusCode).toBe(400);
    const extra = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: 'x', userId: 'y' },
    });
    expect(extra.statusCode).toBe(400);
  });

  it('refuses a refresh token once its session has expired', async () => {
    const account = await createAccount(t.app);
    t.clock.advance(t.config.REFRESH_TOKEN_TTL_SECONDS * 1000 + 1000);
    const res = await refresh(account.refreshToken);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('UNAUTHENTICATED');
  });

  it('gives each rotated refresh token a fresh lifetime', async () => {
    const account = await createAccount(t.app);
    t.clock.advance((t.config.REFRESH_TOKEN_TTL_SECONDS - 60) * 1000);
    const next = (await refresh(account.refreshToken)).json().data;
    t.clock.advance(120_000);
    expect((await refresh(next.refreshToken)).statusCode).toBe(200);
  });

  it('issues access tokens with the role the user has now', async () => {
    const account = await createAccount(t.app);
    await t.app.models.User.updateOne({ _id: account.user.id }, { $set: { role: 'organizer' } });
    const data = (await refresh(account.refreshToken)).json().data;
    expect(data.user.role).toBe('organizer');
    expect(JSON.parse(Buffer.from(data.accessToken.split('.')[1], 'base64url').toString()).role).toBe('organizer');
  });
});

describe('POST /auth/logout', () => {
  let account: TestAccount;
  beforeAll(async () => {
    account = await createAccount(t.app);
  });

  it('answers 204 and ends the session: its access and refresh tokens are refused at once', async () => {
    // Warm the "live" cache first: logout must still win immediately.
    expect((await me(account.accessToken)).statusCode).toBe(200);
    expect(await t.app.kv.get(sessionKey(sidOf(account.accessToken)))).toBe('live:customer');

    const res = await logout(account.accessToken);
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');

    const after = await me(account.accessToken);
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('UNAUTHENTICATED');
    const again = await refresh(account.refreshToken);
    expect(again.statusCode).toBe(401);
    expect(again.json().code).toBe('UNAUTHENTICATED');
    expect((await logout(account.accessToken)).statusCode).toBe(401);
    expect(await t.app.kv.get(sessionKey(sidOf(account.accessToken)))).toBe('revoked');
  });

  it('ends only the current session', async () => {
    const other = await createAccount(t.app);
    const second = (
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: other.user.email, password: other.password },
      })
    ).json().data;
    expect((await logout(other.accessToken)).statusCode).toBe(204);
    expect((await me(second.accessToken)).statusCode).toBe(200);
    expect((await refresh(second.refreshToken)).statusCode).toBe(200);
  });

  it('is 401 without a token', async () => {
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout' })).statusCode).toBe(401);
  });
});

describe('the session check when its cache has no answer (session-reads.ts)', () => {
  const sidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).sid as string;

  it('reads the sessions of checks that miss together in one query, each seeing its own session', async () => {
    const { createAccounts } = await import('./fixtures/accounts.js');
    const accounts = await createAccounts(t.app, 60);
    const sids = accounts.map((a) => sidOf(a.accessToken));
    // Revoked in the database only, as if its cache marker had been lost: only the read can tell.
    await t.app.models.Session.updateOne({ _id: sids[7] }, { $set: { revokedAt: t.clock.now() } });
    await t.app.kv.delete(...sids.map(sessionKey));

    const collection = t.app.models.Session.collection;
    const find = collection.find.bind(collection);
    let queries = 0;
    collection.find = ((...args: Parameters<typeof find>) => {
      queries++;
      return find(...args);
    }) as typeof collection.find;
    try {
      const answers = await Promise.all(accounts.map((a) => me(a.accessToken)));
      expect(answers.map((a) => a.statusCode)).toEqual(accounts.map((_, i) => (i === 7 ? 401 : 200)));
      expect(answers[3]?.json().data.id).toBe(accounts[3]?.user.id);
      expect(queries).toBeGreaterThan(0);
      expect(queries).toBeLessThanOrEqual(3);
    } finally {
      collection.find = find;
    }
  });
});
