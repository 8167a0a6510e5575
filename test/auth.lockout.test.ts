import bcrypt from 'bcrypt';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildTestApp, type TestApp } from './helper.js';
import { createAccount } from './fixtures/accounts.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());
afterEach(() => {
  vi.restoreAllMocks();
});

const login = (email: string, password: string) =>
  t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });

describe('login timing parity', () => {
  it('runs exactly one bcrypt comparison at the configured cost for unknown email and wrong password alike', async () => {
    const account = await createAccount(t.app);
    const compare = vi.spyOn(bcrypt, 'compare');

    const wrong = await login(account.user.email, 'wrong-password');
    expect(wrong.statusCode).toBe(401);
    expect(compare).toHaveBeenCalledTimes(1);
    const wrongHash = String(compare.mock.calls[0]?.[1]);

    const unknown = await login('nobody-at-all@example.test', 'wrong-password');
    expect(unknown.statusCode).toBe(401);
    expect(compare).toHaveBeenCalledTimes(2);
    const dummyHash = String(compare.mock.calls[1]?.[1]);

    // Same cost prefix ($2b$04$ in tests) means the same amount of work for both answers.
    const cost = (hash: string) => hash.slice(0, 7);
    expect(cost(wrongHash)).toBe(`$2b$0${t.config.BCRYPT_COST}$`);
    expect(cost(dummyHash)).toBe(cost(wrongHash));
    expect(dummyHash).not.toBe(wrongHash);
  });

  it('takes at least one bcrypt comparison of time on both branches', async () => {
    const account = await createAccount(t.app);
    const sample = await bcrypt.hash('x'.repeat(12), t.config.BCRYPT_COST);
    const started = performance.now();
    await bcrypt.compare('y'.repeat(12), sample);
    const oneCompare = performance.now() - started;

    for (const email of [account.user.email, 'ghost@example.test']) {
      const begin = performance.now();
      expect((await login(email, 'wrong-password')).statusCode).toBe(401);
      // Loose bound on purpose: half of one measured comparison, never an upper bound.
      expect(performance.now() - begin).toBeGreaterThanOrEqual(oneCompare / 2);
    }
  });
});

describe('account lockout', () => {
  const { LOGIN_MAX_FAILURES, LOGIN_LOCK_SECONDS } = { LOGIN_MAX_FAILURES: 5, LOGIN_LOCK_SECONDS: 900 };

  it('locks after 5 failures in a row with 429 ACCOUNT_LOCKED and Retry-After, refusing even the right password', async () => {
    expect(t.config.LOGIN_MAX_FAILURES).toBe(LOGIN_MAX_FAILURES);
    expect(t.config.LOGIN_LOCK_SECONDS).toBe(LOGIN_LOCK_SECONDS);
    const account = await createAccount(t.app);

    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) {
      const res = await login(account.user.email, `wrong-${i}-password`);
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('INVALID_CREDENTIALS');
    }

    const locked = await login(account.user.email, account.password);
    expect(locked.statusCode).toBe(429);
    expect(locked.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(locked.json()).toMatchObject({ code: 'ACCOUNT_LOCKED', status: 429 });
    expect(locked.headers['retry-after']).toBe(String(LOGIN_LOCK_SECONDS));
    // The login email's case does not open a way around the lock.
    expect((await login(account.user.email.toUpperCase(), account.password)).statusCode).toBe(429);

    // Retry-After counts down with the (app) clock.
    t.clock.advance(600_000);
    const later = await login(account.user.email, account.password);
    expect(later.statusCode).toBe(429);
    expect(later.headers['retry-after']).toBe(String(LOGIN_LOCK_SECONDS - 600));

    t.clock.advance(300_000);
    expect((await login(account.user.email, account.password)).statusCode).toBe(200);
  });

  it('does not check passwords while locked', async () => {
    const account = await createAccount(t.app);
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) await login(account.user.email, 'wrong-password');
    const compare = vi.spyOn(bcrypt, 'compare');
    expect((await login(account.user.email, account.password)).statusCode).toBe(429);
    expect(compare).not.toHaveBeenCalled();
  });

  it('gives a fresh set of tries once a lock has ended', async () => {
    const account = await createAccount(t.app);
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) await login(account.user.email, 'wrong-password');
    t.clock.advance(LOGIN_LOCK_SECONDS * 1000);
    for (let i = 0; i < LOGIN_MAX_FAILURES - 1; i++) {
      expect((await login(account.user.email, 'wrong-password')).statusCode).toBe(401);
    }
    expect((await login(account.user.email, account.password)).statusCode).toBe(200);
  });

  it('resets the failure count on a successful login', async () => {
    const account = await createAccount(t.app);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < LOGIN_MAX_FAILURES - 1; i++) {
        expect((await login(account.user.email, 'wrong-password')).statusCode).toBe(401);
      }
      expect((await login(account.user.email, account.password)).statusCode).toBe(200);
    }
    // A success forgets the run of failures altogether.
    expect(await t.app.models.LoginAttempt.findById(account.user.email).lean()).toBeNull();
  });

  it('gives a burst of parallel guesses no more than 5 password checks', async () => {
    const account = await createAccount(t.app);
    const compare = vi.spyOn(bcrypt, 'compare');
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => login(account.user.email, `parallel-guess-${i}`)),
    );
    const statuses = answers.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 401)).toHaveLength(LOGIN_MAX_FAILURES);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - LOGIN_MAX_FAILURES);
    expect(compare).toHaveBeenCalledTimes(LOGIN_MAX_FAILURES);
    expect((await login(account.user.email, account.password)).statusCode).toBe(429);
  });

  it('does not count failures of one account against another', async () => {
    const victim = await createAccount(t.app);
    const other = await createAccount(t.app);
    for (let i = 0; i < LOGIN_MAX_FAILURES; i++) await login(other.user.email, 'wrong-password');
    expect((await login(victim.user.email, victim.password)).statusCode).toBe(200);
  });
});

