import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { availability, book, type BookingBody, bookingOf, cancel, confirm, createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';

const HOLD_MS = 10 * 60 * 1000;
let t: TestApp;
let organizer: TestAccount;
let buyer: TestAccount;
let other: TestAccount;
let admin: TestAccount;

beforeAll(async () => {
  // Tests move the clock by hours in total; access tokens must outlive that.
  t = await buildTestApp({ env: { ACCESS_TOKEN_TTL_SECONDS: String(30 * 86_400) } });
  [organizer, buyer, other, admin] = await Promise.all([
    createAccount(t.app, { role: 'organizer' }),
    createAccount(t.app),
    createAccount(t.app),
    createAccount(t.app, { role: 'admin' }),
  ]);
});
afterAll(() => t.close());

const get = (token: string, url: string) => t.app.inject({ method: 'GET', url: `/api/v1/bookings${url}`, headers: bearer(token) });

async function hold(eventId: string, quantity = 1, who = buyer): Promise<BookingBody> {
  const res = await book(t.app, who.accessToken, { eventId, quantity });
  expect(res.statusCode, res.body).toBe(201);
  return bookingOf(res);
}

describe('POST /bookings', () => {
  it('holds tickets of a paid event for 10 minutes', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 2500, totalTickets: 10 });
    const res = await book(t.app, buyer.accessToken, { eventId, quantity: 3 });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    const b = bookingOf(res);
    expect(b).toMatchObject({
      eventId,
      userId: buyer.user.id,
      quantity: 3,
      status: 'pending',
      unitPrice: 2500,
      totalPrice: 7500,
      currency: 'EUR',
      tickets: [],
      // No payment provider here (PAYMENT_PROVIDER=none): never a payment.
      payment: null,
    });
    expect(new Date(b.expiresAt as string).getTime()).toBe(t.clock.now().getTime() + HOLD_MS);
    expect(b.createdAt).toBe(t.clock.now().toISOString());
    expect(await availability(t.app, eventId)).toMatchObject({ availableTickets: 7, heldTickets: 3, confirmedTickets: 0 });
  });

  it('confirms a free event at once, with one unique ticket number per ticket', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 0, totalTickets: 10 });
    const b = await hold(eventId, 4);
    expect(b).toMatchObject({ status: 'confirmed', totalPrice: 0, expiresAt: null });
    expect(new Set(b.tickets.map((x) => x.number)).size).toBe(4);
    expect(await availability(t.app, eventId)).toMatchObject({ availableTickets: 6, confirmedTickets: 4, heldTickets: 0 });
  });

  it('answers 409 SOLD_OUT with the tickets left', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 3 });
    await hold(eventId, 2);
    const res = await book(t.app, other.accessToken, { eventId, quantity: 2 });
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'SOLD_OUT', availableTickets: 1, status: 409 });
  });

  it('answers 409 EVENT_NOT_ON_SALE for a draft, a cancelled and a started event', async () => {
    const draft = await createEvent(t.app, organizer.accessToken, { status: 'draft' });
    const cancelled = await createEvent(t.app, organizer.accessToken);
    const c = await t.app.inject({ method: 'POST', url: `/api/v1/events/${cancelled}/cancel`, headers: bearer(organizer.accessToken) });
    expect(c.statusCode, c.body).toBe(200);
    const soon = await createEvent(t.app, organizer.accessToken, { startsAt: new Date(t.clock.now().getTime() + 60_000) });
    t.clock.advance(60_000);
    for (const eventId of [draft, cancelled, soon]) {
      const res = await book(t.app, buyer.accessToken, { eventId, quantity: 1 });
      expect(res.statusCode, eventId).toBe(409);
      expect(res.json().code).toBe('EVENT_NOT_ON_SALE');
    }
  });

  it('answers 404 for an unknown event', async () => {
    const res = await book(t.app, buyer.accessToken, { eventId: '0123456789abcdef01234567', quantity: 1 });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('NOT_FOUND');
  });

  it('answers 400 for a quantity outside 1..maxTicketsPerBooking of the event', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { maxTicketsPerBooking: 4 });
    for (const quantity of [0, -1, 5, 2.5]) {
      const res = await book(t.app, buyer.accessToken, { eventId, quantity });
      expect(res.statusCode, String(quantity)).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ path: 'quantity' })] });
    }
    expect((await availability(t.app, eventId)).availableTickets).toBe(100);
  });

  it('rejects unknown fields, malformed ids and missing tokens', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const extra = await book(t.app, buyer.accessToken, { eventId, quantity: 1, price: 1 });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().errors[0].path).toBe('price');
    const badId = await book(t.app, buyer.accessToken, { eventId: { $gt: '' }, quantity: 1 });
    expect(badId.statusCode).toBe(400);
    const anonymous = await t.app.inject({
      method: 'POST',
      url: '/api/v1/bookings',
      headers: { 'idempotency-key': randomUUID() },
      payload: { eventId, quantity: 1 },
    });
    expect(anonymous.statusCode).toBe(401);
  });
});

