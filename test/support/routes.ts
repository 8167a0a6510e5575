import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, HTTPMethods } from 'fastify';
import { createAccount, type TestAccount } from '../fixtures/accounts.js';
import { book, bookingOf, createEvent } from '../fixtures/bookings.js';

/**
 * Every route of the API that takes input, described once so the bad-input suite and the fuzz
 * test can generate their cases from it: how to call it validly (auth, path, body, query), and
 * what kind each input field is.
 */

/** A test app's standing data: accounts of each role and things to point the routes at. */
export interface World {
  app: FastifyInstance;
  admin: TestAccount;
  organizer: TestAccount;
  customer: TestAccount;
  /** Logs in through the login route cases only, so failed tries never lock a real fixture. */
  loginAccount: TestAccount;
  /** Its refresh token is the valid body of the refresh route cases. */
  refreshAccount: TestAccount;
  /** A customer the role route cases point at. */
  roleTarget: TestAccount;
  /** Published, paid, run by `organizer`, with a pending hold of `customer`. */
  eventId: string;
  bookingId: string;
}

export async function buildWorld(app: FastifyInstance): Promise<World> {
  const [admin, organizer, customer, loginAccount, refreshAccount, roleTarget] = await Promise.all([
    createAccount(app, { role: 'admin' }),
    createAccount(app, { role: 'organizer' }),
    createAccount(app),
    createAccount(app),
    createAccount(app),
    createAccount(app),
  ]);
  const eventId = await createEvent(app, organizer.accessToken, { totalTickets: 100_000, maxTicketsPerBooking: 10 });
  const held = await book(app, customer.accessToken, { eventId, quantity: 1 });
  if (held.statusCode !== 201) throw new Error(`buildWorld: booking answered ${held.statusCode} ${held.body}`);
  return { app, admin, organizer, customer, loginAccount, refreshAccount, roleTarget, eventId, bookingId: bookingOf(held).id };
}

/** What a field holds; decides which wrong values make sense for it. */
export type FieldKind =
  | 'email'
  | 'password'
  | 'text' // free text: names, venues, descriptions
  | 'token'
  | 'objectId'
  | 'int'
  | 'enum'
  | 'datetime'
  | 'currency';

export interface FieldSpec {
  kind: FieldKind;
  required?: boolean;
  /** null is a valid value (e.g. endsAt). */
  nullable?: boolean;
  /** A string past its limit is refused by validation; set for every string field. */
  maxLength?: number;
  /** Shortest valid string (after trimming); 0 when empty is fine. */
  minLength?: number;
}

export interface BodySpec {
  valid(world: World): Record<string, unknown>;
  fields: Record<string, FieldSpec>;
  /** `{}` is itself a valid body (e.g. confirm without a payment reference). */
  emptyIsValid?: boolean;
  /** No body at all is valid too. */
  absentIsValid?: boolean;
}

export type QueryKind = 'page' | 'limit' | 'enum' | 'date' | 'search';

export interface InputRoute {
  /** "POST /api/v1/bookings" with `:id` left in: the name of the test group. */
  name: string;
  method: HTTPMethods;
  path: string;
  /** Who calls it validly. */
  as: 'anyone' | 'customer' | 'organizer' | 'admin';
  /** Valid id for `:id`; routes that change their target get a fresh one per test. */
  target?(world: World): Promise<string> | string;
  body?: BodySpec;
  /** Query parameters with their kinds; `strict` when unknown ones are refused. */
  query?: { fields: Record<string, QueryKind>; strict: boolean };
  /** Takes an Idempotency-Key header (every POST under /bookings). */
  idempotent?: boolean;
  /** The route changes state when it runs (so a case that slips through shows in the digest). */
  writes: boolean;
}

const newEmail = () => `new-${randomBytes(6).toString('hex')}@example.test`;

async function freshEvent(world: World, status: 'draft' | 'published'): Promise<string> {
  return createEvent(world.app, world.organizer.accessToken, { status, totalTickets: 10 });
}

