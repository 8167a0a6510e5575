import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventBookingDto } from '../src/events/schemas.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { buildTestApp, type TestApp } from './helper.js';

let t: TestApp;
let owner: TestAccount;
let rival: TestAccount;
let admin: TestAccount;
let alice: TestAccount;
let bob: TestAccount;
let eventId: string;
let draftId: string;

async function create(status: 'draft' | 'published'): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/events',
    headers: bearer(owner.accessToken),
    payload: {
      name: 'Listed',
      venue: 'Hall',
      startsAt: new Date(t.clock.now().getTime() + 86_400_000).toISOString(),
      totalTickets: 100,
      price: 500,
      currency: 'EUR',
      status,
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().data.id;
}

const list = (id: string, who: TestAccount, query = '') =>
  t.app.inject({ method: 'GET', url: `/api/v1/events/${id}/bookings?${query}`, headers: bearer(who.accessToken) });

beforeAll(async () => {
  t = await buildTestApp();
  [owner, rival, admin, alice, bob] = await Promise.all([
    createAccount(t.app, { role: 'organizer' }),
    createAccount(t.app, { role: 'organizer' }),
    createAccount(t.app, { role: 'admin' }),
    createAccount(t.app, { name: 'Alice' }),
    createAccount(t.app, { name: 'Bob' }),
  ]);
  eventId = await create('published');
  draftId = await create('draft');
  const now = t.clock.now().getTime();
  const rows: [TestAccount, 'pending' | 'confirmed' | 'cancelled', number, number | null][] = [
    [alice, 'confirmed', 2, null],
    [bob, 'pending', 1, now + 600_000],
    [alice, 'pending', 3, now - 1],
    [bob, 'cancelled', 4, null],
    [alice, 'confirmed', 1, null],
  ];
  // Created one by one with distinct timestamps so "newest first" is well defined.
  for (const [who, status, quantity, expiresAt] of rows) {
    await t.app.models.Booking.create({
      eventId,
      userId: who.user.id,
      quantity,
      status,
      unitPrice: 500,
      totalPrice: 500 * quantity,
      currency: 'EUR',
      expiresAt: expiresAt === null ? null : new Date(expiresAt),
      tickets: status === 'confirmed' ? Array.from({ length: quantity }, (_, i) => ({ number: `T-${who.user.id}-${quantity}-${i}` })) : [],
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
});
afterAll(() => t.close());

describe('GET /events/:id/bookings', () => {
  it('lists the bookings newest first, each with its buyer, derived status and paging meta', async () => {
    const res = await list(eventId, owner);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.meta).toEqual({ page: 1, limit: 20, total: 5, totalPages: 1 });
    const data = body.data as EventBookingDto[];
    expect(data.map((b) => [b.user?.name, b.status, b.quantity])).toEqual([
      ['Alice', 'confirmed', 1],
      ['Bob', 'cancelled', 4],
      ['Alice', 'expired', 3],
      ['Bob', 'pending', 1],
      ['Alice', 'confirmed', 2],
    ]);
    expect(data[0].user).toEqual({ id: alice.user.id, email: alice.user.email, name: 'Alice' });
    expect(data[0]).toMatchObject({ eventId, userId: alice.user.id, unitPrice: 500, totalPrice: 500, currency: 'EUR', expiresAt: null });
    expect(data[0].tickets).toHaveLength(1);
    expect(data[3].expiresAt).toMatch(/Z$/);
    expect(JSON.stringify(body)).not.toMatch(/passwordHash|idempotencyKey|requestFingerprint/);
  });

  it.each([
    ['pending', 1],
    ['expired', 1],
    ['confirmed', 2],
    ['cancelled', 1],
  ])('filters status=%s', async (status, count) => {
    const res = await list(eventId, admin, `status=${status}`);
    expect(res.statusCode).toBe(200);
    expect(res.json().meta.total).toBe(count);
    expect(res.json().data.every((b: EventBookingDto) => b.status === status)).toBe(true);
  });

  it('pages', async () => {
    const second = await list(eventId, owner, 'limit=2&page=2');
    expect(second.json().meta).toEqual({ page: 2, limit: 2, total: 5, totalPages: 3 });
    expect(second.json().data.map((b: EventBookingDto) => b.quantity)).toEqual([3, 1]);
    expect((await list(eventId, owner, 'status=paid')).statusCode).toBe(400);
  });

  it('looks the buyers up in one batched query, whatever the page size', async () => {
    const calls: string[] = [];
    t.app.db.set('debug', (collection: string, method: string) => calls.push(`${collection}.${method}`));
    try {
      await list(eventId, owner);
    } finally {
      t.app.db.set('debug', false);
    }
    const users = t.app.models.User.collection.collectionName;
    expect(calls.filter((c) => c.startsWith(`${users}.`) && c.endsWith('.find'))).toHaveLength(1);
  });

  it('is for the organizer of the event and admins', async () => {
    expect((await list(eventId, rival)).statusCode).toBe(403);
    expect((await list(eventId, alice)).statusCode).toBe(403);
    expect((await list(draftId, rival)).statusCode).toBe(404);
    expect((await list(draftId, owner)).json().meta.total).toBe(0);
    expect((await list('0123456789abcdef01234567', admin)).statusCode).toBe(404);
    const anon = await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}/bookings` });
    expect(anon.statusCode).toBe(401);
  });
});
