import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';
import { decodeJwt, signJwt } from './support/jwt.js';
import { expectProblem } from './support/problem.js';
import { authFor, buildWorld, INPUT_ROUTES, type InputRoute, withId, type World } from './support/routes.js';
import { storeState } from './support/state.js';

/**
 * API.md Conventions, applied alike on every route: malformed ids of any sane length are 400 (not
 * the router's 414), a trailing slash changes nothing, unknown query parameters are refused like
 * unknown body fields, and the public event list treats a bad token as the other public reads do.
 */

let t: TestApp;
let world: World;

beforeAll(async () => {
  t = await buildTestApp();
  world = await buildWorld(t.app);
});
afterAll(() => t.close());

const list = <T>(res: { json: <U>() => U }) => res.json<{ data: T[] }>().data;

describe('path ids', () => {
  const ROUTES: { name: string; request: (id: string) => InjectOptions }[] = [
    { name: 'GET /events/:id', request: (id) => ({ method: 'GET', url: `/api/v1/events/${id}` }) },
    { name: 'GET /events/:id/availability', request: (id) => ({ method: 'GET', url: `/api/v1/events/${id}/availability` }) },
    { name: 'GET /events/:id/seats', request: (id) => ({ method: 'GET', url: `/api/v1/events/${id}/seats` }) },
    {
      name: 'PATCH /events/:id',
      request: (id) => ({ method: 'PATCH', url: `/api/v1/events/${id}`, headers: bearer(world.organizer.accessToken), payload: { name: 'x' } }),
    },
    { name: 'GET /bookings/:id', request: (id) => ({ method: 'GET', url: `/api/v1/bookings/${id}`, headers: bearer(world.customer.accessToken) }) },
    {
      name: 'POST /bookings/:id/confirm',
      request: (id) => ({
        method: 'POST',
        url: `/api/v1/bookings/${id}/confirm`,
        headers: { ...bearer(world.customer.accessToken), 'idempotency-key': randomUUID() },
      }),
    },
    { name: 'GET /venues/:id', request: (id) => ({ method: 'GET', url: `/api/v1/venues/${id}` }) },
    {
      name: 'PATCH /venues/:id',
      request: (id) => ({ method: 'PATCH', url: `/api/v1/venues/${id}`, headers: bearer(world.organizer.accessToken), payload: { name: 'x' } }),
    },
    {
      name: 'PATCH /users/:id/role',
      request: (id) => ({ method: 'PATCH', url: `/api/v1/users/${id}/role`, headers: bearer(world.admin.accessToken), payload: { role: 'organizer' } }),
    },
  ];

  it.each(ROUTES)('$name: a malformed id of 25 to 8192 characters is 400 naming params.id', async ({ request }) => {
    for (const length of [25, 101, 150, 1000, 5000, 8192]) {
      const problem = expectProblem(await t.app.inject(request('z'.repeat(length))), 400, 'VALIDATION_FAILED');
      expect(problem.errors?.map((e) => e.path), `length ${length}`).toEqual(['params.id']);
    }
  });

  it.each(ROUTES)('$name: only a parameter past 8 KiB is 414 URI Too Long', async ({ request }) => {
    expectProblem(await t.app.inject(request('z'.repeat(8 * 1024 + 1))), 414);
  });
});

describe('trailing slashes', () => {
  it('GET /api/v1/events/ lists, exactly as /api/v1/events', async () => {
    const plain = await t.app.inject({ method: 'GET', url: '/api/v1/events' });
    const slash = await t.app.inject({ method: 'GET', url: '/api/v1/events/' });
    expect(slash.statusCode).toBe(200);
    expect(list<{ id: string }>(slash).map((e) => e.id)).toContain(world.eventId);
    expect(slash.body).toBe(plain.body);
  });

  it('work on bookings and on routes with an id', async () => {
    const headers = bearer(world.customer.accessToken);
    const plain = await t.app.inject({ method: 'GET', url: '/api/v1/bookings', headers });
    const slash = await t.app.inject({ method: 'GET', url: '/api/v1/bookings/', headers });
    expect(slash.statusCode).toBe(200);
    expect(slash.body).toBe(plain.body);

    const event = await t.app.inject({ method: 'GET', url: `/api/v1/events/${world.eventId}/` });
    expect(event.statusCode).toBe(200);
    expect(event.json<{ data: { id: string } }>().data.id).toBe(world.eventId);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/users/me/', headers })).statusCode).toBe(200);
  });

  it('POST /api/v1/events/ creates an event', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/events/',
      headers: bearer(world.organizer.accessToken),
      payload: { name: 'Slash', venue: 'Hall', startsAt: new Date(t.clock.now().getTime() + 86_400_000).toISOString(), totalTickets: 3, price: 100, currency: 'EUR' },
    });
    expect(res.statusCode, res.body).toBe(201);
  });
});

