import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sweepWaitlists, takeLease } from '../src/waitlist/sweeper.js';
import { createBookingDeps } from '../src/bookings/service.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { availability, book, bookingOf, cancel, confirm, createEvent } from './fixtures/bookings.js';
import { addType, patchType } from './fixtures/ticket-types.js';
import { type EntryBody, entryOf, join, leave, mine, myEntry, queue } from './fixtures/waitlist.js';
import { buildTestApp, type TestApp } from './helper.js';

const OFFER_MS = 30 * 60 * 1000;
let t: TestApp;
let organizer: TestAccount;
let other: TestAccount;
let users: TestAccount[];

beforeAll(async () => {
  // The clock moves by hours here; tokens must outlive it. The periodic sweep is driven by hand.
  t = await buildTestApp({ env: { ACCESS_TOKEN_TTL_SECONDS: String(30 * 86_400), WAITLIST_SWEEP_SECONDS: '0' } });
  organizer = await createAccount(t.app, { role: 'organizer' });
  other = await createAccount(t.app, { role: 'organizer' });
  users = await Promise.all(Array.from({ length: 8 }, () => createAccount(t.app)));
});
afterAll(() => t.close());

const sweep = () =>
  sweepWaitlists(
    createBookingDeps({
      db: t.app.db,
      outbox: t.app.outbox,
      ticketKeys: t.app.ticketKeys,
      models: t.app.models,
      clock: t.clock,
      holdTtlMs: t.config.HOLD_TTL_SECONDS * 1000,
      waitlistOfferMs: OFFER_MS,
      txTimeoutMs: 5000,
      salesChanged: async () => undefined,
    }),
  );

/** A sold-out event: `total` tickets, all bought (held, or confirmed when `confirmAll`) by the last user. */
async function soldOut(total: number, confirmAll = true) {
  const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: total, price: 2500 });
  const seller = users[users.length - 1];
  const bookings: string[] = [];
  let left = total;
  while (left > 0) {
    const q = Math.min(left, 10);
    const b = bookingOf(await book(t.app, seller.accessToken, { eventId, quantity: q }));
    if (confirmAll) expect((await confirm(t.app, seller.accessToken, b.id)).statusCode).toBe(200);
    bookings.push(b.id);
    left -= q;
  }
  return { eventId, seller, bookings };
}

async function joined(who: TestAccount, eventId: string, quantity: number): Promise<EntryBody> {
  const res = await join(t.app, who.accessToken, eventId, { quantity });
  expect(res.statusCode, res.body).toBe(201);
  return entryOf(res);
}

