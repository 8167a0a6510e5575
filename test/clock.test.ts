// DESIGN.md 2: one clock that tests can move. Every time the service stores, including the
// createdAt/updatedAt Mongoose fills in, comes from the app clock, never from the wall clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/lib/clock.js';
import { buildTestApp, type TestApp } from './helper.js';
import { bearer, createAccount } from './fixtures/accounts.js';
import { book, bookingOf, createEvent } from './fixtures/bookings.js';

// Far from the wall clock, so a timestamp taken from it could not pass for the app's.
const start = new Date(Date.now() + 400 * 86_400_000);
start.setUTCMilliseconds(0);
let t: TestApp;

beforeAll(async () => {
  t = await buildTestApp({ clock: manualClock(start) });
});
afterAll(() => t.close());

describe('stored timestamps follow the app clock', () => {
  it('for accounts, events, bookings, and bookings an event cancel changes', async () => {
    const organizer = await createAccount(t.app, { role: 'organizer' });
    const buyer = await createAccount(t.app);
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: bearer(buyer.accessToken) });
    expect(me.json().data.createdAt).toBe(start.toISOString());

    const eventId = await createEvent(t.app, organizer.accessToken);
    const event = await t.app.models.Event.findById(eventId).lean();
    expect(event?.createdAt.toISOString()).toBe(start.toISOString());
    expect(event?.updatedAt.toISOString()).toBe(start.toISOString());

    const held = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 2 }));
    expect(held.createdAt).toBe(start.toISOString());

    t.clock.advance(60_000);
    const later = new Date(start.getTime() + 60_000).toISOString();
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/events/${eventId}`,
      headers: bearer(organizer.accessToken),
      payload: { venue: 'Other Hall' },
    });
    expect(patched.statusCode).toBe(200);
    expect((await t.app.models.Event.findById(eventId).lean())?.updatedAt.toISOString()).toBe(later);

    t.clock.advance(60_000);
    const cancelledAt = new Date(start.getTime() + 120_000).toISOString();
    const cancel = await t.app.inject({ method: 'POST', url: `/api/v1/events/${eventId}/cancel`, headers: bearer(organizer.accessToken) });
    expect(cancel.statusCode).toBe(200);
    const booking = await t.app.inject({ method: 'GET', url: `/api/v1/bookings/${held.id}`, headers: bearer(buyer.accessToken) });
    expect(booking.json().data).toMatchObject({ status: 'cancelled', createdAt: start.toISOString(), updatedAt: cancelledAt });
  });
});
