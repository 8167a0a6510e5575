import { randomUUID } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { validate, compileErrors } from '@readme/openapi-parser';
import type { OpenAPIV3 } from 'openapi-types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, createEvent } from './fixtures/bookings.js';
import { createSeatedEvent } from './fixtures/seats.js';
import { buildTestApp, type TestApp } from './helper.js';

/**
 * The OpenAPI document at /docs/json against the HTTP contract (API.md: "must agree with this
 * file"): a valid OpenAPI 3 document, every contract route at its exact path, the Idempotency-Key
 * header required, problems as application/problem+json, the statuses every route can answer
 * (429, 413/415, 503) and the response headers. Then real answers of the service are held against
 * the document, so it cannot drift from what is sent.
 */

type Method = 'get' | 'post' | 'patch' | 'delete';

/** Every route of API.md's tables, in OpenAPI path syntax. */
const CONTRACT: readonly [Method, string][] = [
  ['post', '/api/v1/auth/register'],
  ['post', '/api/v1/auth/login'],
  ['post', '/api/v1/auth/refresh'],
  ['post', '/api/v1/auth/logout'],
  ['get', '/api/v1/users/me'],
  ['patch', '/api/v1/users/{id}/role'],
  ['post', '/api/v1/events'],
  ['get', '/api/v1/events'],
  ['get', '/api/v1/events/{id}'],
  ['get', '/api/v1/events/{id}/availability'],
  ['patch', '/api/v1/events/{id}'],
  ['post', '/api/v1/events/{id}/publish'],
  ['post', '/api/v1/events/{id}/cancel'],
  ['delete', '/api/v1/events/{id}'],
  ['get', '/api/v1/events/{id}/bookings'],
  ['post', '/api/v1/events/{id}/ticket-types'],
  ['get', '/api/v1/events/{id}/ticket-types'],
  ['patch', '/api/v1/events/{id}/ticket-types/{typeId}'],
  ['delete', '/api/v1/events/{id}/ticket-types/{typeId}'],
  ['post', '/api/v1/events/{id}/coupons'],
  ['get', '/api/v1/events/{id}/coupons'],
  ['patch', '/api/v1/events/{id}/coupons/{couponId}'],
  ['post', '/api/v1/events/{id}/waitlist'],
  ['get', '/api/v1/events/{id}/waitlist'],
  ['get', '/api/v1/events/{id}/waitlist/me'],
  ['delete', '/api/v1/events/{id}/waitlist/me'],
  ['post', '/api/v1/bookings'],
  ['post', '/api/v1/bookings/{id}/confirm'],
  ['patch', '/api/v1/bookings/{id}/cancel'],
  ['get', '/api/v1/bookings'],
  ['get', '/api/v1/bookings/{id}'],
  ['post', '/api/v1/webhooks'],
  ['get', '/api/v1/webhooks'],
  ['delete', '/api/v1/webhooks/{id}'],
  ['get', '/api/v1/webhooks/{id}/deliveries'],
  ['post', '/api/v1/webhooks/{id}/deliveries/{deliveryId}/retry'],
  ['post', '/api/v1/bookings/{id}/payments'],
  ['get', '/api/v1/bookings/{id}/payments'],
  ['post', '/api/v1/payments/webhooks/{provider}'],
  ['get', '/api/v1/tickets/{id}/qr'],
  ['get', '/api/v1/events/{id}/check-in-key'],
  ['post', '/api/v1/events/{id}/staff'],
  ['delete', '/api/v1/events/{id}/staff/{userId}'],
  ['post', '/api/v1/events/{id}/check-ins'],
  ['post', '/api/v1/events/{id}/check-ins/batch'],
  ['get', '/api/v1/events/{id}/check-ins/stats'],
  ['post', '/api/v1/venues'],
  ['get', '/api/v1/venues'],
  ['get', '/api/v1/venues/{id}'],
  ['get', '/api/v1/events/{id}/seats'],
];
/** Routes the project adds beyond the contract's tables (documented in docs/API.md). */
const BEYOND_CONTRACT: readonly [Method, string][] = [
  ['get', '/api/v1/tickets/{id}'],
  ['get', '/api/v1/events/{id}/staff'],
  ['patch', '/api/v1/venues/{id}'],
];
const HEALTH: readonly [Method, string][] = [
  ['get', '/health'],
  ['get', '/health/ready'],
];
/** Successes that are images, not JSON (API.md Tickets and check-in). */
const IMAGES = new Set(['get /api/v1/tickets/{id}/qr']);
const IDEMPOTENT = new Set([
  'post /api/v1/bookings',
  'post /api/v1/bookings/{id}/confirm',
  'post /api/v1/bookings/{id}/payments',
  'post /api/v1/events/{id}/waitlist',
]);
/** POSTs that honour Idempotency-Key when sent (API.md Conventions) without requiring it. */
const OPTIONALLY_IDEMPOTENT = new Set([
  'post /api/v1/events/{id}/staff',
  'post /api/v1/events/{id}/check-ins',
  'post /api/v1/events/{id}/check-ins/batch',
]);
const PROBLEM_MEMBERS = ['type', 'title', 'status', 'detail', 'code', 'requestId', 'success'];
const RATE_LIMIT_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'];

