import { networkInterfaces } from 'node:os';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helper.js';

/**
 * /docs in a real browser, over plain HTTP, at a non-loopback address of this machine: the case
 * where helmet's `upgrade-insecure-requests` made Chromium fetch the Swagger UI scripts over https
 * and leave the page blank (loopback is exempt from the upgrade, so a localhost test cannot see it).
 * Uses Debian's chromium (apt-get install chromium; CHROMIUM_PATH names another binary); nothing is
 * downloaded. Run by `npm run test:browser`, which CI (.ci/run) runs after `npm test`.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function nonLoopbackAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('this machine has no non-loopback IPv4 address to load /docs through');
}

let t: TestApp;
let browser: Browser;
let base: string;

beforeAll(async () => {
  t = await buildTestApp({ env: { HOST: '0.0.0.0' } });
  await t.app.listen({ host: '0.0.0.0', port: 0 });
  const address = t.app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  base = `http://${nonLoopbackAddress()}:${address.port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] }).catch((err: Error) => {
    throw new Error(`cannot start Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH): ${err.message}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('/docs in Chromium over plain HTTP at a non-loopback address', () => {
  it('renders every operation of the OpenAPI document', async () => {
    expect(base).not.toMatch(/127\.0\.0\.1|localhost/);
    const spec = (await (await fetch(`${base}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(spec.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    expect(operations).toBeGreaterThan(10);

    const page = await browser.newPage();
    const upgraded: string[] = [];
    const failed: string[] = [];
    page.on('request', (request) => {
      if (request.url().startsWith('https:')) upgraded.push(request.url());
    });
    page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
    const cspViolations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });

    await page.goto(`${base}/docs`, { waitUntil: 'load' });
    // Swagger UI builds one .opblock per operation once its scripts have run and read /docs/json.
    await page.waitForSelector('.opblock', { timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBe(operations);
    await expect.poll(() => page.locator('.opblock-summary-path[data-path="/api/v1/bookings"]').count()).toBeGreaterThan(0);

    expect(upgraded).toEqual([]);
    expect(failed).toEqual([]);
    expect(cspViolations).toEqual([]);
    await page.close();
  });
});
