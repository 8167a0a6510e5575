// Who may call a route is decided before what they sent is looked at: an anonymous caller gets 401
// and a caller of the wrong role 403, whatever the body, id or query (API.md Conventions), and
// neither learns the route's input schema from a 400's `errors`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helper.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { createEvent } from './fixtures/bookings.js';

let t: TestApp;
let customer: TestAccount;
let eventId: string;

beforeAll(async () => {
  t = await buildTestApp();
  customer = await createAccount(t.app);
  const organizer = await createAccount(t.app, { role: 'organizer' });
  eventId = await createEvent(t.app, organizer.accessToken);
});
afterAll(() => t.close());

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
interface Case {
  what: string;
  method: Method;
  url: string;
  payload?: string;
}

// Each request is invalid as input too: with valid input these answers are already tested elsewhere.
const cases = (): Case[] => [
  { what: 'create an event with an empty body', method: 'POST', url: '/api/v1/events', payload: '{}' },
  { what: 'create an event with broken JSON', method: 'POST', url: '/api/v1/events', payload: '{"name":' },
  { what: 'change an event with an unknown field', method: 'PATCH', url: `/api/v1/events/${eventId}`, payload: '{"nope":1}' },
  { what: 'change an event with a malformed id', method: 'PATCH', url: '/api/v1/events/not-an-id', payload: '{}' },
  { what: "list an event's bookings with a bad status", method: 'GET', url: `/api/v1/events/${eventId}/bookings?status=lost` },
  { what: 'publish an event with a malformed id', method: 'POST', url: '/api/v1/events/not-an-id/publish' },
  { what: 'change a role with an empty body and a malformed id', method: 'PATCH', url: '/api/v1/users/not-an-id/role', payload: '{}' },
];
const bearerOnly = (): Case[] => [
  { what: 'buy with an empty body and no key', method: 'POST', url: '/api/v1/bookings', payload: '{}' },
  { what: 'read a booking with a malformed id', method: 'GET', url: '/api/v1/bookings/not-an-id' },
  { what: 'list bookings with limit=0', method: 'GET', url: '/api/v1/bookings?limit=0' },
  { what: 'confirm a booking with a malformed id', method: 'POST', url: '/api/v1/bookings/not-an-id/confirm', payload: '[]' },
  { what: 'cancel a booking with a malformed id', method: 'PATCH', url: '/api/v1/bookings/not-an-id/cancel' },
];

function send(c: Case, headers: Record<string, string> = {}) {
  const withBody = c.payload === undefined ? {} : { payload: c.payload, headers: { 'content-type': 'application/json', ...headers } };
  return t.app.inject({ method: c.method, url: c.url, headers, ...withBody });
}

describe('authentication comes before input validation', () => {
  it.each([...cases(), ...bearerOnly()].map((c) => [c.what, c] as const))('anonymous: %s is 401', async (_what, c) => {
    const res = await send(c);
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    expect(res.json()).not.toHaveProperty('errors');
  });

  it.each(cases().map((c) => [c.what, c] as const))('customer (wrong role): %s is 403', async (_what, c) => {
    const res = await send(c, bearer(customer.accessToken));
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(res.json()).not.toHaveProperty('errors');
  });

  it('an allowed caller with the same bad input gets the 400 with its errors', async () => {
    const organizer = await createAccount(t.app, { role: 'organizer' });
    const res = await send(cases()[0] as Case, bearer(organizer.accessToken));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(res.json<{ errors: unknown[] }>().errors.length).toBeGreaterThan(0);
  });
});