describe('unknown query parameters', () => {
  /** Routes without input of their own, next to the route table of the bad-input suite. */
  const NO_INPUT: InputRoute[] = [
    { name: 'POST /api/v1/auth/logout', method: 'POST', path: '/api/v1/auth/logout', as: 'customer', writes: true },
    { name: 'GET /api/v1/users/me', method: 'GET', path: '/api/v1/users/me', as: 'customer', writes: false },
  ];
  const ROUTES = [...INPUT_ROUTES, ...NO_INPUT];

  /** A valid request of the route (valid caller, id and body) with the given query. */
  async function valid(route: InputRoute, query: Record<string, string>): Promise<InjectOptions> {
    const id = route.target ? await route.target(world) : '';
    return {
      method: route.method,
      url: withId(route, id),
      query,
      headers: { ...authFor(route, world), ...(route.idempotent ? { 'idempotency-key': randomUUID() } : {}) },
      ...(route.body ? { payload: route.body.valid(world) } : {}),
    };
  }

  it.each(ROUTES.map((route) => ({ route, name: route.name })))('$name: 400 VALIDATION_FAILED naming it, nothing changed', async ({ route }) => {
    const request = await valid(route, { unknownParam: '1' });
    const before = await storeState(t.app);
    const problem = expectProblem(await t.app.inject(request), 400, 'VALIDATION_FAILED');
    expect(problem.errors).toEqual([{ path: 'querystring.unknownParam', message: expect.any(String) }]);
    expect((await storeState(t.app)).digest).toBe(before.digest);
  });

  it('names every unknown parameter, not just the first', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/events?limit=5&colour=red&sortBy=name' });
    const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(problem.errors?.map((e) => e.path).sort()).toEqual(['querystring.colour', 'querystring.sortBy']);
  });

  it('still takes the known ones', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/events?limit=1&sort=name&page=1' })).statusCode).toBe(200);
    const bookings = await t.app.inject({
      method: 'GET',
      url: `/api/v1/events/${world.eventId}/bookings?status=pending&limit=5`,
      headers: bearer(world.organizer.accessToken),
    });
    expect(bookings.statusCode).toBe(200);
  });

  it('a booking refused for one has not used its Idempotency-Key', async () => {
    const key = randomUUID();
    const refused = await t.app.inject({
      method: 'POST',
      url: '/api/v1/bookings?foo=bar',
      headers: { ...bearer(world.customer.accessToken), 'idempotency-key': key },
      payload: { eventId: world.eventId, quantity: 1 },
    });
    expectProblem(refused, 400, 'VALIDATION_FAILED');
    const fixed = await book(t.app, world.customer.accessToken, { eventId: world.eventId, quantity: 1 }, key);
    expect(fixed.statusCode).toBe(201);
    expect(fixed.headers['idempotent-replayed']).toBeUndefined();
    expect(bookingOf(fixed).quantity).toBe(1);
  });
});

describe('GET /api/v1/events with an Authorization header', () => {
  let draftId: string;
  let anonymous: string;

  beforeAll(async () => {
    draftId = await createEvent(t.app, world.organizer.accessToken, { status: 'draft' });
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/events?limit=100' });
    expect(res.statusCode).toBe(200);
    anonymous = res.body;
  });

  const listWith = (authorization: string) =>
    t.app.inject({ method: 'GET', url: '/api/v1/events?limit=100', headers: { authorization } });

  it('answers 401 for a malformed, forged or expired token, as GET /events/:id does', async () => {
    const { payload } = decodeJwt(world.customer.accessToken);
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const expired = signJwt({ ...payload, iat: now - 3600, exp: now - 1 }, t.config.JWT_SECRET);
    const forged = signJwt(payload, 'not-the-secret-not-the-secret-not-the-secret');
    for (const authorization of ['Bearer not-a-token', 'Basic dXNlcjpwdw==', `Bearer ${forged}`, `Bearer ${expired}`]) {
      expectProblem(await listWith(authorization), 401, 'UNAUTHENTICATED');
      // The same header on the single-event read: the same answer.
      const one = await t.app.inject({ method: 'GET', url: `/api/v1/events/${world.eventId}`, headers: { authorization } });
      expectProblem(one, 401, 'UNAUTHENTICATED');
    }
  });

  it('answers a valid token of any role with the same published events as anonymous callers', async () => {
    const accounts: TestAccount[] = [world.customer, world.organizer, world.admin];
    for (const account of accounts) {
      const res = await listWith(`Bearer ${account.accessToken}`);
      expect(res.statusCode, account.user.role).toBe(200);
      expect(res.body, account.user.role).toBe(anonymous);
      expect(list<{ id: string }>(res).map((e) => e.id)).not.toContain(draftId);
    }
  });

  it('answers 401 for the token of a session that has ended', async () => {
    const leaving = await createAccount(t.app);
    const out = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(leaving.accessToken) });
    expect(out.statusCode).toBe(204);
    expectProblem(await listWith(`Bearer ${leaving.accessToken}`), 401, 'UNAUTHENTICATED');
  });
});
