import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helper.js';

const opened: TestApp[] = [];
async function appWith(env: Record<string, string>): Promise<TestApp> {
  const t = await buildTestApp({ env: { RATE_LIMIT_ENABLED: 'true', ...env } });
  opened.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

const hit = (t: TestApp, ip = '203.0.113.7') => t.app.inject({ method: 'GET', url: '/health', remoteAddress: ip });

describe('rate limits', () => {
  it('answers 429 problem+json with RateLimit headers and Retry-After past the limit', async () => {
    const t = await appWith({ RATE_LIMIT_MAX: '3' });
    const first = await hit(t);
    expect(first.statusCode).toBe(200);
    expect(first.headers['ratelimit-limit']).toBe('3');
    expect(first.headers['ratelimit-remaining']).toBe('2');
    await hit(t);
    await hit(t);
    const over = await hit(t);
    expect(over.statusCode).toBe(429);
    expect(over.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(over.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED', success: false });
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(over.headers['ratelimit-remaining']).toBe('0');
    expect(over.headers['ratelimit-reset']).toBeDefined();
    // Another client is counted on its own.
    expect((await hit(t, '198.51.100.9')).statusCode).toBe(200);
  });

  it('shares the count between instances through Redis', async () => {
    const prefix = `test:shared:${randomBytes(4).toString('hex')}:`;
    const a = await appWith({ RATE_LIMIT_MAX: '4', REDIS_KEY_PREFIX: prefix });
    const b = await appWith({ RATE_LIMIT_MAX: '4', REDIS_KEY_PREFIX: prefix });
    expect((await hit(a)).statusCode).toBe(200);
    expect((await hit(b)).statusCode).toBe(200);
    expect((await hit(a)).statusCode).toBe(200);
    expect((await hit(b)).statusCode).toBe(200);
    expect((await hit(a)).statusCode).toBe(429);
    expect((await hit(b)).statusCode).toBe(429);
  });

  it('limits login and register more tightly than other routes', async () => {
    const t = await appWith({ RATE_LIMIT_MAX: '100', RATE_LIMIT_AUTH_MAX: '2' });
    const login = () =>
      t.app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '192.0.2.1', payload: { email: 'a@b.example', password: 'wrong-password' } });
    expect((await login()).statusCode).not.toBe(429);
    expect((await login()).statusCode).not.toBe(429);
    const third = await login();
    expect(third.statusCode).toBe(429);
    expect(third.headers['ratelimit-limit']).toBe('2');
    expect((await hit(t, '192.0.2.1')).statusCode).toBe(200);
  });

  it('falls back to per-instance counting when Redis is down', async () => {
    const t = await appWith({ RATE_LIMIT_MAX: '2', REDIS_URL: 'redis://127.0.0.1:1' });
    expect((await hit(t)).statusCode).toBe(200);
    expect((await hit(t)).statusCode).toBe(200);
    expect((await hit(t)).statusCode).toBe(429);
  });

  it('can be lifted by configuration for load runs', async () => {
    const t = await appWith({ RATE_LIMIT_ENABLED: 'false', RATE_LIMIT_MAX: '1' });
    for (let i = 0; i < 5; i++) expect((await hit(t)).statusCode).toBe(200);
  });
});
