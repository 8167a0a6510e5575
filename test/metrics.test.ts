import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { snapshotStats } from '../src/lib/transaction.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, confirm, createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';
import { failCommand, failPointOff, uriWithAppName } from './support/failpoint.js';
import { captureLogs } from './support/logs.js';
import { expectProblem } from './support/problem.js';

/** GET /metrics (API.md Conventions): Prometheus text, per-app registries, optional token. */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key as string] = value as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the sample with exactly these labels; undefined when there is no such line. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === wanted)?.value;
}

async function scrape(app: FastifyInstance, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: '/metrics', headers });
}

async function samplesOf(app: FastifyInstance): Promise<Sample[]> {
  const res = await scrape(app);
  expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
  return parseSamples(res.body);
}

const requests = (samples: Sample[], method: string, route: string, status: number) =>
  valueOf(samples, 'http_request_duration_seconds_count', { method, route, status_code: String(status) });

describe('GET /metrics on a fresh app', () => {
  const appName = `metrics-${randomUUID().slice(0, 8)}`;
  let t: TestApp;
  let organizer: TestAccount;
  let buyer: TestAccount;

  beforeAll(async () => {
    // Its own appName, so the fail point below only touches this app's connections.
    t = await buildTestApp({ env: { MONGODB_URI: uriWithAppName(appName), BOOKING_TX_TIMEOUT_MS: '400' } });
    [organizer, buyer] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app)]);
  });
  afterEach(() => failPointOff(t.app));
  afterAll(() => t.close());

  it('answers Prometheus text 0.0.4 with process metrics and every booking outcome at zero', async () => {
    const res = await scrape(t.app);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('# TYPE http_request_duration_seconds histogram');
    const samples = parseSamples(res.body);
    expect(valueOf(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    for (const outcome of ['held', 'confirmed', 'sold_out', 'unavailable']) {
      expect(valueOf(samples, 'ticketing_booking_outcomes_total', { outcome }), outcome).toBe(0);
    }
  });

  it('counts requests by route pattern and status, booking outcomes and replays', async () => {
    const paid = await createEvent(t.app, organizer.accessToken, { totalTickets: 3, price: 2500 });
    const free = await createEvent(t.app, organizer.accessToken, { totalTickets: 5, price: 0 });

    const key = randomUUID();
    const held = await book(t.app, buyer.accessToken, { eventId: paid, quantity: 2 }, key);
    expect(held.statusCode).toBe(201);
    const bookingId = bookingOf(held).id;
    const heldAgain = await book(t.app, buyer.accessToken, { eventId: paid, quantity: 2 }, key);
    expect(heldAgain.headers['idempotent-replayed']).toBe('true');

    const confirmKey = randomUUID();
    expect((await confirm(t.app, buyer.accessToken, bookingId, {}, confirmKey)).statusCode).toBe(200);
    const confirmedAgain = await confirm(t.app, buyer.accessToken, bookingId, {}, confirmKey);
    expect(confirmedAgain.statusCode).toBe(200);
    expect(confirmedAgain.headers['idempotent-replayed']).toBe('true');

    const soldOut = await book(t.app, buyer.accessToken, { eventId: paid, quantity: 2 });
    expectProblem(soldOut, 409, 'SOLD_OUT');
    const freeBooking = await book(t.app, buyer.accessToken, { eventId: free, quantity: 1 });
    expect(bookingOf(freeBooking).status).toBe('confirmed');

    const read = await t.app.inject({ method: 'GET', url: `/api/v1/bookings/${bookingId}`, headers: bearer(buyer.accessToken) });
    expect(read.statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: `/no/such/${bookingId}` })).statusCode).toBe(404);

    const before = snapshotStats();
    const res = await scrape(t.app);
    const after = snapshotStats();
    const samples = parseSamples(res.body);

    // The histogram is labelled by route pattern: the booking id never appears in any label.
    expect(res.body).not.toContain(bookingId);
    const routes = new Set(samples.filter((s) => s.name === 'http_request_duration_seconds_count').map((s) => s.labels.route));
    expect([...routes].every((r) => r === 'not-found' || r === '*' || r?.startsWith('/'))).toBe(true);
    // POST /api/v1/bookings is routed by a pattern with or without the trailing slash.
    const create = [...routes].find((r) => /^\/api\/v1\/bookings\/?$/.test(r ?? '')) as string;
    expect(create).toBeDefined();
    expect(requests(samples, 'POST', create, 201)).toBe(3); // hold, its replay, the free booking
    expect(requests(samples, 'POST', create, 409)).toBe(1);
    expect(requests(samples, 'POST', '/api/v1/bookings/:id/confirm', 200)).toBe(2);
    expect(requests(samples, 'GET', '/api/v1/bookings/:id', 200)).toBe(1);
    expect(requests(samples, 'GET', 'not-found', 404)).toBe(1);
    expect(requests(samples, 'POST', '/api/v1/events', 201)).toBe(2);
    // Every bucket line of a series ends in +Inf equal to its count.
    expect(
      valueOf(samples, 'http_request_duration_seconds_bucket', { method: 'POST', route: create, status_code: '201', le: '+Inf' }),
    ).toBe(3);
    expect(valueOf(samples, 'http_request_duration_seconds_sum', { method: 'POST', route: create, status_code: '201' })).toBeGreaterThan(0);

    // Decisions, each counted once: replays are not new outcomes.
    expect(valueOf(samples, 'ticketing_booking_outcomes_total', { outcome: 'held' })).toBe(1);
    expect(valueOf(samples, 'ticketing_booking_outcomes_total', { outcome: 'confirmed' })).toBe(2); // the paid hold, the free booking
    expect(valueOf(samples, 'ticketing_booking_outcomes_total', { outcome: 'sold_out' })).toBe(1);
    expect(valueOf(samples, 'ticketing_booking_outcomes_total', { outcome: 'unavailable' })).toBe(0);
    expect(valueOf(samples, 'ticketing_idempotency_replays_total', { route: '/api/v1/bookings' })).toBe(1);
    expect(valueOf(samples, 'ticketing_idempotency_replays_total', { route: '/api/v1/bookings/:id/confirm' })).toBe(1);

    // The transaction counters are lib/transaction.ts's own numbers, read at scrape time.
    expect(before).toEqual(after);
    expect(valueOf(samples, 'ticketing_booking_transactions_total')).toBe(after.transactions);
    expect(valueOf(samples, 'ticketing_booking_transaction_attempts_total')).toBe(after.attempts);
    expect(after.transactions).toBeGreaterThanOrEqual(4);
  });

  it('shows write-conflict retries and 503s', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 10 });
    const conflictsBefore = valueOf(await samplesOf(t.app), 'ticketing_booking_transaction_conflict_retries_total') as number;

    // Two injected write conflicts, then the purchase goes through.
    await failCommand(t.app, appName, { times: 2 }, { failCommands: ['findAndModify'], errorCode: 112, errorLabels: ['TransientTransactionError'] });
    expect((await book(t.app, buyer.accessToken, { eventId, quantity: 1 })).statusCode).toBe(201);
    // Conflicts that never stop: the transaction gives up at its 400 ms deadline with 503.
    await failCommand(t.app, appName, 'alwaysOn', { failCommands: ['findAndModify'], errorCode: 112, errorLabels: ['TransientTransactionError'] });
    expectProblem(await book(t.app, buyer.accessToken, { eventId, quantity: 1 }), 503, 'SERVICE_UNAVAILABLE');
    await failPointOff(t.app);

    const samples = await samplesOf(t.app);
    const conflicts = valueOf(samples, 'ticketing_booking_transaction_conflict_retries_total') as number;
    expect(conflicts - conflictsBefore).toBeGreaterThanOrEqual(3);
    expect(conflicts).toBe(snapshotStats().conflicts);
    expect(valueOf(samples, 'ticketing_booking_transactions_exhausted_total')).toBe(snapshotStats().exhausted);
    expect(valueOf(samples, 'ticketing_booking_outcomes_total', { outcome: 'unavailable' })).toBe(1);
    const create = samples.find((s) => s.name === 'http_request_duration_seconds_count' && s.labels.status_code === '503');
    expect(create?.labels).toMatchObject({ method: 'POST', route: expect.stringMatching(/^\/api\/v1\/bookings\/?$/) });
    expect(create?.value).toBe(1);
  });

  it('is left out of the OpenAPI document (it is text/plain for Prometheus, not the JSON API)', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(doc.paths)).toContain('/health');
    expect(doc.paths['/metrics']).toBeUndefined();
  });
});