describe('joining, position, leaving', () => {
  it('joins a sold-out event, shows the position, replays the same key, refuses a second entry', async () => {
    const { eventId } = await soldOut(2);
    const key = randomUUID();
    const first = await join(t.app, users[0].accessToken, eventId, { quantity: 2 }, key);
    expect(first.statusCode, first.body).toBe(201);
    expect(entryOf(first)).toMatchObject({ eventId, userId: users[0].user.id, quantity: 2, status: 'waiting', position: 1, offer: null });
    const replay = await join(t.app, users[0].accessToken, eventId, { quantity: 2 }, key);
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(entryOf(replay).id).toBe(entryOf(first).id);
    const again = await join(t.app, users[0].accessToken, eventId, { quantity: 1 });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'ALREADY_ON_WAITLIST' });
    await joined(users[1], eventId, 1);
    expect(await myEntry(t.app, users[1].accessToken, eventId)).toMatchObject({ position: 2, status: 'waiting' });

    // The first leaves: the second is next.
    expect((await leave(t.app, users[0].accessToken, eventId)).statusCode).toBe(204);
    expect(await myEntry(t.app, users[1].accessToken, eventId)).toMatchObject({ position: 1 });
    expect(await myEntry(t.app, users[0].accessToken, eventId)).toMatchObject({ status: 'left', position: null });
    const twice = await leave(t.app, users[0].accessToken, eventId);
    expect(twice.statusCode).toBe(404);
    expect(twice.headers['content-type']).toContain('application/problem+json');
  });

  it("shows the organizer the queue in order and the waitlist figures; others get 403/none", async () => {
    const { eventId } = await soldOut(1);
    await joined(users[0], eventId, 1);
    await joined(users[1], eventId, 1);
    const res = await queue(t.app, organizer.accessToken, eventId);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ data: EntryBody[]; meta: { total: number } }>();
    expect(body.data.map((e) => [e.userId, e.position])).toEqual([
      [users[0].user.id, 1],
      [users[1].user.id, 2],
    ]);
    expect(body.meta.total).toBe(2);
    expect((await queue(t.app, other.accessToken, eventId)).statusCode).toBe(403);
    expect((await queue(t.app, users[0].accessToken, eventId)).statusCode).toBe(403);

    const own = await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}/availability`, headers: bearer(organizer.accessToken) });
    expect(own.json()).toMatchObject({ data: { waitlist: { waiting: 2, offered: 0 } } });
    const anyone = await availability(t.app, eventId);
    expect(anyone).not.toHaveProperty('waitlist');
  });
});

describe('promotion', () => {
  it('a cancellation offers the freed tickets to the queue in order, first that fits; nobody else can buy them', async () => {
    const { eventId, seller, bookings } = await soldOut(3);
    const big = await joined(users[0], eventId, 3);
    const small = await joined(users[1], eventId, 2);
    const tiny = await joined(users[2], eventId, 1);
    expect([big.position, small.position, tiny.position]).toEqual([1, 2, 3]);

    expect((await cancel(t.app, seller.accessToken, bookings[0])).statusCode).toBe(200);
    // 3 free: the big entry fits first and takes all of them.
    expect(await myEntry(t.app, users[0].accessToken, eventId)).toMatchObject({ status: 'offered' });
    expect(await myEntry(t.app, users[1].accessToken, eventId)).toMatchObject({ status: 'waiting', position: 1 });
    expect(await availability(t.app, eventId)).toMatchObject({ availableTickets: 0, heldTickets: 3 });
    const buyer = await book(t.app, users[5].accessToken, { eventId, quantity: 1 });
    expect(buyer.json()).toMatchObject({ code: 'SOLD_OUT' });
  });

  it('first that fits: 2 free tickets skip an entry of 3 and serve the entries of 2 behind it', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 4, price: 2500 });
    const seller = users[7];
    const a = bookingOf(await book(t.app, seller.accessToken, { eventId, quantity: 2 }));
    const b = bookingOf(await book(t.app, seller.accessToken, { eventId, quantity: 2 }));
    await confirm(t.app, seller.accessToken, a.id);
    await confirm(t.app, seller.accessToken, b.id);
    await joined(users[0], eventId, 3);
    await joined(users[1], eventId, 2);
    await joined(users[2], eventId, 1);
    expect((await cancel(t.app, seller.accessToken, a.id)).statusCode).toBe(200);
    expect(await myEntry(t.app, users[0].accessToken, eventId)).toMatchObject({ status: 'waiting', position: 1 });
    const offered = await myEntry(t.app, users[1].accessToken, eventId);
    expect(offered.status).toBe('offered');
    expect(await myEntry(t.app, users[2].accessToken, eventId)).toMatchObject({ status: 'waiting', position: 2 });

    // The offer is a pending booking of the entry's user, held for 30 minutes; confirming it takes it.
    const offer = offered.offer as { bookingId: string; expiresAt: string };
    expect(new Date(offer.expiresAt).getTime()).toBe(t.clock.now().getTime() + OFFER_MS);
    const taken = await confirm(t.app, users[1].accessToken, offer.bookingId);
    expect(taken.statusCode, taken.body).toBe(200);
    expect(bookingOf(taken)).toMatchObject({ status: 'confirmed', quantity: 2, userId: users[1].user.id });
    expect(await myEntry(t.app, users[1].accessToken, eventId)).toMatchObject({ status: 'accepted' });

    // The other 2 come free: 3 still does not fit, the 1 does.
    expect((await cancel(t.app, seller.accessToken, b.id)).statusCode).toBe(200);
    expect(await myEntry(t.app, users[0].accessToken, eventId)).toMatchObject({ status: 'waiting' });
    expect(await myEntry(t.app, users[2].accessToken, eventId)).toMatchObject({ status: 'offered' });
    // 1 left over with nobody it fits: it is for sale.
    expect(await availability(t.app, eventId)).toMatchObject({ availableTickets: 1 });
  });

  it('expiry chain: an offer not taken in time expires and its tickets go to the next entry', async () => {
    const { eventId, seller, bookings } = await soldOut(1);
    await joined(users[0], eventId, 1);
    await joined(users[1], eventId, 1);
    await joined(users[2], eventId, 1);
    await cancel(t.app, seller.accessToken, bookings[0]);
    const first = await myEntry(t.app, users[0].accessToken, eventId);
    expect(first.status).toBe('offered');

    t.clock.advance(OFFER_MS + 1000);
    // Expired at that instant: reads as expired, and the hold no longer counts...
    expect(await myEntry(t.app, users[0].accessToken, eventId)).toMatchObject({ status: 'expired' });
    expect((await confirm(t.app, users[0].accessToken, (first.offer as { bookingId: string }).bookingId)).statusCode).toBe(410);
    // ...but a buyer arriving now finds the next entry served first.
    const buyer = await book(t.app, users[6].accessToken, { eventId, quantity: 1 });
    expect(buyer.json()).toMatchObject({ code: 'SOLD_OUT' });
    expect(await myEntry(t.app, users[1].accessToken, eventId)).toMatchObject({ status: 'offered' });

    // No sale at all this time: the periodic sweep hands it down.
    t.clock.advance(OFFER_MS + 1000);
    // (Other tests' events may have offers running out too: at least this one is served.)
    expect(await sweep()).toBeGreaterThanOrEqual(1);
    expect(await myEntry(t.app, users[2].accessToken, eventId)).toMatchObject({ status: 'offered' });
    expect(await sweep()).toBe(0);

    // The last one declines by leaving: nobody waits, the ticket is for sale again.
    expect((await leave(t.app, users[2].accessToken, eventId)).statusCode).toBe(204);
    expect(await availability(t.app, eventId)).toMatchObject({ availableTickets: 1 });
    // And after it expired, the first one may join again.
    expect((await join(t.app, users[0].accessToken, eventId, { quantity: 1 })).json()).toMatchObject({ code: 'TICKETS_AVAILABLE' });
  });

  it('a raised capacity (event or type) is offered to the queue in the same transaction', async () => {
    const { eventId } = await soldOut(2);
    await joined(users[0], eventId, 2);
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/events/${eventId}`,
      headers: bearer(organizer.accessToken),
      payload: { totalTickets: 3 },
    });
    expect(res.statusCode, res.body).toBe(200);
    // One more ticket does not fit the entry of 2: it is on sale.
    expect(await myEntry(t.app, users[0].accessToken, eventId)).toMatchObject({ status: 'waiting' });
    expect(res.json()).toMatchObject({ data: { availableTickets: 1 } });
    await t.app.inject({ method: 'PATCH', url: `/api/v1/events/${eventId}`, headers: bearer(organizer.accessToken), payload: { totalTickets: 4 } });
    expect(await myEntry(t.app, users[0].accessToken, eventId)).toMatchObject({ status: 'offered' });
    expect(await availability(t.app, eventId)).toMatchObject({ availableTickets: 0, heldTickets: 2 });

    // A type of its own, sold out, then raised.
    const eventB = await createEvent(t.app, organizer.accessToken, { totalTickets: 10, price: 2500 });
    const vip = await addType(t.app, organizer.accessToken, eventB, { name: 'VIP', price: 5000, capacity: 1 });
    const seller = users[7];
    expect((await book(t.app, seller.accessToken, { eventId: eventB, items: [{ ticketTypeId: vip.id, quantity: 1 }] })).statusCode).toBe(201);
    const entry = await join(t.app, users[1].accessToken, eventB, { quantity: 1, ticketTypeId: vip.id });
    expect(entry.statusCode, entry.body).toBe(201);
    const patched = await patchType(t.app, organizer.accessToken, eventB, vip.id, { capacity: 2 });
    expect(patched.statusCode, patched.body).toBe(200);
    const offered = await myEntry(t.app, users[1].accessToken, eventB);
    expect(offered).toMatchObject({ status: 'offered', ticketTypeId: vip.id });
    const offerBooking = await t.app.inject({
      method: 'GET',
      url: `/api/v1/bookings/${(offered.offer as { bookingId: string }).bookingId}`,
      headers: bearer(users[1].accessToken),
    });
    expect(bookingOf(offerBooking)).toMatchObject({ status: 'pending', totalPrice: 5000, items: [{ ticketTypeId: vip.id, quantity: 1 }] });
  });
});

