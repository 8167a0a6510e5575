import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventDto } from '../src/events/schemas.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { buildTestApp, type TestApp } from './helper.js';
import { rebuildLedger } from '../src/bookings/ledger-audit.js';

let t: TestApp;
let owner: TestAccount;
let rival: TestAccount;
let customer: TestAccount;
let admin: TestAccount;

const HOUR = 3_600_000;
const at = (hours: number) => new Date(t.clock.now().getTime() + hours * HOUR).toISOString();

function eventBody(overrides: Record<string, unknown> = {}) {
  return { name: 'Jazz night', venue: 'Blue Hall', startsAt: at(48), totalTickets: 10, price: 2500, currency: 'EUR', ...overrides };
}

async function create(by: TestAccount, overrides: Record<string, unknown> = {}): Promise<EventDto> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/events', headers: bearer(by.accessToken), payload: eventBody(overrides) });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().data;
}

// Written straight into the database, as a sale would leave it: the booking and the event's ledger.
async function book(eventId: string, status: 'pending' | 'confirmed' | 'cancelled', quantity: number, holdMs = 10 * 60_000) {
  const booking = await t.app.models.Booking.create({
    eventId,
    userId: customer.user.id,
    quantity,
    status,
    unitPrice: 2500,
    totalPrice: 2500 * quantity,
    currency: 'EUR',
    expiresAt: status === 'pending' ? new Date(t.clock.now().getTime() + holdMs) : null,
  });
  await rebuildLedger(t.app.models, eventId, t.clock.now());
  return booking;
}

const get = (url: string, who?: TestAccount) =>
  t.app.inject({ method: 'GET', url, headers: who ? bearer(who.accessToken) : {} });

beforeAll(async () => {
  t = await buildTestApp();
  [owner, rival, customer, admin] = await Promise.all([
    createAccount(t.app, { role: 'organizer', name: 'Olga Organizer' }),
    createAccount(t.app, { role: 'organizer' }),
    createAccount(t.app),
    createAccount(t.app, { role: 'admin' }),
  ]);
});
afterAll(() => t.close());

