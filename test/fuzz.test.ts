import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { book, bookingOf, createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';
import { captureLogs } from './support/logs.js';
import { expectProblem } from './support/problem.js';
import { authFor, buildWorld, INPUT_ROUTES, type InputRoute, withId, type World } from './support/routes.js';
import { storeState } from './support/state.js';

/**
 * Generated JSON against every write route: whatever arrives, the answer is never a 5xx, a refusal
 * is a problem+json without internals, and a refused request leaves the database as it was.
 * A failure prints fast-check's seed and the (shrunk) body; FUZZ_SEED replays a run.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

let t: TestApp;
let world: World;
/** PATCH /events/:id points here, so a body that happens to be valid changes no other test's event. */
let patchedEventId: string;
/** The hold confirm runs point at; replaced once a run confirms it. */
let holdId: string;
const logs = captureLogs();

beforeAll(async () => {
  t = await buildTestApp({ logStream: logs.stream, env: { LOG_LEVEL: 'warn' } });
  world = await buildWorld(t.app);
  patchedEventId = await createEvent(t.app, world.organizer.accessToken, { status: 'draft' });
  holdId = await newHold();
});
afterAll(() => t.close());

async function newHold(): Promise<string> {
  const res = await book(t.app, world.customer.accessToken, { eventId: world.eventId, quantity: 1 });
  if (res.statusCode !== 201) throw new Error(`hold: ${res.statusCode} ${res.body}`);
  return bookingOf(res).id;
}

// Keys that mean something to MongoDB, to JavaScript objects, or to the schemas, next to noise.
const weirdKey = fc.oneof(
  fc.constantFrom(
    '$gt', '$ne', '$where', '$regex', '$expr', '$set', '$inc', '__proto__', 'constructor', 'prototype', 'toString',
    'hasOwnProperty', '.', '$', 'a.b', '', ' ', '\u0000', '\ud800', '\u202e', '\u200b', 'email', 'password', 'role',
    'eventId', 'quantity', 'totalTickets', 'price', 'status', 'organizerId', 'refreshToken', 'paymentReference',
  ),
  fc.string({ maxLength: 12 }),
);
const weirdString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('\ud800', '\udfff', '\u0000', '\u202egnp.exe', '\u200b', '$where', '{"$gt":""}', 'a'.repeat(300)),
);
const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  weirdString,
  fc.constantFrom(-1, 0, 1.5, 1e308, -1e308, 2 ** 53, Number.MIN_VALUE),
  fc.dictionary(weirdKey, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);
const weirdObject = fc.dictionary(weirdKey, weirdValue, { maxKeys: 6 });

/** A body for the route: any JSON, an object of weird keys, or its valid body with one thing spoiled. */
function bodyFor(route: InputRoute): fc.Arbitrary<unknown> {
  const valid = () => route.body?.valid(world) ?? {};
  const fields = Object.keys(route.body?.fields ?? {});
  const spoiled = fields.length
    ? fc.tuple(fc.constantFrom(...fields), weirdValue).map(([field, value]) => ({ ...valid(), [field]: value }))
    : weirdObject;
  const extra = fc.tuple(weirdKey, weirdValue).map(([key, value]) => {
    const body: Record<string, unknown> = { ...valid() };
    Object.defineProperty(body, key, { value, enumerable: true, configurable: true, writable: true });
    return body;
  });
  return fc.oneof(fc.jsonValue({ maxDepth: 4 }), weirdObject, spoiled, extra);
}

async function targetOf(route: InputRoute): Promise<string> {
  if (route.path === '/api/v1/events/:id') return patchedEventId;
  if (route.path === '/api/v1/bookings/:id/confirm') return holdId;
  return route.target ? await route.target(world) : '';
}

/**
 * Refusals that legitimately change something: a wrong password on a real account counts towards
 * its lockout (API.md Accounts).
 */
function mayChangeOnRefusal(route: InputRoute, res: LightMyRequestResponse): boolean {
  return route.path === '/api/v1/auth/login' && [401, 429].includes(res.statusCode);
}

const writeRoutes = INPUT_ROUTES.filter((r) => r.method !== 'GET' && r.body);

describe('fuzzed JSON bodies', () => {
  it.each(writeRoutes.map((route) => ({ route, name: route.name })))('$name: no 5xx, no change on refusal', async ({ route }) => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(bodyFor(route).map((b) => JSON.stringify(b) ?? 'null'), fc.string({ maxLength: 30 })), async (payload) => {
        const id = await targetOf(route);
        const before = await storeState(t.app);
        const res = await t.app.inject({
          method: route.method,
          url: withId(route, id),
          headers: {
            ...authFor(route, world),
            ...(route.idempotent ? { 'idempotency-key': randomUUID() } : {}),
            'content-type': 'application/json',
          },
          payload,
        });
        expect(res.statusCode, `${res.statusCode} ${res.body.slice(0, 300)}`).toBeLessThan(500);
        if (res.statusCode >= 400) {
          expectProblem(res, res.statusCode);
          if (!mayChangeOnRefusal(route, res)) {
            expect((await storeState(t.app)).digest, `refused with ${res.statusCode} yet the store changed`).toBe(before.digest);
          }
        } else if (route.path === '/api/v1/bookings/:id/confirm') {
          holdId = await newHold();
        }
      }),
      { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: 20_000 },
    );
  });
});

describe('fuzzed query strings', () => {
  const queryValue = fc.oneof(weirdString, fc.array(fc.string({ maxLength: 5 }), { minLength: 2, maxLength: 3 }));
  const queryRoutes = INPUT_ROUTES.filter((r) => r.query);

  it.each(queryRoutes.map((route) => ({ route, name: route.name })))('$name: no 5xx', async ({ route }) => {
    const known = Object.keys(route.query?.fields ?? {});
    const key = fc.oneof(fc.constantFrom(...known), weirdKey);
    await fc.assert(
      fc.asyncProperty(fc.dictionary(key, queryValue, { maxKeys: 4 }), async (query) => {
        const id = route.target ? await route.target(world) : '';
        const res = await t.app.inject({ method: 'GET', url: withId(route, id), headers: authFor(route, world), query });
        expect(res.statusCode, `${res.statusCode} ${res.body.slice(0, 300)}`).toBeLessThan(500);
        if (res.statusCode >= 400) expectProblem(res, res.statusCode);
      }),
      { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: 10_000 },
    );
  });
});

describe('the whole run', () => {
  it('logged no server error', () => {
    expect(logs.errors().map((e) => JSON.stringify(e).slice(0, 2000))).toEqual([]);
  });
});
