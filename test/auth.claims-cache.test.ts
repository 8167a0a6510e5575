import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { Types } from 'mongoose';
import { afterAll, afterEach, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { type AccessClaims, cachedAccessTokenVerifier, signAccessToken, verifyAccessToken } from '../src/auth/tokens.js';
import { AppError } from '../src/lib/errors.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { buildTestApp, type TestApp } from './helper.js';
import { decodeJwt, signJwt, withPayload } from './support/jwt.js';
import { expectProblem } from './support/problem.js';

/**
 * The guard remembers verified access-token claims per token string (src/auth/tokens.ts,
 * cachedAccessTokenVerifier, used by src/auth/guard.ts). These tests prove that remembering a token
 * never lets it in where a fresh check would refuse it: revoked sessions, expiry on the app clock,
 * tampered look-alikes; and that the memory is bounded.
 *
 * To know a request really was served from the cache (and not re-verified), the app's own
 * @fastify/jwt `verify` is spied on (calls go through unchanged): zero calls means the cached claims
 * were used.
 */

let t: TestApp;
let admin: TestAccount;

beforeAll(async () => {
  t = await buildTestApp();
  admin = await createAccount(t.app, { role: 'admin' });
});
afterAll(() => t.close());
afterEach(() => {
  vi.restoreAllMocks();
});

const me = (token: string) => t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(token) });

/** Counts the signature checks the app's JWT plugin does from now on. */
const spyOnVerify = (): MockInstance => vi.spyOn(t.app.jwt, 'verify');

/** Uses the token once so its claims are in the guard's cache, and checks it was accepted. */
async function warm(token: string): Promise<void> {
  const res = await me(token);
  expect(res.statusCode, res.body).toBe(200);
}

/** A second request with a warmed token does no signature check: the control for the refusals below. */
async function expectServedFromCache(token: string): Promise<void> {
  const verify = spyOnVerify();
  const res = await me(token);
  expect(res.statusCode, res.body).toBe(200);
  expect(verify).not.toHaveBeenCalled();
  verify.mockRestore();
}

const tokensOf = (res: LightMyRequestResponse) => res.json<{ data: { accessToken: string; refreshToken: string } }>().data;