describe('POST /events', () => {
  it('creates a draft owned by the caller, in exactly the documented shape', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      headers: bearer(owner.accessToken),
      payload: eventBody({ startsAt: '2031-03-01T20:00:00+01:00' }),
    });
    expect(res.statusCode).toBe(201);
    const event = res.json().data as EventDto;
    expect(Object.keys(event).sort()).toEqual(
      [
        'id', 'name', 'description', 'venue', 'venueId', 'category', 'startsAt', 'endsAt', 'totalTickets', 'price', 'currency',
        'maxTicketsPerBooking', 'status', 'organizerId', 'availableTickets', 'ticketTypes', 'createdAt', 'updatedAt',
      ].sort(),
    );
    expect(event).toMatchObject({
      name: 'Jazz night',
      description: '',
      category: 'general',
      startsAt: '2031-03-01T19:00:00.000Z',
      endsAt: null,
      totalTickets: 10,
      availableTickets: 10,
      maxTicketsPerBooking: 10,
      status: 'draft',
      organizerId: owner.user.id,
    });
    expect(event.id).toMatch(/^[a-f0-9]{24}$/);
    expect(event.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(res.headers.etag).toBe(`"${event.id}-0"`);
    expect(res.headers.location).toBe(`/api/v1/events/${event.id}`);
  });

  it('lets admins create and publishes at once when asked', async () => {
    const event = await create(admin, { status: 'published', category: 'Music', maxTicketsPerBooking: 4, endsAt: at(50) });
    expect(event).toMatchObject({ status: 'published', category: 'music', maxTicketsPerBooking: 4, organizerId: admin.user.id });
  });

  it('is for organizers and admins only', async () => {
    const anon = await t.app.inject({ method: 'POST', url: '/api/v1/events', payload: eventBody() });
    expect(anon.statusCode).toBe(401);
    expect(anon.json().code).toBe('UNAUTHENTICATED');
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/events', headers: bearer(customer.accessToken), payload: eventBody() });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('FORBIDDEN');
  });

  it.each([
    ['unknown field', { colour: 'red' }, 'colour'],
    ['fractional price', { price: 12.5 }, 'price'],
    ['negative price', { price: -1 }, 'price'],
    ['price as string', { price: '2500' }, 'price'],
    ['no tickets', { totalTickets: 0 }, 'totalTickets'],
    ['lower-case currency', { currency: 'eur' }, 'currency'],
    ['4-letter currency', { currency: 'EURO' }, 'currency'],
    ['maxTicketsPerBooking 0', { maxTicketsPerBooking: 0 }, 'maxTicketsPerBooking'],
    ['maxTicketsPerBooking 101', { maxTicketsPerBooking: 101 }, 'maxTicketsPerBooking'],
    ['startsAt not ISO', { startsAt: 'next friday' }, 'startsAt'],
    ['startsAt impossible date', { startsAt: '2031-02-30T10:00:00Z' }, 'startsAt'],
    ['endsAt before startsAt', { startsAt: '2031-05-01T20:00:00Z', endsAt: '2031-05-01T19:00:00Z' }, 'endsAt'],
    ['operator object', { name: { $gt: '' } }, 'name'],
    ['status cancelled', { status: 'cancelled' }, 'status'],
    ['organizerId', { organizerId: '0123456789abcdef01234567' }, 'organizerId'],
  ])('refuses %s with 400 VALIDATION_FAILED naming the field', async (_label, overrides, path) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      headers: bearer(owner.accessToken),
      payload: eventBody(overrides),
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().code).toBe('VALIDATION_FAILED');
    expect(res.json().errors.map((e: { path: string }) => e.path)).toContain(path);
  });
});

describe('OpenAPI', () => {
  it('documents every Events route at the paths API.md names', async () => {
    const paths = Object.keys((await t.app.inject({ method: 'GET', url: '/docs/json' })).json().paths);
    for (const path of ['/api/v1/events', '/api/v1/events/{id}', '/api/v1/events/{id}/availability', '/api/v1/events/{id}/publish', '/api/v1/events/{id}/cancel', '/api/v1/events/{id}/bookings']) {
      expect(paths).toContain(path);
    }
  });
});

describe('GET /events/:id and /availability', () => {
  it('hides drafts from everyone but their organizer and admins', async () => {
    const draft = await create(owner);
    for (const who of [undefined, customer, rival]) {
      for (const suffix of ['', '/availability']) {
        const res = await get(`/api/v1/events/${draft.id}${suffix}`, who);
        expect(res.statusCode).toBe(404);
        expect(res.json().code).toBe('NOT_FOUND');
      }
    }
    for (const who of [owner, admin]) {
      const res = await get(`/api/v1/events/${draft.id}`, who);
      expect(res.statusCode).toBe(200);
      expect(res.headers.etag).toBe(`"${draft.id}-0"`);
    }
  });

  it('shows published events to anyone; 404 unknown, 400 malformed ids', async () => {
    const event = await create(owner, { status: 'published' });
    const res = await get(`/api/v1/events/${event.id}`);
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toEqual(event);
    expect((await get('/api/v1/events/0123456789abcdef01234567')).statusCode).toBe(404);
    const bad = await get('/api/v1/events/not-an-id');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION_FAILED');
  });

  it('counts confirmed tickets and live holds only, and a hold stops counting when it expires', async () => {
    const event = await create(owner, { status: 'published', totalTickets: 20 });
    await book(event.id, 'confirmed', 3);
    await book(event.id, 'pending', 2, 60_000);
    await book(event.id, 'pending', 4, -1); // already expired
    await book(event.id, 'cancelled', 5);

    const res = await get(`/api/v1/events/${event.id}/availability`);
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toEqual({
      eventId: event.id,
      totalTickets: 20,
      availableTickets: 15,
      confirmedTickets: 3,
      heldTickets: 2,
      ticketTypes: [
        {
          ticketTypeId: event.ticketTypes[0].id,
          name: 'General admission',
          capacity: 20,
          availableTickets: 15,
          confirmedTickets: 3,
          heldTickets: 2,
          onSale: true,
        },
      ],
      asOf: t.clock.now().toISOString(),
    });
    expect((await get(`/api/v1/events/${event.id}`)).json().data.availableTickets).toBe(15);

    t.clock.advance(60_000);
    const later = (await get(`/api/v1/events/${event.id}/availability`)).json().data;
    expect(later).toMatchObject({ availableTickets: 17, confirmedTickets: 3, heldTickets: 0 });
    expect((await get(`/api/v1/events/${event.id}`)).json().data.availableTickets).toBe(17);
  });
});

