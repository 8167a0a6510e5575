import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helper.js';

// /docs over plain HTTP at a non-loopback address was blank: helmet's default CSP carried
// `upgrade-insecure-requests`, so browsers fetched the Swagger UI scripts over https. The real
// browser check is test/browser/docs.browser.test.ts (`npm run test:browser`, run by CI).
const directives = (csp: string | undefined) =>
  new Map((csp ?? '').split(';').map((d) => d.trim()).filter(Boolean).map((d) => [d.split(/\s+/)[0], d] as const));

let direct: TestApp;
let proxied: TestApp;
beforeAll(async () => {
  direct = await buildTestApp();
  proxied = await buildTestApp({ env: { TRUST_PROXY: 'true' } });
});
afterAll(async () => {
  await direct.close();
  await proxied.close();
});

describe('Content-Security-Policy and the transport', () => {
  it('over plain HTTP: no upgrade-insecure-requests, everything else as strict as helmet makes it', async () => {
    for (const url of ['/docs', '/docs/static/index.html', '/api/v1/events', '/health']) {
      const res = await direct.app.inject({ method: 'GET', url });
      const csp = directives(res.headers['content-security-policy'] as string);
      expect(csp.has('upgrade-insecure-requests'), url).toBe(false);
      expect(csp.get('default-src'), url).toBe("default-src 'self'");
      expect(csp.get('script-src'), url).toBe("script-src 'self'");
      expect(csp.get('object-src'), url).toBe("object-src 'none'");
      expect(csp.get('frame-ancestors'), url).toBe("frame-ancestors 'self'");
    }
  });

  it('over TLS (here: X-Forwarded-Proto from a trusted proxy) keeps upgrade-insecure-requests', async () => {
    const tls = await proxied.app.inject({ method: 'GET', url: '/docs/static/index.html', headers: { 'x-forwarded-proto': 'https' } });
    expect(directives(tls.headers['content-security-policy'] as string).has('upgrade-insecure-requests')).toBe(true);
    expect(tls.headers['strict-transport-security']).toMatch(/max-age=\d+/);

    const plain = await proxied.app.inject({ method: 'GET', url: '/docs/static/index.html', headers: { 'x-forwarded-proto': 'http' } });
    expect(directives(plain.headers['content-security-policy'] as string).has('upgrade-insecure-requests')).toBe(false);
  });

  it('an untrusted X-Forwarded-Proto does not change the policy', async () => {
    const res = await direct.app.inject({ method: 'GET', url: '/health', headers: { 'x-forwarded-proto': 'https' } });
    expect(directives(res.headers['content-security-policy'] as string).has('upgrade-insecure-requests')).toBe(false);
  });
});