describe('GET /metrics access', () => {
  const TOKEN = 'metrics-token-0123456789abcdef';
  let secured: TestApp;
  let open: TestApp;
  const logs = captureLogs();

  beforeAll(async () => {
    [secured, open] = await Promise.all([
      buildTestApp({ env: { METRICS_TOKEN: TOKEN, RATE_LIMIT_ENABLED: 'true' } }),
      buildTestApp({ env: { LOG_LEVEL: 'info' }, logStream: logs.stream }),
    ]);
  });
  afterAll(() => Promise.all([secured.close(), open.close()]));

  it('with METRICS_TOKEN set needs that bearer token; anything else is 401 problem+json', async () => {
    const missing = await scrape(secured.app);
    expectProblem(missing, 401, 'UNAUTHENTICATED');
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(missing.body).not.toContain('http_request_duration_seconds');
    expectProblem(await scrape(secured.app, { authorization: `Bearer ${TOKEN}x` }), 401, 'UNAUTHENTICATED');
    expectProblem(await scrape(secured.app, { authorization: 'Bearer short' }), 401, 'UNAUTHENTICATED');
    expectProblem(await scrape(secured.app, { authorization: TOKEN }), 401, 'UNAUTHENTICATED');
    expectProblem(await scrape(secured.app, { authorization: `Basic ${TOKEN}` }), 401, 'UNAUTHENTICATED');

    const ok = await scrape(secured.app, { authorization: `Bearer ${TOKEN}` });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    // The refused scrapes were counted too, by pattern.
    expect(requests(parseSamples(ok.body), 'GET', '/metrics', 401)).toBe(4 + 1);
  });

  it('is rate-limited like every other route', async () => {
    const res = await scrape(secured.app, { authorization: `Bearer ${TOKEN}` });
    expect(res.headers['ratelimit-limit']).toBe(String(secured.config.RATE_LIMIT_MAX));
  });

  it('two apps in one process keep their own counts', async () => {
    for (let i = 0; i < 3; i++) await open.app.inject({ method: 'GET', url: '/health' });
    await secured.app.inject({ method: 'GET', url: '/health' });
    const openSamples = await samplesOf(open.app);
    const securedSamples = parseSamples((await scrape(secured.app, { authorization: `Bearer ${TOKEN}` })).body);
    expect(requests(openSamples, 'GET', '/health', 200)).toBe(3);
    expect(requests(securedSamples, 'GET', '/health', 200)).toBe(1);
    // Only the secured app saw refused scrapes.
    expect(requests(openSamples, 'GET', '/metrics', 401)).toBeUndefined();
  });

  it('scrapes are not logged at info, other requests are', async () => {
    logs.raw.length = 0;
    await samplesOf(open.app);
    await open.app.inject({ method: 'GET', url: '/health' });
    const lines = logs.entries().filter((e) => e.msg === 'request completed');
    expect(lines.map((e) => e.route)).toEqual(['/health']);
  });
});

describe('METRICS_ENABLED=false', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ env: { METRICS_ENABLED: 'false' } });
  });
  afterAll(() => t.close());

  it('GET /metrics is 404 like any unknown path', async () => {
    const res = await scrape(t.app);
    expectProblem(res, 404, 'NOT_FOUND');
    expect(res.body).not.toContain('http_request_duration_seconds');
  });
});