describe('POST /bookings/:id/confirm', () => {
  it('confirms the owner’s hold with unique ticket numbers; a second confirm is 409 INVALID_STATE', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 10 });
    const b = await hold(eventId, 3);
    const res = await confirm(t.app, buyer.accessToken, b.id, { paymentReference: 'pay_123' });
    expect(res.statusCode, res.body).toBe(200);
    const done = bookingOf(res);
    expect(done).toMatchObject({ id: b.id, status: 'confirmed', expiresAt: null, quantity: 3 });
    expect(new Set(done.tickets.map((x) => x.number)).size).toBe(3);
    expect(await availability(t.app, eventId)).toMatchObject({ confirmedTickets: 3, heldTickets: 0, availableTickets: 7 });

    const again = await confirm(t.app, buyer.accessToken, b.id);
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('INVALID_STATE');
  });

  it('is the owner’s alone: 404 for strangers, 403 for the organizer who can see it', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = await hold(eventId);
    expect((await confirm(t.app, other.accessToken, b.id)).statusCode).toBe(404);
    const byOrganizer = await confirm(t.app, organizer.accessToken, b.id);
    expect(byOrganizer.statusCode).toBe(403);
    expect(byOrganizer.json().code).toBe('FORBIDDEN');
  });

  it('answers 410 HOLD_EXPIRED once expiresAt has passed, and 409 for a cancelled booking', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const late = await hold(eventId);
    const dropped = await hold(eventId);
    expect((await cancel(t.app, buyer.accessToken, dropped.id)).statusCode).toBe(200);
    t.clock.advance(HOLD_MS);
    const res = await confirm(t.app, buyer.accessToken, late.id);
    expect(res.statusCode).toBe(410);
    expect(res.json().code).toBe('HOLD_EXPIRED');
    const res2 = await confirm(t.app, buyer.accessToken, dropped.id);
    expect(res2.statusCode).toBe(409);
    expect(res2.json().code).toBe('INVALID_STATE');
  });
});

describe('holds expire on time', () => {
  it('stops counting at expiresAt exactly and reads as expired', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 5 });
    const b = await hold(eventId, 5);
    expect((await book(t.app, other.accessToken, { eventId, quantity: 1 })).statusCode).toBe(409);

    t.clock.advance(HOLD_MS - 1);
    expect((await availability(t.app, eventId)).availableTickets).toBe(0);
    expect(bookingOf(await get(buyer.accessToken, `/${b.id}`)).status).toBe('pending');

    t.clock.advance(1);
    expect(await availability(t.app, eventId)).toMatchObject({ availableTickets: 5, heldTickets: 0 });
    expect(bookingOf(await get(buyer.accessToken, `/${b.id}`)).status).toBe('expired');
    // The tickets are for sale again at once.
    expect((await book(t.app, other.accessToken, { eventId, quantity: 5 })).statusCode).toBe(201);
  });
});

describe('PATCH /bookings/:id/cancel', () => {
  it('releases a hold; cancelling again answers the booking unchanged', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 4 });
    const b = await hold(eventId, 4);
    t.clock.advance(1000);
    const res = await cancel(t.app, buyer.accessToken, b.id);
    expect(res.statusCode, res.body).toBe(200);
    const cancelled = bookingOf(res);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.updatedAt).toBe(t.clock.now().toISOString());
    expect((await availability(t.app, eventId)).availableTickets).toBe(4);

    t.clock.advance(1000);
    const again = await cancel(t.app, buyer.accessToken, b.id);
    expect(again.statusCode).toBe(200);
    expect(bookingOf(again)).toEqual(cancelled);
    expect((await availability(t.app, eventId)).availableTickets).toBe(4);
  });

  it('returns the tickets of a confirmed booking', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 4 });
    const b = await hold(eventId, 2);
    expect((await confirm(t.app, buyer.accessToken, b.id)).statusCode).toBe(200);
    expect((await availability(t.app, eventId)).confirmedTickets).toBe(2);
    const res = await cancel(t.app, buyer.accessToken, b.id);
    expect(bookingOf(res).status).toBe('cancelled');
    expect(await availability(t.app, eventId)).toMatchObject({ confirmedTickets: 0, availableTickets: 4 });
  });

  it('may be done by the owner, the event organizer and an admin; others get 404', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const [a, b, c] = [await hold(eventId), await hold(eventId), await hold(eventId)];
    expect((await cancel(t.app, other.accessToken, a.id)).statusCode).toBe(404);
    const otherOrganizer = await createAccount(t.app, { role: 'organizer' });
    expect((await cancel(t.app, otherOrganizer.accessToken, a.id)).statusCode).toBe(404);
    expect(bookingOf(await cancel(t.app, buyer.accessToken, a.id)).status).toBe('cancelled');
    expect(bookingOf(await cancel(t.app, organizer.accessToken, b.id)).status).toBe('cancelled');
    expect(bookingOf(await cancel(t.app, admin.accessToken, c.id)).status).toBe('cancelled');
  });

  it('answers an expired hold unchanged: it holds nothing any more', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = await hold(eventId);
    t.clock.advance(HOLD_MS);
    const res = await cancel(t.app, buyer.accessToken, b.id);
    expect(res.statusCode).toBe(200);
    expect(bookingOf(res)).toMatchObject({ status: 'expired', updatedAt: b.updatedAt });
  });
});