describe('cost (DESIGN.md 12)', () => {
  it('a sale or a cancellation of an event nobody waits for never reads the queue', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 10 });
    const find = vi.spyOn(t.app.models.WaitlistEntry, 'find');
    const update = vi.spyOn(t.app.models.WaitlistEntry, 'updateOne');
    try {
      const b = bookingOf(await book(t.app, users[0].accessToken, { eventId, quantity: 2 }));
      expect((await confirm(t.app, users[0].accessToken, b.id)).statusCode).toBe(200);
      expect((await cancel(t.app, users[0].accessToken, b.id)).statusCode).toBe(200);
      expect(find).not.toHaveBeenCalled();
      expect(update).not.toHaveBeenCalled();
    } finally {
      find.mockRestore();
      update.mockRestore();
    }
  });
});

describe('the periodic sweep', () => {
  it('runs on one instance at a time: a lease another holder keeps is refused until it runs out', async () => {
    const now = t.clock.now();
    expect(await takeLease(t.app.models, 'instance-a', now, 30_000)).toBe(true);
    expect(await takeLease(t.app.models, 'instance-b', now, 30_000)).toBe(false);
    // Its holder renews it; the other still waits.
    expect(await takeLease(t.app.models, 'instance-a', new Date(now.getTime() + 20_000), 30_000)).toBe(true);
    expect(await takeLease(t.app.models, 'instance-b', new Date(now.getTime() + 40_000), 30_000)).toBe(false);
    // The holder stopped renewing: once the lease runs out, another instance takes over.
    expect(await takeLease(t.app.models, 'instance-b', new Date(now.getTime() + 50_001), 30_000)).toBe(true);
    expect(await takeLease(t.app.models, 'instance-a', new Date(now.getTime() + 60_000), 30_000)).toBe(false);
  });
});

