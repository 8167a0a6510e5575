import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from './fixtures/accounts.js';
import { buildTestApp, type TestApp } from './helper.js';
import { badInputCases } from './support/cases.js';
import { captureLogs } from './support/logs.js';
import { expectProblem } from './support/problem.js';
import { buildWorld, INPUT_ROUTES, type World } from './support/routes.js';
import { storeState } from './support/state.js';

/**
 * Every route that takes input, against every kind of wrong input (generated from the route table
 * in support/routes.ts and the value table in support/cases.ts): each answer is a 4xx
 * problem+json, never a 5xx, and the database holds exactly what it held before.
 */

let t: TestApp;
let world: World;
const logs = captureLogs();

beforeAll(async () => {
  t = await buildTestApp({ logStream: logs.stream, env: { LOG_LEVEL: 'warn' } });
  world = await buildWorld(t.app);
});
afterAll(() => t.close());

const cases = badInputCases(INPUT_ROUTES);

describe.each(INPUT_ROUTES.map((route) => ({ route, name: route.name })))('$name', ({ route }) => {
  const own = cases.filter((c) => c.route === route);

  it('has cases', () => {
    expect(own.length).toBeGreaterThan(0);
  });

  it.each(own.map((c) => ({ c, label: c.label })))('$label', async ({ c }) => {
    const id = route.target ? await route.target(world) : '';
    const before = await storeState(t.app);

    const res = await t.app.inject(c.request(world, id));

    if (res.statusCode < 400 && c.expected.status.includes(res.statusCode)) {
      // Only cases that may be ignored (unknown query parameters on a lenient list) get here.
      expect(res.statusCode).toBe(200);
    } else {
      expectProblem(res, c.expected.status, c.expected.code);
    }
    const after = await storeState(t.app);
    expect(after.counts).toEqual(before.counts);
    expect(after.digest, 'stored documents changed').toBe(before.digest);
  });
});

describe('free text with odd Unicode', () => {
  // Code points a string field cannot hold faithfully (a lone surrogate is not Unicode, and BSON
  // would store U+FFFD instead) or should never hold (NUL): refused.
  const refused: [string, string][] = [
    ['a lone surrogate', 'Jo\ud800hn'],
    ['a NUL', 'Jo\u0000hn'],
  ];
  // Visible-text tricks: either refused, or stored and given back exactly as sent.
  const exactOrRefused: [string, string][] = [
    ['an RTL override', 'Jo\u202ehn'],
    ['a zero-width space', 'Jo\u200bhn'],
  ];

  const fields = [
    { where: 'register name', send: (value: string) => registerWith(value), read: readUserName },
    { where: 'event name', send: (value: string) => eventWith({ name: value }), read: readEvent('name') },
    { where: 'event venue', send: (value: string) => eventWith({ venue: value }), read: readEvent('venue') },
    { where: 'event description', send: (value: string) => eventWith({ description: value }), read: readEvent('description') },
  ];

  describe.each(fields)('$where', ({ send, read }) => {
    it.each(refused.map(([label, value]) => ({ label, value })))('refuses $label', async ({ value }) => {
      const before = await storeState(t.app);
      expectProblem(await send(value), 400, 'VALIDATION_FAILED');
      const after = await storeState(t.app);
      expect(after.digest).toBe(before.digest);
    });

    it.each(exactOrRefused.map(([label, value]) => ({ label, value })))('refuses $label or keeps it exactly', async ({ value }) => {
      const before = await storeState(t.app);
      const res = await send(value);
      if (res.statusCode === 201) {
        expect(await read(res.json())).toBe(value);
      } else {
        expectProblem(res, 400, 'VALIDATION_FAILED');
        expect((await storeState(t.app)).digest).toBe(before.digest);
      }
    });
  });
});

function registerWith(name: string) {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: { email: `u-${randomUUID()}@example.test`, password: 'long enough password', name },
  });
}

async function readUserName(body: { data: { accessToken: string } }): Promise<string> {
  const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(body.data.accessToken) });
  return me.json<{ data: { name: string } }>().data.name;
}

function eventWith(fields: Record<string, string>) {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/events',
    headers: bearer(world.organizer.accessToken),
    payload: {
      name: 'Unicode check',
      venue: 'Hall',
      startsAt: new Date(t.clock.now().getTime() + 86_400_000 * 20).toISOString(),
      totalTickets: 5,
      price: 100,
      currency: 'EUR',
      ...fields,
    },
  });
}

function readEvent(field: 'name' | 'venue' | 'description') {
  return async (body: { data: { id: string } }): Promise<string> => {
    // Read back from the database, not the answer: the point is what was stored.
    const stored = await t.app.models.Event.findById(body.data.id).lean();
    return String(stored?.[field]);
  };
}

describe('the whole run', () => {
  // Runs last: a 5xx anywhere above (a fixture call included) is logged at error level.
  it('logged no server error', () => {
    const errors = logs.errors().map((e) => JSON.stringify(e).slice(0, 2000));
    expect(errors).toEqual([]);
  });
});