describe('PATCH /events/:id', () => {
  const patch = (id: string, who: TestAccount, payload: unknown, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'PATCH', url: `/api/v1/events/${id}`, headers: { ...bearer(who.accessToken), ...headers }, payload: payload as object });

  it('changes the event and its ETag; a stale If-Match is 412 and changes nothing', async () => {
    const event = await create(owner);
    const first = await get(`/api/v1/events/${event.id}`, owner);
    const etag = first.headers.etag as string;

    const res = await patch(event.id, owner, { name: 'Jazz night II', price: 3000 }, { 'if-match': etag });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().data).toMatchObject({ name: 'Jazz night II', price: 3000, availableTickets: 10 });
    expect(res.headers.etag).toBe(`"${event.id}-1"`);
    expect(res.headers.etag).not.toBe(etag);

    const stale = await patch(event.id, owner, { name: 'Lost update' }, { 'if-match': etag });
    expect(stale.statusCode).toBe(412);
    expect(stale.json().code).toBe('PRECONDITION_FAILED');
    const weak = await patch(event.id, owner, { name: 'Lost update' }, { 'if-match': `W/${res.headers.etag}` });
    expect(weak.statusCode).toBe(412);
    expect((await get(`/api/v1/events/${event.id}`, owner)).json().data.name).toBe('Jazz night II');

    const star = await patch(event.id, owner, { venue: 'Red Hall' }, { 'if-match': '*' });
    expect(star.statusCode).toBe(200);
    const listed = await patch(event.id, owner, { venue: 'Green Hall' }, { 'if-match': `"x", ${star.headers.etag}` });
    expect(listed.statusCode).toBe(200);
    expect(listed.headers.etag).toBe(`"${event.id}-3"`);
  });

  it('lets only the organizer and admins change it', async () => {
    const draft = await create(owner);
    const published = await create(owner, { status: 'published' });
    expect((await patch(draft.id, rival, { name: 'x' })).statusCode).toBe(404);
    const rivalRes = await patch(published.id, rival, { name: 'x' });
    expect(rivalRes.statusCode).toBe(403);
    expect(rivalRes.json().code).toBe('FORBIDDEN');
    expect((await patch(published.id, customer, { name: 'x' })).statusCode).toBe(403);
    const anon = await t.app.inject({ method: 'PATCH', url: `/api/v1/events/${published.id}`, payload: { name: 'x' } });
    expect(anon.statusCode).toBe(401);
    expect((await patch(published.id, admin, { name: 'By admin' })).json().data.name).toBe('By admin');
    expect((await patch('0123456789abcdef01234567', admin, { name: 'x' })).statusCode).toBe(404);
  });

  it('refuses totalTickets below confirmed + held with 409 CAPACITY_BELOW_SOLD; expired holds do not count', async () => {
    const event = await create(owner, { status: 'published', totalTickets: 10 });
    await book(event.id, 'confirmed', 4);
    await book(event.id, 'pending', 3, 60_000);
    await book(event.id, 'pending', 2, -1);

    const below = await patch(event.id, owner, { totalTickets: 6 });
    expect(below.statusCode).toBe(409);
    expect(below.json()).toMatchObject({ code: 'CAPACITY_BELOW_SOLD', confirmedTickets: 4, heldTickets: 3 });
    const exact = await patch(event.id, owner, { totalTickets: 7 });
    expect(exact.statusCode).toBe(200);
    expect(exact.json().data).toMatchObject({ totalTickets: 7, availableTickets: 0 });

    t.clock.advance(60_000);
    const afterExpiry = await patch(event.id, owner, { totalTickets: 4 });
    expect(afterExpiry.statusCode).toBe(200);
    expect(afterExpiry.json().data).toMatchObject({ totalTickets: 4, availableTickets: 0 });
  });

  it('decides the capacity check after concurrent sales settle (bumps salesVersion, then counts)', async () => {
    const event = await create(owner, { status: 'published', totalTickets: 10 });
    const { Event, Booking } = t.app.models;
    // A booking transaction in flight, written the way DESIGN.md 1 asks: bump, then insert.
    const session = await t.app.db.startSession();
    session.startTransaction();
    await Event.updateOne({ _id: event.id }, { $inc: { salesVersion: 1 } }, { session });
    await Booking.create(
      [{ eventId: event.id, userId: customer.user.id, quantity: 8, status: 'confirmed', unitPrice: 1, totalPrice: 8, currency: 'EUR' }],
      { session },
    );
    await rebuildLedger(t.app.models, event.id, t.clock.now(), session);
    const shrinking = patch(event.id, owner, { totalTickets: 6 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await session.commitTransaction();
    await session.endSession();

    const res = await shrinking;
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().code).toBe('CAPACITY_BELOW_SOLD');
    const stored = await Event.findById(event.id).lean();
    expect(stored?.totalTickets).toBe(10);
    expect(stored?.salesVersion).toBe(1);
  });

  it('validates dates against the stored ones, and the body strictly', async () => {
    const event = await create(owner, { startsAt: '2031-06-01T20:00:00Z', endsAt: '2031-06-01T23:00:00Z' });
    const late = await patch(event.id, owner, { startsAt: '2031-06-02T00:00:00Z' });
    expect(late.statusCode).toBe(400);
    expect(late.json().errors[0].path).toBe('startsAt');
    const early = await patch(event.id, owner, { endsAt: '2031-06-01T19:00:00Z' });
    expect(early.statusCode).toBe(400);
    expect(early.json().errors[0].path).toBe('endsAt');
    const both = await patch(event.id, owner, { startsAt: '2031-06-02T20:00:00Z', endsAt: null });
    expect(both.statusCode).toBe(200);
    expect(both.json().data).toMatchObject({ startsAt: '2031-06-02T20:00:00.000Z', endsAt: null });

    for (const body of [{}, { status: 'published' }, { totalTickets: -1 }, { maxTicketsPerBooking: 200 }, { currency: 'usd' }, { nme: 'typo' }]) {
      const res = await patch(event.id, owner, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().code).toBe('VALIDATION_FAILED');
    }
  });
});