describe('a cached token is refused once its session ends', () => {
  it('after logout', async () => {
    const a = await createAccount(t.app);
    await warm(a.accessToken);
    await expectServedFromCache(a.accessToken);

    const out = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(a.accessToken) });
    expect(out.statusCode).toBe(204);

    const verify = spyOnVerify();
    const problem = expectProblem(await me(a.accessToken), 401, 'UNAUTHENTICATED');
    expect(problem.detail).toMatch(/session has ended/);
    // The claims still came from the cache: it is the per-request session check that refused.
    expect(verify).not.toHaveBeenCalled();
  });

  it('after a spent refresh token is presented again (both access tokens of the session die)', async () => {
    const a = await createAccount(t.app);
    await warm(a.accessToken);
    // Tokens carry the app clock's second as iat; move on one, or the new access token would be
    // the same string as the old one (same session, same user, same role).
    t.clock.advance(1000);
    const rotated = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: a.refreshToken } });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const second = tokensOf(rotated).accessToken;
    expect(second).not.toBe(a.accessToken);
    await warm(second);
    // Rotation alone ends nothing: the first access token still works, from the cache.
    await expectServedFromCache(a.accessToken);
    await expectServedFromCache(second);

    const replay = await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: a.refreshToken } });
    expectProblem(replay, 401, 'REFRESH_TOKEN_REUSED');

    const verify = spyOnVerify();
    expectProblem(await me(a.accessToken), 401, 'UNAUTHENTICATED');
    expectProblem(await me(second), 401, 'UNAUTHENTICATED');
    expect(verify).not.toHaveBeenCalled();
  });

  it('after a role change: a demoted organizer\'s cached organizer token is held to the new role', async () => {
    const organizer = await createAccount(t.app, { role: 'organizer' });
    expect(decodeJwt(organizer.accessToken).payload.role).toBe('organizer');
    const newEvent = (token: string) =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/events',
        headers: bearer(token),
        payload: {
          name: 'Demotion test',
          venue: 'Hall',
          startsAt: new Date(t.clock.now().getTime() + 86_400_000).toISOString(),
          totalTickets: 5,
          price: 100,
          currency: 'EUR',
        },
      });
    // Control: while an organizer, the (now cached) token may create events.
    expect((await newEvent(organizer.accessToken)).statusCode).toBe(201);
    await expectServedFromCache(organizer.accessToken);

    const demoted = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/users/${organizer.user.id}/role`,
      headers: bearer(admin.accessToken),
      payload: { role: 'customer' },
    });
    expect(demoted.statusCode, demoted.body).toBe(200);

    // The cached claims still say "organizer"; the role the guard acts on comes from the session
    // check, so the same token is held to "customer" on its very next request.
    const verify = spyOnVerify();
    expectProblem(await newEvent(organizer.accessToken), 403, 'FORBIDDEN');
    expect((await me(organizer.accessToken)).json().data.role).toBe('customer');
    expect(verify).not.toHaveBeenCalled();

    // Logging in again gives a token with the new role, and that one is held to it.
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: organizer.user.email, password: organizer.password },
    });
    expect(login.statusCode).toBe(200);
    const fresh = tokensOf(login).accessToken;
    expect(decodeJwt(fresh).payload.role).toBe('customer');
    expectProblem(await newEvent(fresh), 403, 'FORBIDDEN');
  });
});

describe('a cached token is refused once it expires (app clock)', () => {
  it('is accepted up to and including its exp second, refused 1 ms later, and then forgotten', async () => {
    const a = await createAccount(t.app);
    const issuedAt = t.clock.now();
    const exp = Number(decodeJwt(a.accessToken).payload.exp);
    expect(exp * 1000).toBeGreaterThan(issuedAt.getTime());
    try {
      await warm(a.accessToken);

      // Exactly at exp: the verifier's rule is "valid while now <= exp"; the cache keeps it.
      t.clock.set(new Date(exp * 1000));
      await expectServedFromCache(a.accessToken);

      t.clock.set(new Date(exp * 1000 + 1));
      let verify = spyOnVerify();
      const problem = expectProblem(await me(a.accessToken), 401, 'UNAUTHENTICATED');
      expect(problem.detail).toMatch(/expired/);
      expect(verify).not.toHaveBeenCalled(); // refused by the cache itself, against the app clock
      verify.mockRestore();

      // Far later still refused.
      t.clock.set(new Date(exp * 1000 + 86_400_000));
      expectProblem(await me(a.accessToken), 401, 'UNAUTHENTICATED');

      // The expired entry was dropped: with time put back, the token is checked afresh (one
      // signature check), which shows the cache does not keep expired tokens around.
      t.clock.set(issuedAt);
      verify = spyOnVerify();
      expect((await me(a.accessToken)).statusCode).toBe(200);
      expect(verify).toHaveBeenCalledTimes(1);
    } finally {
      t.clock.set(issuedAt);
    }
  });
});

describe('cachedAccessTokenVerifier', () => {
  const subject = () => ({ userId: new Types.ObjectId().toHexString(), role: 'customer' as const, sessionId: new Types.ObjectId().toHexString() });
  const freshToken = (now = t.clock.now()) => signAccessToken(t.app.jwt, subject(), now);

  type Verdict = { ok: true; claims: AccessClaims } | { ok: false; status: number; code: string; detail: string };
  function verdict(check: () => AccessClaims): Verdict {
    try {
      return { ok: true, claims: { ...check() } };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return { ok: false, status: err.statusCode, code: err.code, detail: err.message };
    }
  }
  const uncached = (token: string, now: Date) => verdict(() => verifyAccessToken(t.app.jwt, token, now));

  it('is bounded: with the capacity reached, the oldest entry goes first', async () => {
    const verify = spyOnVerify();
    const cached = cachedAccessTokenVerifier(t.app.jwt, 3);
    const now = t.clock.now();
    const [t1, t2, t3, t4] = [freshToken(), freshToken(), freshToken(), freshToken()] as [string, string, string, string];

    for (const token of [t1, t2, t3]) cached(token, now);
    expect(verify).toHaveBeenCalledTimes(3);
    for (const token of [t1, t2, t3]) cached(token, now);
    expect(verify).toHaveBeenCalledTimes(3); // all three remembered

    cached(t4, now); // full: t1, the oldest, makes room
    expect(verify).toHaveBeenCalledTimes(4);
    cached(t2, now);
    cached(t3, now);
    cached(t4, now);
    expect(verify).toHaveBeenCalledTimes(4); // the other three are still there
    cached(t1, now);
    expect(verify).toHaveBeenCalledTimes(5); // t1 had been dropped and is verified again
  });

  it('holds 10,000 tokens by default (the guard uses the default), and no more', async () => {
    const verify = spyOnVerify();
    const cached = cachedAccessTokenVerifier(t.app.jwt);
    const now = t.clock.now();
    const tokens = Array.from({ length: 10_001 }, () => freshToken(now));
    for (const token of tokens.slice(0, 10_000)) cached(token, now);
    expect(verify).toHaveBeenCalledTimes(10_000);
    cached(tokens[0] as string, now);
    expect(verify).toHaveBeenCalledTimes(10_000); // 10,000 fit

    cached(tokens[10_000] as string, now); // the 10,001st pushes out the first
    expect(verify).toHaveBeenCalledTimes(10_001);
    cached(tokens[1] as string, now);
    expect(verify).toHaveBeenCalledTimes(10_001);
    cached(tokens[0] as string, now);
    expect(verify).toHaveBeenCalledTimes(10_002);
  });

  it('never remembers a refusal', () => {
    const verify = spyOnVerify();
    const cached = cachedAccessTokenVerifier(t.app.jwt, 10);
    const forged = signJwt(decodeJwt(freshToken()).payload, 'another-secret-another-secret-another-secret');
    for (let i = 1; i <= 3; i++) {
      expect(() => cached(forged, t.clock.now())).toThrow(AppError);
      expect(verify).toHaveBeenCalledTimes(i);
    }
  });

  it('refuses look-alikes of a cached token: same header and payload, other signature; edited payload; extra or missing characters', () => {
    const cached = cachedAccessTokenVerifier(t.app.jwt, 10);
    const now = t.clock.now();
    const genuine = freshToken(now);
    const { payload, signature } = decodeJwt(genuine);
    expect(cached(genuine, now).sub).toBe(payload.sub);

    const other = decodeJwt(freshToken(now)).signature;
    const lookAlikes = [
      genuine.replace(signature, other), // header.payload of the cached token, another token's signature
      withPayload(genuine, { ...payload, role: 'admin' }), // cached signature on elevated claims
      withPayload(genuine, { ...payload, exp: Number(payload.exp) + 86_400 }),
      genuine.slice(0, -8), // a prefix of the cached token
      `${genuine.slice(0, genuine.lastIndexOf('.'))}.`, // its header.payload with no signature
      `${genuine}.extra`,
      `${genuine}AAAA`,
    ];
    for (const token of lookAlikes) {
      expect(uncached(token, now).ok, token).toBe(false); // refused fresh, so...
      expect(verdict(() => cached(token, now)), token).toEqual(uncached(token, now)); // ...refused with the cache too
    }
    // And the genuine one is still remembered as it was.
    expect(cached(genuine, now)).toMatchObject({ sub: payload.sub, sid: payload.sid, role: 'customer' });
  });

  it('answers exactly as the uncached verifier for any single-character edit, cut or append of a cached token', () => {
    const now = t.clock.now();
    const genuine = freshToken(now);
    const cached = cachedAccessTokenVerifier(t.app.jwt, 50);
    cached(genuine, now);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.='.split('');
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat({ max: genuine.length - 1 }), ch: fc.constantFrom(...alphabet) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat({ max: genuine.length - 1 }) }),
      fc.record({ kind: fc.constant('append' as const), tail: fc.string({ unit: fc.constantFrom(...alphabet), minLength: 1, maxLength: 6 }) }),
    );
    fc.assert(
      fc.property(edit, (e) => {
        const token =
          e.kind === 'replace'
            ? genuine.slice(0, e.at) + e.ch + genuine.slice(e.at + 1)
            : e.kind === 'cut'
              ? genuine.slice(0, e.at)
              : genuine + e.tail;
        // Some edits of the signature's last character decode to the same bytes and are accepted
        // by the verifier itself; the point is only that the cache never disagrees with it.
        expect(verdict(() => cached(token, now))).toEqual(uncached(token, now));
      }),
      { numRuns: 300 },
    );
  });

  it('judges exp and nbf of cached tokens against the given clock exactly like the uncached verifier', () => {
    const base = Math.floor(t.clock.now().getTime() / 1000);
    const claims = { sub: new Types.ObjectId().toHexString(), sid: new Types.ObjectId().toHexString(), role: 'customer', typ: 'access' };
    // Signed with the app's secret by hand so it can carry an nbf (our signer never sets one).
    const token = signJwt({ ...claims, iat: base, nbf: base + 10, exp: base + 100 }, t.config.JWT_SECRET);
    const edges = [base + 10, base + 100].flatMap((s) => [s * 1000 - 1, s * 1000, s * 1000 + 1]);
    const instant = fc.oneof(fc.constantFrom(...edges), fc.integer({ min: (base - 50) * 1000, max: (base + 150) * 1000 }));
    // Any order of instants, on one cache: entries made, kept, and dropped on expiry along the way.
    fc.assert(
      fc.property(fc.array(instant, { minLength: 1, maxLength: 12 }), (instants) => {
        const cached = cachedAccessTokenVerifier(t.app.jwt, 5);
        for (const ms of instants) {
          const now = new Date(ms);
          expect(verdict(() => cached(token, now)), `at ${ms - base * 1000} ms`).toEqual(uncached(token, now));
        }
      }),
      { numRuns: 200 },
    );
    // The edges themselves, in order: not yet valid, valid from nbf to exp inclusive, then expired.
    const cached = cachedAccessTokenVerifier(t.app.jwt, 5);
    const outcome = edges.map((ms) => verdict(() => cached(token, new Date(ms))).ok);
    expect(outcome).toEqual([false, true, true, true, true, false]);
  });
});