describe('bad input', () => {
  it('refuses joins that make no sense, with clear 4xx answers that change nothing', async () => {
    const open = await createEvent(t.app, organizer.accessToken, { totalTickets: 5, maxTicketsPerBooking: 4 });
    const available = await join(t.app, users[0].accessToken, open, { quantity: 2 });
    expect(available.statusCode).toBe(409);
    expect(available.json()).toMatchObject({ code: 'TICKETS_AVAILABLE', availableTickets: 5 });

    const { eventId } = await soldOut(1);
    const over = await join(t.app, users[0].accessToken, eventId, { quantity: 11 });
    expect(over.statusCode).toBe(400);
    expect(over.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'quantity' }] });
    const otherType = await addType(t.app, organizer.accessToken, open, { name: 'Other', capacity: 1 });
    const foreign = await join(t.app, users[0].accessToken, eventId, { quantity: 1, ticketTypeId: otherType.id });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json()).toMatchObject({ code: 'NOT_FOUND' });
    for (const payload of [{}, { quantity: 0 }, { quantity: '1' }, { quantity: 1, extra: true }, { quantity: 1, ticketTypeId: 'nope' }, { quantity: { $gt: 0 } }]) {
      const res = await join(t.app, users[0].accessToken, eventId, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    const noKey = await t.app.inject({
      method: 'POST',
      url: `/api/v1/events/${eventId}/waitlist`,
      headers: bearer(users[0].accessToken),
      payload: { quantity: 1 },
    });
    expect(noKey.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REQUIRED' });
    expect((await join(t.app, 'nope', eventId, { quantity: 1 })).statusCode).toBe(401);
    expect((await join(t.app, users[0].accessToken, 'abc', { quantity: 1 })).statusCode).toBe(400);
    expect((await join(t.app, users[0].accessToken, '0123456789abcdef01234567', { quantity: 1 })).statusCode).toBe(404);
    expect((await leave(t.app, users[0].accessToken, eventId)).statusCode).toBe(404);
    expect((await mine(t.app, users[0].accessToken, eventId)).statusCode).toBe(404);
    // Nothing of it was recorded.
    expect(await t.app.models.WaitlistEntry.countDocuments({ eventId })).toBe(0);
    const draft = await createEvent(t.app, organizer.accessToken, { status: 'draft' });
    expect((await join(t.app, users[0].accessToken, draft, { quantity: 1 })).statusCode).toBe(404);
  });
});
