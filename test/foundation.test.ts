import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { buildTestApp, type TestApp } from './helper.js';

/** Collects the app's log lines as parsed JSON. */
function logCollector() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

describe('configuration', () => {
  it('names every bad variable', () => {
    try {
      loadConfig({ PORT: 'abc', JWT_SECRET: 'short', LOG_LEVEL: 'loud' });
      expect.unreachable('loadConfig should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as Error).message;
      expect(message).toContain('PORT');
      expect(message).toContain('JWT_SECRET');
      expect(message).toContain('LOG_LEVEL');
    }
  });

  it('refuses to run production on defaults', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/MONGODB_URI[\s\S]*JWT_SECRET|JWT_SECRET[\s\S]*MONGODB_URI/);
    const ok = loadConfig({
      NODE_ENV: 'production',
      MONGODB_URI: 'mongodb://db:27017/tickets?replicaSet=rs0',
      REDIS_URL: 'redis://cache:6379',
      JWT_SECRET: 'x'.repeat(40),
      TICKET_SIGNING_KEY: '{"kty":"OKP","crv":"Ed25519","x":"-","d":"-"}', // only its presence is checked here; the app parses it at start
    });
    expect(ok.PORT).toBe(3000);
    expect(ok.BCRYPT_COST).toBe(12);
  });

  it('reads the JWT secret from JWT_SECRET_FILE, and names the file when it cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jwt-'));
    const file = join(dir, 'secret');
    writeFileSync(file, `${'s'.repeat(48)}\n`);
    expect(loadConfig({ JWT_SECRET_FILE: file }).JWT_SECRET).toBe('s'.repeat(48));
    expect(loadConfig({ JWT_SECRET_FILE: file, JWT_SECRET: 'e'.repeat(40) }).JWT_SECRET).toBe('e'.repeat(40));
    expect(() => loadConfig({ JWT_SECRET_FILE: join(dir, 'missing') })).toThrow(/JWT_SECRET_FILE/);
  });

  it('treats empty values as unset and parses lists', () => {
    const config = loadConfig({ REDIS_URL: '', CORS_ORIGINS: 'https://a.example, https://b.example' });
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.CORS_ORIGINS).toEqual(['https://a.example', 'https://b.example']);
  });
});

describe('HTTP foundation', () => {
  let t: TestApp;
  const log = logCollector();

  beforeAll(async () => {
    t = await buildTestApp({
      env: { LOG_LEVEL: 'info', CORS_ORIGINS: 'https://shop.example' },
      logStream: log.stream,
      extend(app) {
        app.get('/boom', async () => {
          throw new Error('E11000 duplicate key error collection: secret.internal index');
        });
        app.post('/echo', async (request) => ({ got: request.body }));
      },
    });
  });
  afterAll(() => t.close());

  it('answers liveness without touching dependencies', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('reports readiness of MongoDB and Redis', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { mongodb: 'up', redis: 'up' } });
  });

  it('generates a request id, or honours a sane one from the caller', async () => {
    const fresh = await t.app.inject({ method: 'GET', url: '/health' });
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    const given = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers['x-request-id']).toBe('abc-123');

    const correlation = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-correlation-id': 'corr-9' } });
    expect(correlation.headers['x-request-id']).toBe('corr-9');

    const tooLong = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'a'.repeat(129) } });
    expect(tooLong.headers['x-request-id']).not.toBe('a'.repeat(129));
    const spaces = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'has space' } });
    expect(spaces.headers['x-request-id']).not.toBe('has space');
  });

  it('answers an unknown route with a problem+json 404', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here', headers: { 'x-request-id': 'req-404' } });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 404, code: 'NOT_FOUND', requestId: 'req-404', success: false, title: 'Not Found' });
    expect(typeof res.json().type).toBe('string');
    expect(typeof res.json().detail).toBe('string');
  });

  it('refuses a wrong content type (415), a body over 64 KiB (413) and broken JSON (400)', async () => {
    const text = await t.app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'text/plain' }, payload: 'hi' });
    expect(text.statusCode).toBe(415);
    expect(text.json().code).toBe('UNSUPPORTED_MEDIA_TYPE');

    const big = await t.app.inject({ method: 'POST', url: '/echo', payload: { blob: 'x'.repeat(70 * 1024) } });
    expect(big.statusCode).toBe(413);
    expect(big.json().code).toBe('PAYLOAD_TOO_LARGE');

    const broken = await t.app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":' });
    expect(broken.statusCode).toBe(400);
    expect(broken.headers['content-type']).toMatch(/^application\/problem\+json/);

    const proto = await t.app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"__proto__":{"admin":true}}' });
    expect(proto.statusCode).toBe(400);
  });

  it('never leaks internals on a 5xx', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/boom' });
    expect(res.statusCode).toBe(500);
    const body = res.json();
    expect(body.code).toBe('INTERNAL_ERROR');
    expect(res.body).not.toContain('E11000');
    expect(res.body).not.toContain('secret.internal');
    expect(res.body).not.toMatch(/at .*\.ts:\d+/);
  });

  it('sends security headers and allows only configured CORS origins', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://shop.example' } });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toBeDefined();
    expect(res.headers['x-frame-options']).toBeDefined();
    expect(res.headers['access-control-allow-origin']).toBe('https://shop.example');

    const other = await t.app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('serves the OpenAPI document', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toContain('/health/ready');
    const ui = await t.app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(ui.statusCode);
  });

  it('logs one JSON line per request with id, method, route, status and duration', async () => {
    await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'log-check-1', authorization: 'Bearer secret-token-value' } });
    const lines = log.lines.filter((l) => l.requestId === 'log-check-1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: 'GET', route: '/health', status: 200, msg: 'request completed' });
    expect(typeof lines[0].durationMs).toBe('number');
    expect(JSON.stringify(log.lines)).not.toContain('secret-token-value');
  });
});

describe('degraded dependencies', () => {
  it('keeps answering when Redis is unreachable and names it in readiness', async () => {
    const t = await buildTestApp({ env: { REDIS_URL: 'redis://127.0.0.1:1' } });
    try {
      expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
      const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.headers['retry-after']).toBeDefined();
      expect(ready.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE', down: ['redis'] });
      expect(ready.json().detail).toContain('redis');
    } finally {
      await t.close();
    }
  });

  it('runs in single-instance mode without REDIS_URL', async () => {
    const t = await buildTestApp({ env: { REDIS_URL: undefined } });
    try {
      expect(t.app.kv.kind).toBe('memory');
      const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.json()).toEqual({ status: 'ready', checks: { mongodb: 'up', redis: 'not-configured' } });
    } finally {
      await t.close();
    }
  });
});