describe('lockout of an email that has no account', () => {
  const MAX = 5;
  const LOCK_SECONDS = 900;
  let n = 0;
  const ghost = () => `ghost-${Date.now()}-${n++}@example.test`;
  /** What an answer shows, less what differs by request (its id, and the detail's countdown). */
  const shape = (res: Awaited<ReturnType<typeof login>>) => {
    const { requestId: _id, detail: _detail, ...body } = res.json() as Record<string, unknown>;
    return { status: res.statusCode, retryAfter: res.headers['retry-after'], type: res.headers['content-type'], body };
  };

  it('locks after 5 failures exactly as a known email does: same statuses, headers and bodies', async () => {
    const account = await createAccount(t.app);
    const unknown = ghost();
    for (let i = 0; i < MAX; i++) {
      const known = await login(account.user.email, `wrong-${i}-password`);
      const ghostly = await login(unknown, `wrong-${i}-password`);
      expect(shape(ghostly)).toEqual(shape(known));
      expect(ghostly.statusCode).toBe(401);
    }
    const knownLocked = await login(account.user.email, account.password);
    const ghostLocked = await login(unknown, account.password);
    expect(ghostLocked.statusCode).toBe(429);
    expect(ghostLocked.json().code).toBe('ACCOUNT_LOCKED');
    expect(ghostLocked.headers['retry-after']).toBe(String(LOCK_SECONDS));
    expect(shape(ghostLocked)).toEqual(shape(knownLocked));
    // Case and surrounding space name the same email, as for accounts.
    expect((await login(`  ${unknown.toUpperCase()} `, 'whatever-password')).statusCode).toBe(429);

    t.clock.advance(LOCK_SECONDS * 1000);
    expect((await login(unknown, 'again-wrong-password')).statusCode).toBe(401);
  });

  it('while locked, neither a known nor an unknown email costs a password comparison (no timing tell)', async () => {
    const account = await createAccount(t.app);
    const unknown = ghost();
    for (let i = 0; i < MAX; i++) {
      await login(account.user.email, 'wrong-password');
      await login(unknown, 'wrong-password');
    }
    const compare = vi.spyOn(bcrypt, 'compare');
    expect((await login(account.user.email, 'wrong-password')).statusCode).toBe(429);
    expect((await login(unknown, 'wrong-password')).statusCode).toBe(429);
    expect(compare).not.toHaveBeenCalled();
  });

  it('before the lock, an unknown email costs one comparison against a dummy hash of the configured cost', async () => {
    const compare = vi.spyOn(bcrypt, 'compare');
    expect((await login(ghost(), 'wrong-password')).statusCode).toBe(401);
    expect(compare).toHaveBeenCalledTimes(1);
    expect(String(compare.mock.calls[0]?.[1]).slice(0, 7)).toBe(`$2b$0${t.config.BCRYPT_COST}$`);
  });

  it('gives a burst of parallel guesses at an unknown email no more than 5 comparisons', async () => {
    const unknown = ghost();
    const compare = vi.spyOn(bcrypt, 'compare');
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => login(unknown, `parallel-guess-${i}`)));
    const statuses = answers.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 401)).toHaveLength(MAX);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - MAX);
    expect(compare).toHaveBeenCalledTimes(MAX);
  });

  it('registering an email that is locked does not reveal the lock, and the lock still holds for login', async () => {
    const unknown = ghost();
    for (let i = 0; i < MAX; i++) await login(unknown, 'wrong-password');
    const registered = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: unknown, password: 'a-good-password', name: 'Late Comer' },
    });
    expect(registered.statusCode).toBe(201);
    expect((await login(unknown, 'a-good-password')).statusCode).toBe(429);
  });
});