let t: TestApp;
let doc: OpenAPIV3.Document;

/** The operation at a path, failing the test when it is not documented. */
function operation(method: Method, path: string): OpenAPIV3.OperationObject {
  const op = doc.paths[path]?.[method];
  expect(op, `${method.toUpperCase()} ${path} is documented`).toBeDefined();
  return op as OpenAPIV3.OperationObject;
}

/** The document's own objects only: it inlines everything, no `$ref`s to follow. */
function response(op: OpenAPIV3.OperationObject, status: number | string): OpenAPIV3.ResponseObject {
  const res = op.responses[String(status)];
  expect(res, `status ${status}`).toBeDefined();
  expect(res && '$ref' in res).toBe(false);
  return res as OpenAPIV3.ResponseObject;
}

/** Every documented operation with its method and path. */
function allOperations(): { method: Method; path: string; op: OpenAPIV3.OperationObject }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    (['get', 'post', 'patch', 'delete', 'put'] as const)
      .filter((m) => item?.[m])
      .map((m) => ({ method: m as Method, path, op: item?.[m] as OpenAPIV3.OperationObject })),
  );
}

const headerNames = (res: OpenAPIV3.ResponseObject) => Object.keys(res.headers ?? {});

beforeAll(async () => {
  // Rate limits on (tests turn them off by default) so the real answers carry RateLimit-* as documented.
  t = await buildTestApp({ env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_MAX: '10000', RATE_LIMIT_AUTH_MAX: '1000' } });
  const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  doc = res.json<OpenAPIV3.Document>();
});
afterAll(() => t.close());