async function freshHold(world: World): Promise<string> {
  const res = await book(world.app, world.customer.accessToken, { eventId: world.eventId, quantity: 1 });
  if (res.statusCode !== 201) throw new Error(`freshHold: ${res.statusCode} ${res.body}`);
  return bookingOf(res).id;
}

/** A webhook of `organizer`, stored directly (registration would look its URL up in DNS). */
async function freshWebhook(world: World): Promise<string> {
  const hook = await world.app.models.Webhook.create({
    ownerId: world.organizer.user.id,
    url: 'https://93.184.216.34/hook',
    events: ['booking.created'],
    secret: `whsec_${randomBytes(32).toString('base64')}`,
    active: true,
  });
  return String(hook._id);
}

/** A one-seat venue of `organizer`, created through its route. */
async function freshVenue(world: World): Promise<string> {
  const res = await world.app.inject({
    method: 'POST',
    url: '/api/v1/venues',
    headers: { authorization: `Bearer ${world.organizer.accessToken}` },
    payload: { name: 'Probe hall', sections: [{ name: 'Stalls', rows: [{ label: 'A', seats: [{ label: '1' }] }] }] },
  });
  if (res.statusCode !== 201) throw new Error(`freshVenue: ${res.statusCode} ${res.body}`);
  return res.json<{ data: { id: string } }>().data.id;
}

const eventFields: Record<string, FieldSpec> = {
  name: { kind: 'text', required: true, maxLength: 200, minLength: 1 },
  venue: { kind: 'text', required: true, maxLength: 200, minLength: 1 },
  startsAt: { kind: 'datetime', required: true },
  totalTickets: { kind: 'int', required: true },
  price: { kind: 'int', required: true },
  currency: { kind: 'currency', required: true, maxLength: 3 },
  description: { kind: 'text', maxLength: 5000, minLength: 0 },
  category: { kind: 'text', maxLength: 50, minLength: 1 },
  endsAt: { kind: 'datetime', nullable: true },
  maxTicketsPerBooking: { kind: 'int' },
  status: { kind: 'enum', maxLength: 9 },
};

const validEvent = (world: World) => {
  const startsAt = new Date(world.app.clock.now().getTime() + 40 * 86_400_000);
  return {
    name: `Bad-input probe ${randomUUID().slice(0, 8)}`,
    venue: 'Hall 1',
    startsAt: startsAt.toISOString(),
    totalTickets: 50,
    price: 1500,
    currency: 'EUR',
    description: 'A concert',
    category: 'music',
    endsAt: new Date(startsAt.getTime() + 3 * 3600_000).toISOString(),
    maxTicketsPerBooking: 4,
    status: 'draft',
  };
};

const pageQuery = { page: 'page', limit: 'limit' } as const;