describe('GET /bookings and /bookings/:id', () => {
  it('lists the caller’s bookings newest first, with paging and the derived statuses', async () => {
    const reader = await createAccount(t.app);
    const eventId = await createEvent(t.app, organizer.accessToken);
    const first = await hold(eventId, 1, reader);
    t.clock.advance(HOLD_MS + 1); // the first hold expires
    const second = await hold(eventId, 1, reader);
    t.clock.advance(1);
    const third = await hold(eventId, 1, reader);
    expect((await confirm(t.app, reader.accessToken, third.id)).statusCode).toBe(200);
    t.clock.advance(1);
    const fourth = await hold(eventId, 1, reader);
    await cancel(t.app, reader.accessToken, fourth.id);
    await hold(eventId, 1, other); // someone else's: never listed

    const all = await get(reader.accessToken, '?limit=3');
    expect(all.statusCode).toBe(200);
    const body = all.json<{ data: BookingBody[]; meta: unknown }>();
    expect(body.data.map((b) => b.id)).toEqual([fourth.id, third.id, second.id]);
    expect(body.meta).toEqual({ page: 1, limit: 3, total: 4, totalPages: 2 });
    const page2 = (await get(reader.accessToken, '?limit=3&page=2')).json<{ data: BookingBody[] }>();
    expect(page2.data.map((b) => [b.id, b.status])).toEqual([[first.id, 'expired']]);

    const ids = async (status: string) =>
      (await get(reader.accessToken, `?status=${status}`)).json<{ data: BookingBody[] }>().data.map((b) => b.id);
    expect(await ids('expired')).toEqual([first.id]);
    expect(await ids('pending')).toEqual([second.id]);
    expect(await ids('confirmed')).toEqual([third.id]);
    expect(await ids('cancelled')).toEqual([fourth.id]);
    expect((await get(reader.accessToken, '?status=lost')).statusCode).toBe(400);
  });

  it('shows a booking to its owner, the event organizer and admins; 404 to anyone else', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken);
    const b = await hold(eventId);
    for (const who of [buyer, organizer, admin]) {
      const res = await get(who.accessToken, `/${b.id}`);
      expect(res.statusCode).toBe(200);
      expect(bookingOf(res).id).toBe(b.id);
    }
    expect((await get(other.accessToken, `/${b.id}`)).statusCode).toBe(404);
    expect((await get(buyer.accessToken, '/0123456789abcdef01234567')).statusCode).toBe(404);
    expect((await get(buyer.accessToken, '/not-an-id')).statusCode).toBe(400);
  });
});

describe('indexes', () => {
  it('keeps idempotency keys and ticket numbers unique, and lets the TTL monitor remove expired holds only', async () => {
    const indexes = await t.app.models.Booking.collection.indexes();
    const byKey = (key: Record<string, number>) => indexes.find((ix) => JSON.stringify(ix.key) === JSON.stringify(key));
    expect(byKey({ userId: 1, idempotencyKey: 1 })).toMatchObject({ unique: true });
    expect(byKey({ 'tickets.number': 1 })).toMatchObject({ unique: true });
    // Keyed on the sweeper's announcement (src/outbox/sweeper.ts): no hold goes before its booking.expired.
    expect(byKey({ expiryAnnouncedAt: 1 })).toMatchObject({ expireAfterSeconds: 0, partialFilterExpression: { status: 'pending' } });
  });
});