describe('publish, cancel, delete', () => {
  const post = (url: string, who: TestAccount) => t.app.inject({ method: 'POST', url, headers: bearer(who.accessToken) });
  const del = (id: string, who: TestAccount) =>
    t.app.inject({ method: 'DELETE', url: `/api/v1/events/${id}`, headers: bearer(who.accessToken) });

  it('publishes a draft once; anything else is 409 INVALID_STATE', async () => {
    const draft = await create(owner);
    expect((await post(`/api/v1/events/${draft.id}/publish`, rival)).statusCode).toBe(404);
    expect((await post(`/api/v1/events/${draft.id}/publish`, customer)).statusCode).toBe(403);
    const res = await post(`/api/v1/events/${draft.id}/publish`, owner);
    expect(res.statusCode).toBe(200);
    expect(res.json().data.status).toBe('published');
    expect(res.headers.etag).toBe(`"${draft.id}-1"`);
    expect((await get(`/api/v1/events/${draft.id}`)).statusCode).toBe(200);

    const again = await post(`/api/v1/events/${draft.id}/publish`, owner);
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('INVALID_STATE');
    await post(`/api/v1/events/${draft.id}/cancel`, owner);
    expect((await post(`/api/v1/events/${draft.id}/publish`, admin)).json().code).toBe('INVALID_STATE');
  });

  it('cancels the event with every confirmed booking and live hold; again is harmless', async () => {
    const event = await create(owner, { status: 'published', totalTickets: 10 });
    const confirmed = await book(event.id, 'confirmed', 2);
    const held = await book(event.id, 'pending', 1);
    const expired = await book(event.id, 'pending', 1, -1);
    const otherEvent = await create(owner, { status: 'published' });
    const untouched = await book(otherEvent.id, 'confirmed', 1);

    expect((await post(`/api/v1/events/${event.id}/cancel`, rival)).statusCode).toBe(403);
    const res = await post(`/api/v1/events/${event.id}/cancel`, owner);
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toMatchObject({ id: event.id, status: 'cancelled', availableTickets: 10 });

    const { Booking, Event } = t.app.models;
    const statusOf = async (id: unknown) => (await Booking.findById(id).lean())?.status;
    expect(await statusOf(confirmed._id)).toBe('cancelled');
    expect(await statusOf(held._id)).toBe('cancelled');
    expect(await statusOf(expired._id)).toBe('pending'); // reads as expired; left for the TTL index
    expect(await statusOf(untouched._id)).toBe('confirmed');
    const stored = await Event.findById(event.id).lean();
    expect(stored?.salesVersion).toBeGreaterThanOrEqual(1);

    const again = await post(`/api/v1/events/${event.id}/cancel`, admin);
    expect(again.statusCode).toBe(200);
    expect(again.json().data).toEqual(res.json().data);
    expect(again.headers.etag).toBe(res.headers.etag);
    // A cancelled event stays readable but cannot be edited.
    expect((await get(`/api/v1/events/${event.id}`)).json().data.status).toBe('cancelled');
    const edit = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/events/${event.id}`,
      headers: bearer(owner.accessToken),
      payload: { name: 'Back again' },
    });
    expect(edit.statusCode).toBe(409);
    expect(edit.json().code).toBe('INVALID_STATE');
  });

  it('deletes drafts and events without pending or confirmed bookings; 409 EVENT_HAS_BOOKINGS otherwise', async () => {
    const draft = await create(owner);
    expect((await del(draft.id, rival)).statusCode).toBe(404);
    expect((await del(draft.id, customer)).statusCode).toBe(403);
    const gone = await del(draft.id, owner);
    expect(gone.statusCode).toBe(204);
    expect(gone.body).toBe('');
    expect((await get(`/api/v1/events/${draft.id}`, owner)).statusCode).toBe(404);
    expect((await del(draft.id, owner)).statusCode).toBe(404);

    const sold = await create(owner, { status: 'published' });
    await book(sold.id, 'confirmed', 1);
    const refused = await del(sold.id, admin);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('EVENT_HAS_BOOKINGS');

    const held = await create(owner, { status: 'published' });
    await book(held.id, 'pending', 1, 60_000);
    expect((await del(held.id, owner)).json().code).toBe('EVENT_HAS_BOOKINGS');
    t.clock.advance(60_000); // the hold has run out: nothing counts any more
    await book(held.id, 'cancelled', 2);
    expect((await del(held.id, rival)).statusCode).toBe(403);
    expect((await del(held.id, owner)).statusCode).toBe(204);
    expect((await get(`/api/v1/events/${held.id}`)).statusCode).toBe(404);
  });
});