export const INPUT_ROUTES: readonly InputRoute[] = [
  {
    name: 'POST /api/v1/auth/register',
    method: 'POST',
    path: '/api/v1/auth/register',
    as: 'anyone',
    writes: true,
    body: {
      valid: () => ({ email: newEmail(), password: 'correct horse battery', name: 'New Person' }),
      fields: {
        email: { kind: 'email', required: true, maxLength: 254 },
        password: { kind: 'password', required: true, maxLength: 72, minLength: 8 },
        name: { kind: 'text', required: true, maxLength: 100, minLength: 1 },
      },
    },
  },
  {
    name: 'POST /api/v1/auth/login',
    method: 'POST',
    path: '/api/v1/auth/login',
    as: 'anyone',
    writes: true,
    body: {
      valid: (w) => ({ email: w.loginAccount.user.email, password: w.loginAccount.password }),
      fields: {
        email: { kind: 'email', required: true, maxLength: 254 },
        password: { kind: 'password', required: true, maxLength: 72, minLength: 1 },
      },
    },
  },
  {
    name: 'POST /api/v1/auth/refresh',
    method: 'POST',
    path: '/api/v1/auth/refresh',
    as: 'anyone',
    writes: true,
    body: {
      valid: (w) => ({ refreshToken: w.refreshAccount.refreshToken }),
      fields: { refreshToken: { kind: 'token', required: true, maxLength: 512 } },
    },
  },
  {
    name: 'PATCH /api/v1/users/:id/role',
    method: 'PATCH',
    path: '/api/v1/users/:id/role',
    as: 'admin',
    writes: true,
    target: (w) => w.roleTarget.user.id,
    body: { valid: () => ({ role: 'organizer' }), fields: { role: { kind: 'enum', required: true, maxLength: 9 } } },
  },
  {
    name: 'POST /api/v1/events',
    method: 'POST',
    path: '/api/v1/events',
    as: 'organizer',
    writes: true,
    body: { valid: validEvent, fields: eventFields },
  },
  {
    name: 'PATCH /api/v1/events/:id',
    method: 'PATCH',
    path: '/api/v1/events/:id',
    as: 'organizer',
    writes: true,
    target: (w) => w.eventId,
    body: {
      valid: () => ({ name: 'Renamed', totalTickets: 100_000 }),
      fields: Object.fromEntries(
        Object.entries(eventFields)
          .filter(([name]) => name !== 'status')
          .map(([name, spec]) => [name, { ...spec, required: false }]),
      ),
    },
  },
  {
    name: 'GET /api/v1/events',
    method: 'GET',
    path: '/api/v1/events',
    as: 'anyone',
    writes: false,
    query: {
      strict: true,
      fields: { ...pageQuery, sort: 'enum', from: 'date', to: 'date', availableOnly: 'enum', q: 'search', category: 'search' },
    },
  },
  {
    name: 'GET /api/v1/events/:id',
    method: 'GET',
    path: '/api/v1/events/:id',
    as: 'customer',
    writes: false,
    target: (w) => w.eventId,
  },
  {
    name: 'GET /api/v1/events/:id/availability',
    method: 'GET',
    path: '/api/v1/events/:id/availability',
    as: 'anyone',
    writes: false,
    target: (w) => w.eventId,
  },
  {
    name: 'POST /api/v1/events/:id/publish',
    method: 'POST',
    path: '/api/v1/events/:id/publish',
    as: 'organizer',
    writes: true,
    target: (w) => freshEvent(w, 'draft'),
  },
  {
    name: 'POST /api/v1/events/:id/cancel',
    method: 'POST',
    path: '/api/v1/events/:id/cancel',
    as: 'organizer',
    writes: true,
    target: (w) => freshEvent(w, 'published'),
  },
  {
    name: 'DELETE /api/v1/events/:id',
    method: 'DELETE',
    path: '/api/v1/events/:id',
    as: 'organizer',
    writes: true,
    target: (w) => freshEvent(w, 'draft'),
  },
  {
    name: 'GET /api/v1/events/:id/bookings',
    method: 'GET',
    path: '/api/v1/events/:id/bookings',
    as: 'organizer',
    writes: false,
    target: (w) => w.eventId,
    query: { strict: true, fields: { ...pageQuery, status: 'enum' } },
  },
  {
    name: 'POST /api/v1/events/:id/staff',
    method: 'POST',
    path: '/api/v1/events/:id/staff',
    as: 'organizer',
    writes: true,
    target: (w) => w.eventId,
    body: {
      valid: (w) => ({ userId: w.customer.user.id }),
      fields: { userId: { kind: 'objectId', required: true, maxLength: 24 } },
    },
  },
  {
    name: 'POST /api/v1/events/:id/ticket-types',
    method: 'POST',
    path: '/api/v1/events/:id/ticket-types',
    as: 'organizer',
    writes: true,
    target: (w) => freshEvent(w, 'published'),
    body: {
      valid: () => ({ name: `Type ${randomUUID().slice(0, 8)}`, price: 1500, capacity: 20 }),
      fields: {
        name: { kind: 'text', required: true, maxLength: 100, minLength: 1 },
        price: { kind: 'int', required: true },
        capacity: { kind: 'int', required: true },
        description: { kind: 'text', maxLength: 2000, minLength: 0 },
        maxPerBooking: { kind: 'int' },
        salesStartAt: { kind: 'datetime', nullable: true },
        salesEndAt: { kind: 'datetime', nullable: true },
        position: { kind: 'int' },
      },
    },
  },
  {
    name: 'GET /api/v1/events/:id/ticket-types',
    method: 'GET',
    path: '/api/v1/events/:id/ticket-types',
    as: 'anyone',
    writes: false,
    target: (w) => w.eventId,
  },
  {
    name: 'POST /api/v1/bookings',
    method: 'POST',
    path: '/api/v1/bookings',
    as: 'customer',
    writes: true,
    idempotent: true,
    body: {
      valid: (w) => ({ eventId: w.eventId, quantity: 1 }),
      fields: { eventId: { kind: 'objectId', required: true, maxLength: 24 }, quantity: { kind: 'int', required: true } },
    },
  },
  {
    name: 'POST /api/v1/bookings/:id/confirm',
    method: 'POST',
    path: '/api/v1/bookings/:id/confirm',
    as: 'customer',
    writes: true,
    idempotent: true,
    target: freshHold,
    body: {
      valid: () => ({ paymentReference: 'pay_123' }),
      fields: { paymentReference: { kind: 'text', maxLength: 200, minLength: 1 } },
      emptyIsValid: true,
      absentIsValid: true,
    },
  },
  {
    name: 'PATCH /api/v1/bookings/:id/cancel',
    method: 'PATCH',
    path: '/api/v1/bookings/:id/cancel',
    as: 'customer',
    writes: true,
    target: freshHold,
  },
  {
    name: 'GET /api/v1/bookings',
    method: 'GET',
    path: '/api/v1/bookings',
    as: 'customer',
    writes: false,
    query: { strict: true, fields: { ...pageQuery, status: 'enum' } },
  },
  {
    name: 'GET /api/v1/bookings/:id',
    method: 'GET',
    path: '/api/v1/bookings/:id',
    as: 'customer',
    writes: false,
    target: (w) => w.bookingId,
  },
  {
    name: 'GET /api/v1/venues',
    method: 'GET',
    path: '/api/v1/venues',
    as: 'anyone',
    writes: false,
    query: { strict: true, fields: pageQuery },
  },
  {
    name: 'GET /api/v1/venues/:id',
    method: 'GET',
    path: '/api/v1/venues/:id',
    as: 'anyone',
    writes: false,
    target: freshVenue,
  },
  {
    name: 'GET /api/v1/webhooks',
    method: 'GET',
    path: '/api/v1/webhooks',
    as: 'organizer',
    writes: false,
    query: { strict: true, fields: pageQuery },
  },
  {
    name: 'GET /api/v1/webhooks/:id/deliveries',
    method: 'GET',
    path: '/api/v1/webhooks/:id/deliveries',
    as: 'organizer',
    writes: false,
    target: freshWebhook,
    query: { strict: true, fields: { ...pageQuery, status: 'enum' } },
  },
  {
    name: 'DELETE /api/v1/webhooks/:id',
    method: 'DELETE',
    path: '/api/v1/webhooks/:id',
    as: 'organizer',
    writes: true,
    target: freshWebhook,
  },
];

export const hasIdParam = (route: InputRoute) => route.path.includes(':id');
export const withId = (route: InputRoute, id: string) => route.path.replace(':id', id);

/** The Authorization header of the route's valid caller. */
export function authFor(route: InputRoute, world: World): Record<string, string> {
  if (route.as === 'anyone') return {};
  return { authorization: `Bearer ${world[route.as].accessToken}` };
}