describe('the document', () => {
  it('is a valid OpenAPI 3 document', async () => {
    expect(doc.openapi).toMatch(/^3\.0\.\d+$/);
    // The validator dereferences in place; it gets its own copy.
    const result = await validate(structuredClone(doc));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
  });

  it('lists exactly the contract routes under /api/v1, at their exact paths, and the health routes', () => {
    const documented = allOperations()
      .filter(({ path }) => path.startsWith('/api/'))
      .map(({ method, path }) => `${method} ${path}`)
      .sort();
    expect(documented).toEqual([...CONTRACT, ...BEYOND_CONTRACT].map(([m, p]) => `${m} ${p}`).sort());
    for (const [method, path] of HEALTH) operation(method, path);
    for (const path of Object.keys(doc.paths)) expect(path, 'no trailing slash').not.toMatch(/.\/$/);
  });

  it('requires Idempotency-Key on every booking POST and the waitlist join, and only there', () => {
    for (const { method, path, op } of allOperations()) {
      const param = (op.parameters ?? []).find(
        (p) => !('$ref' in p) && p.in === 'header' && p.name.toLowerCase() === 'idempotency-key',
      ) as OpenAPIV3.ParameterObject | undefined;
      if (IDEMPOTENT.has(`${method} ${path}`)) {
        expect(param, `${method} ${path}`).toBeDefined();
        expect(param?.required, `${method} ${path}`).toBe(true);
      } else if (OPTIONALLY_IDEMPOTENT.has(`${method} ${path}`)) {
        expect(param, `${method} ${path}`).toBeDefined();
        expect(param?.required ?? false, `${method} ${path}`).toBe(false);
      } else {
        expect(param, `${method} ${path}`).toBeUndefined();
      }
    }
  });

  it('documents every problem as application/problem+json in the API shape, successes as JSON, 204 without a body', () => {
    for (const { method, path, op } of allOperations()) {
      for (const [status, entry] of Object.entries(op.responses)) {
        const res = entry as OpenAPIV3.ResponseObject;
        const where = `${method.toUpperCase()} ${path} ${status}`;
        const code = Number(status);
        if (code === 204) {
          expect(res.content, where).toBeUndefined();
        } else if (code >= 400) {
          expect(Object.keys(res.content ?? {}), where).toEqual(['application/problem+json']);
          const schema = res.content?.['application/problem+json']?.schema as OpenAPIV3.SchemaObject;
          expect(schema.required, where).toEqual(expect.arrayContaining(PROBLEM_MEMBERS));
        } else if (IMAGES.has(`${method} ${path}`)) {
          expect(Object.keys(res.content ?? {}), where).toEqual(['image/svg+xml', 'image/png']);
        } else {
          expect(Object.keys(res.content ?? {}), where).toEqual(['application/json']);
        }
      }
    }
    // The contract's 204s are there, without a body.
    expect(response(operation('delete', '/api/v1/events/{id}'), 204).content).toBeUndefined();
    expect(response(operation('post', '/api/v1/auth/logout'), 204).content).toBeUndefined();
  });

  it('documents 429 on every route, 413/415 where a body is read and 503 where MongoDB is needed, with their headers', () => {
    for (const { method, path, op } of allOperations()) {
      const where = `${method.toUpperCase()} ${path}`;
      const limited = response(op, 429);
      expect(headerNames(limited), where).toEqual(expect.arrayContaining(['Retry-After', ...RATE_LIMIT_HEADERS]));
      if (op.requestBody) {
        response(op, 413);
        response(op, 415);
      }
      if (path.startsWith('/api/') || path === '/health/ready') {
        expect(headerNames(response(op, 503)), where).toContain('Retry-After');
      }
    }
    // Every write route reads a body (JSON only); plain reads have none.
    expect(operation('post', '/api/v1/bookings').requestBody).toBeDefined();
    expect(operation('post', '/api/v1/events/{id}/publish').requestBody).toBeDefined();
    expect(operation('get', '/api/v1/events').requestBody).toBeUndefined();
    expect(operation('get', '/health').responses['503']).toBeUndefined();
  });

  it('documents X-Request-Id on every answer and RateLimit-* on every success', () => {
    for (const { method, path, op } of allOperations()) {
      for (const [status, entry] of Object.entries(op.responses)) {
        const names = headerNames(entry as OpenAPIV3.ResponseObject);
        const where = `${method.toUpperCase()} ${path} ${status}`;
        expect(names, where).toContain('X-Request-Id');
        if (Number(status) < 300) expect(names, where).toEqual(expect.arrayContaining(RATE_LIMIT_HEADERS));
      }
    }
  });

  it('documents Idempotent-Replayed on the booking POSTs and the waitlist join, and Retry-After on their 409', () => {
    for (const key of IDEMPOTENT) {
      const [method, path] = key.split(' ') as [Method, string];
      const op = operation(method, path);
      const success = method === 'post' && (path === '/api/v1/bookings' || path.endsWith('/payments') || path.endsWith('/waitlist')) ? 201 : 200;
      expect(headerNames(response(op, success))).toContain('Idempotent-Replayed');
      expect(headerNames(response(op, 409))).toEqual(expect.arrayContaining(['Retry-After', 'Idempotent-Replayed']));
      // Refused before the key is claimed, so never a replay.
      expect(headerNames(response(op, 400))).not.toContain('Idempotent-Replayed');
    }
    expect(headerNames(response(operation('patch', '/api/v1/bookings/{id}/cancel'), 200))).not.toContain('Idempotent-Replayed');
  });

  it('documents ETag on the event answers that send it, and Location on a created event', () => {
    expect(headerNames(response(operation('post', '/api/v1/events'), 201))).toEqual(expect.arrayContaining(['ETag', 'Location']));
    for (const [method, path] of [
      ['get', '/api/v1/events/{id}'],
      ['patch', '/api/v1/events/{id}'],
      ['post', '/api/v1/events/{id}/publish'],
      ['post', '/api/v1/events/{id}/cancel'],
    ] as const) {
      expect(headerNames(response(operation(method, path), 200)), `${method} ${path}`).toContain('ETag');
    }
    expect(headerNames(response(operation('get', '/api/v1/events'), 200))).not.toContain('ETag');
  });

  it('documents the public reads as taking an optional token that answers 401 when bad', () => {
    for (const path of ['/api/v1/events', '/api/v1/events/{id}', '/api/v1/events/{id}/availability', '/api/v1/venues', '/api/v1/venues/{id}', '/api/v1/events/{id}/seats']) {
      const op = operation('get', path);
      expect(op.security, path).toEqual([{}, { bearerAuth: [] }]);
      response(op, 401);
    }
  });

  it('marks a request body required only where the route needs one', () => {
    expect(operation('post', '/api/v1/auth/register').requestBody).toMatchObject({ required: true });
    expect(operation('post', '/api/v1/bookings').requestBody).toMatchObject({ required: true });
    for (const [method, path] of [
      ['post', '/api/v1/auth/logout'],
      ['post', '/api/v1/bookings/{id}/confirm'],
      ['delete', '/api/v1/events/{id}'],
      ['post', '/api/v1/events/{id}/publish'],
    ] as const) {
      expect(operation(method, path).requestBody, `${method} ${path}`).toMatchObject({ required: false });
    }
  });
});

describe('real answers agree with the document', () => {
  let organizer: TestAccount;
  let customer: TestAccount;

  beforeAll(async () => {
    [organizer, customer] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app)]);
  });

  /**
   * The answer's status is documented for the operation, its body has the documented media type
   * (none for 204), and every documented header that is always sent is there. Idempotent-Replayed
   * (replays only) and Retry-After on 409 (a request in progress only) are conditional.
   */
  function expectDocumented(method: Method, path: string, res: LightMyRequestResponse): void {
    const where = `${method.toUpperCase()} ${path} ${res.statusCode} ${res.body.slice(0, 200)}`;
    const documented = operation(method, path).responses[String(res.statusCode)] as OpenAPIV3.ResponseObject | undefined;
    expect(documented, where).toBeDefined();
    if (!documented) return;
    if (documented.content) {
      const mediaType = String(res.headers['content-type']).split(';')[0];
      expect(Object.keys(documented.content), where).toContain(mediaType);
    } else {
      expect(res.body, where).toBe('');
    }
    const conditional = new Set(['idempotent-replayed', ...(res.statusCode === 409 ? ['retry-after'] : [])]);
    for (const name of headerNames(documented).map((n) => n.toLowerCase())) {
      if (!conditional.has(name)) expect(res.headers[name], `${name} in ${where}`).toBeDefined();
    }
  }

  const send = (options: InjectOptions) => t.app.inject(options);

  it('for events', async () => {
    const created = await send({
      method: 'POST',
      url: '/api/v1/events',
      headers: bearer(organizer.accessToken),
      payload: { name: 'Doc check', venue: 'Hall', startsAt: new Date(t.clock.now().getTime() + 86_400_000).toISOString(), totalTickets: 5, price: 0, currency: 'EUR' },
    });
    expect(created.statusCode).toBe(201);
    expectDocumented('post', '/api/v1/events', created);
    const id = created.json<{ data: { id: string } }>().data.id;

    expectDocumented('get', '/api/v1/events/{id}', await send({ method: 'GET', url: `/api/v1/events/${id}`, headers: bearer(organizer.accessToken) }));
    expectDocumented('patch', '/api/v1/events/{id}', await send({ method: 'PATCH', url: `/api/v1/events/${id}`, headers: bearer(organizer.accessToken), payload: { name: 'Renamed' } }));
    expectDocumented('post', '/api/v1/events/{id}/publish', await send({ method: 'POST', url: `/api/v1/events/${id}/publish`, headers: bearer(organizer.accessToken) }));
    expectDocumented('get', '/api/v1/events/{id}/availability', await send({ method: 'GET', url: `/api/v1/events/${id}/availability` }));
    expectDocumented('get', '/api/v1/events', await send({ method: 'GET', url: '/api/v1/events' }));
    expectDocumented('get', '/api/v1/events', await send({ method: 'GET', url: '/api/v1/events?bogus=1' }));
    expectDocumented('get', '/api/v1/events', await send({ method: 'GET', url: '/api/v1/events', headers: bearer('not-a-token') }));
    expectDocumented('post', '/api/v1/events', await send({ method: 'POST', url: '/api/v1/events', headers: { ...bearer(organizer.accessToken), 'content-type': 'text/plain' }, payload: 'hello' }));
    expectDocumented('post', '/api/v1/events', await send({ method: 'POST', url: '/api/v1/events', headers: bearer(organizer.accessToken), payload: { pad: 'x'.repeat(70 * 1024) } }));

    const draft = await createEvent(t.app, organizer.accessToken, { status: 'draft' });
    const deleted = await send({ method: 'DELETE', url: `/api/v1/events/${draft}`, headers: bearer(organizer.accessToken) });
    expect(deleted.statusCode).toBe(204);
    expectDocumented('delete', '/api/v1/events/{id}', deleted);
  });

  it('for payments (this app has no provider: 409 and 404)', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const id = bookingOf(await book(t.app, customer.accessToken, { eventId, quantity: 1 })).id;
    const url = `/api/v1/bookings/${id}/payments`;
    const payload = { paymentMethod: 'pm_card_visa' };
    const refused = await send({ method: 'POST', url, headers: { ...bearer(customer.accessToken), 'idempotency-key': randomUUID() }, payload });
    expect(refused.statusCode).toBe(409);
    expectDocumented('post', '/api/v1/bookings/{id}/payments', refused);
    expectDocumented('post', '/api/v1/bookings/{id}/payments', await send({ method: 'POST', url, headers: bearer(customer.accessToken), payload }));
    expectDocumented('get', '/api/v1/bookings/{id}/payments', await send({ method: 'GET', url, headers: bearer(customer.accessToken) }));
    const hook = await send({ method: 'POST', url: '/api/v1/payments/webhooks/stripe', headers: { 'stripe-signature': 't=1,v1=0' }, payload: { id: 'evt_1', type: 'x', data: { object: {} } } });
    expect(hook.statusCode).toBe(404);
    expectDocumented('post', '/api/v1/payments/webhooks/{provider}', hook);
  });

  it('for bookings, replays included', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const key = randomUUID();
    const first = await book(t.app, customer.accessToken, { eventId, quantity: 1 }, key);
    expect(first.statusCode).toBe(201);
    expectDocumented('post', '/api/v1/bookings', first);
    const replay = await book(t.app, customer.accessToken, { eventId, quantity: 1 }, key);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expectDocumented('post', '/api/v1/bookings', replay);
    expectDocumented('post', '/api/v1/bookings', await send({ method: 'POST', url: '/api/v1/bookings', headers: bearer(customer.accessToken), payload: { eventId, quantity: 1 } }));

    const id = bookingOf(first).id;
    expectDocumented('get', '/api/v1/bookings', await send({ method: 'GET', url: '/api/v1/bookings', headers: bearer(customer.accessToken) }));
    expectDocumented('get', '/api/v1/bookings/{id}', await send({ method: 'GET', url: `/api/v1/bookings/${id}`, headers: bearer(customer.accessToken) }));
    expectDocumented('get', '/api/v1/bookings/{id}', await send({ method: 'GET', url: `/api/v1/bookings/${'0'.repeat(24)}`, headers: bearer(customer.accessToken) }));
    expectDocumented(
      'post',
      '/api/v1/bookings/{id}/confirm',
      await send({ method: 'POST', url: `/api/v1/bookings/${id}/confirm`, headers: { ...bearer(customer.accessToken), 'idempotency-key': randomUUID() } }),
    );
    expectDocumented('patch', '/api/v1/bookings/{id}/cancel', await send({ method: 'PATCH', url: `/api/v1/bookings/${id}/cancel`, headers: bearer(customer.accessToken) }));
  });

  it('for coupons, and the coupon errors of a booking', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const url = `/api/v1/events/${eventId}/coupons`;
    const created = await send({ method: 'POST', url, headers: bearer(organizer.accessToken), payload: { code: 'DOC', percentOff: 10, maxRedemptions: 1 } });
    expect(created.statusCode).toBe(201);
    expectDocumented('post', '/api/v1/events/{id}/coupons', created);
    expectDocumented('post', '/api/v1/events/{id}/coupons', await send({ method: 'POST', url, headers: bearer(organizer.accessToken), payload: { code: 'doc', amountOff: 5 } }));
    expectDocumented('post', '/api/v1/events/{id}/coupons', await send({ method: 'POST', url, headers: bearer(organizer.accessToken), payload: { code: 'x y', amountOff: 5 } }));
    expectDocumented('get', '/api/v1/events/{id}/coupons', await send({ method: 'GET', url, headers: bearer(organizer.accessToken) }));
    expectDocumented('get', '/api/v1/events/{id}/coupons', await send({ method: 'GET', url, headers: bearer(customer.accessToken) }));
    const id = created.json<{ data: { id: string } }>().data.id;
    expectDocumented('patch', '/api/v1/events/{id}/coupons/{couponId}', await send({ method: 'PATCH', url: `${url}/${id}`, headers: bearer(organizer.accessToken), payload: { maxPerUser: 1 } }));
    expectDocumented('patch', '/api/v1/events/{id}/coupons/{couponId}', await send({ method: 'PATCH', url: `${url}/${'0'.repeat(24)}`, headers: bearer(organizer.accessToken), payload: { active: false } }));

    expectDocumented('post', '/api/v1/bookings', await book(t.app, customer.accessToken, { eventId, quantity: 1, couponCode: 'DOC' }));
    const exhausted = await book(t.app, organizer.accessToken, { eventId, quantity: 1, couponCode: 'DOC' });
    expect(exhausted.json<{ code: string }>().code).toBe('COUPON_EXHAUSTED');
    expectDocumented('post', '/api/v1/bookings', exhausted);
    const invalid = await book(t.app, customer.accessToken, { eventId, quantity: 1, couponCode: 'NONE' });
    expect(invalid.json<{ code: string }>().code).toBe('COUPON_INVALID');
    expectDocumented('post', '/api/v1/bookings', invalid);
  });

  it('for the waitlist', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 1, price: 0 });
    const url = `/api/v1/events/${eventId}/waitlist`;
    const join = () => send({ method: 'POST', url, headers: { ...bearer(customer.accessToken), 'idempotency-key': randomUUID() }, payload: { quantity: 1 } });
    expectDocumented('post', '/api/v1/events/{id}/waitlist', await join());
    await book(t.app, organizer.accessToken, { eventId, quantity: 1 });
    const joined = await join();
    expect(joined.statusCode).toBe(201);
    expectDocumented('post', '/api/v1/events/{id}/waitlist', joined);
    expectDocumented('post', '/api/v1/events/{id}/waitlist', await join());
    expectDocumented('get', '/api/v1/events/{id}/waitlist/me', await send({ method: 'GET', url: `${url}/me`, headers: bearer(customer.accessToken) }));
    expectDocumented('get', '/api/v1/events/{id}/waitlist', await send({ method: 'GET', url, headers: bearer(organizer.accessToken) }));
    expectDocumented('get', '/api/v1/events/{id}/waitlist', await send({ method: 'GET', url, headers: bearer(customer.accessToken) }));
    expectDocumented('delete', '/api/v1/events/{id}/waitlist/me', await send({ method: 'DELETE', url: `${url}/me`, headers: bearer(customer.accessToken) }));
    expectDocumented('delete', '/api/v1/events/{id}/waitlist/me', await send({ method: 'DELETE', url: `${url}/me`, headers: bearer(customer.accessToken) }));
  });

  it('for venues, a plan in use included', async () => {
    const sections = [{ id: 'stalls', name: 'Stalls', rows: [{ label: 'A', seats: [{ label: '1' }, { label: '2' }] }] }];
    const created = await send({ method: 'POST', url: '/api/v1/venues', headers: bearer(organizer.accessToken), payload: { name: 'Doc hall', sections } });
    expect(created.statusCode).toBe(201);
    expectDocumented('post', '/api/v1/venues', created);
    const id = created.json<{ data: { id: string } }>().data.id;
    expectDocumented('post', '/api/v1/venues', await send({ method: 'POST', url: '/api/v1/venues', headers: bearer(customer.accessToken), payload: { name: 'X', sections } }));
    expectDocumented('post', '/api/v1/venues', await send({ method: 'POST', url: '/api/v1/venues', headers: bearer(organizer.accessToken), payload: { name: 'X', sections: [] } }));
    expectDocumented('get', '/api/v1/venues', await send({ method: 'GET', url: '/api/v1/venues' }));
    expectDocumented('get', '/api/v1/venues/{id}', await send({ method: 'GET', url: `/api/v1/venues/${id}` }));
    expectDocumented('get', '/api/v1/venues/{id}', await send({ method: 'GET', url: `/api/v1/venues/${'0'.repeat(24)}` }));

    // Seated at a published event: the plan may now only grow.
    await createSeatedEvent(t.app, organizer.accessToken, id);
    const url = `/api/v1/venues/${id}`;
    const grown = [{ ...sections[0]!, rows: [{ label: 'A', seats: [{ id: 'stalls-A-1', label: '1' }, { id: 'stalls-A-2', label: '2' }, { label: '3' }] }] }];
    const patched = await send({ method: 'PATCH', url, headers: bearer(organizer.accessToken), payload: { sections: grown } });
    expect(patched.statusCode).toBe(200);
    expectDocumented('patch', '/api/v1/venues/{id}', patched);
    const inUse = await send({ method: 'PATCH', url, headers: bearer(organizer.accessToken), payload: { sections } });
    expect(inUse.json<{ code: string; seats: string[] }>()).toMatchObject({ code: 'SEATS_IN_USE', seats: ['stalls-A-3'] });
    expectDocumented('patch', '/api/v1/venues/{id}', inUse);
  });

  it('for webhooks', async () => {
    // A literal public address: registration needs no DNS, and nothing is delivered in this test.
    const created = await send({ method: 'POST', url: '/api/v1/webhooks', headers: bearer(organizer.accessToken), payload: { url: 'https://93.184.216.34/hook', events: ['booking.created'] } });
    expect(created.statusCode).toBe(201);
    expectDocumented('post', '/api/v1/webhooks', created);
    const id = created.json<{ data: { id: string } }>().data.id;
    expectDocumented('post', '/api/v1/webhooks', await send({ method: 'POST', url: '/api/v1/webhooks', headers: bearer(organizer.accessToken), payload: { url: 'http://127.0.0.1/x', events: ['booking.created'] } }));
    expectDocumented('get', '/api/v1/webhooks', await send({ method: 'GET', url: '/api/v1/webhooks', headers: bearer(organizer.accessToken) }));
    expectDocumented('get', '/api/v1/webhooks/{id}/deliveries', await send({ method: 'GET', url: `/api/v1/webhooks/${id}/deliveries`, headers: bearer(organizer.accessToken) }));
    expectDocumented(
      'post',
      '/api/v1/webhooks/{id}/deliveries/{deliveryId}/retry',
      await send({ method: 'POST', url: `/api/v1/webhooks/${id}/deliveries/${'0'.repeat(24)}/retry`, headers: bearer(organizer.accessToken) }),
    );
    expectDocumented('get', '/api/v1/webhooks', await send({ method: 'GET', url: '/api/v1/webhooks', headers: bearer(customer.accessToken) }));
    const deleted = await send({ method: 'DELETE', url: `/api/v1/webhooks/${id}`, headers: bearer(organizer.accessToken) });
    expect(deleted.statusCode).toBe(204);
    expectDocumented('delete', '/api/v1/webhooks/{id}', deleted);
  });

  it('for accounts and health', async () => {
    expectDocumented('get', '/api/v1/users/me', await send({ method: 'GET', url: '/api/v1/users/me', headers: bearer(customer.accessToken) }));
    expectDocumented('get', '/api/v1/users/me', await send({ method: 'GET', url: '/api/v1/users/me' }));
    const other = await createAccount(t.app);
    const logout = await send({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(other.accessToken) });
    expect(logout.statusCode).toBe(204);
    expectDocumented('post', '/api/v1/auth/logout', logout);
    expectDocumented('get', '/health', await send({ method: 'GET', url: '/health' }));
    expectDocumented('get', '/health/ready', await send({ method: 'GET', url: '/health/ready' }));
  });

  it('for a rate-limited request', async () => {
    const limited = await buildTestApp({ env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_AUTH_MAX: '1' } });
    try {
      const login = () => limited.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'a@example.test', password: 'whatever1' } });
      await login();
      const res = await login();
      expect(res.statusCode).toBe(429);
      expectDocumented('post', '/api/v1/auth/login', res);
    } finally {
      await limited.close();
    }
  });
});
