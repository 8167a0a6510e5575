import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, cancel, createEvent } from './fixtures/bookings.js';
import { entryOf, join, mine } from './fixtures/waitlist.js';
import { outboxRows } from './fixtures/webhooks.js';
import { buildTestApp, type TestApp } from './helper.js';
import { SmtpSink } from './support/smtp-sink.js';

/**
 * `waitlist.offered` (API.md "Notifications and webhooks"): every offer writes one outbox message in
 * the offering transaction, carrying `{ booking }` like the booking.* messages, and the worker turns
 * it into the offer email to the entry's owner (read back from a real SMTP server).
 */

let t: TestApp;
let smtp: SmtpSink;
let organizer: TestAccount;

beforeAll(async () => {
  smtp = await SmtpSink.start();
  t = await buildTestApp({
    env: { SMTP_URL: smtp.url, MAIL_FROM: 'Tickets <tickets@example.test>', WAITLIST_SWEEP_SECONDS: '0', ACCESS_TOKEN_TTL_SECONDS: String(86_400) },
  });
  organizer = await createAccount(t.app, { role: 'organizer' });
});
afterAll(async () => {
  await t.close();
  await smtp.close();
});

const offeredRows = async (eventId: string) => outboxRows(t.app, { kind: 'message', eventId, type: 'waitlist.offered' });

describe('waitlist.offered', () => {
  it('a cancellation that makes an offer writes one waitlist.offered message, and its owner gets the offer email', async () => {
    const buyer = await createAccount(t.app);
    const waiter = await createAccount(t.app, { name: 'Grace' });
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 2, price: 1000 });
    const held = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 2 }));
    expect((await join(t.app, waiter.accessToken, eventId, { quantity: 2 })).statusCode).toBe(201);
    expect(await offeredRows(eventId)).toHaveLength(0);

    expect((await cancel(t.app, buyer.accessToken, held.id)).statusCode).toBe(200);
    const entry = entryOf(await mine(t.app, waiter.accessToken, eventId));
    expect(entry.status).toBe('offered');
    const rows = await offeredRows(eventId);
    expect(rows).toHaveLength(1);
    const data = rows[0]!.data as { booking: Record<string, unknown>; waitlistEntry: Record<string, unknown> };
    expect(data.booking).toMatchObject({ id: entry.offer!.bookingId, userId: waiter.user.id, status: 'pending', quantity: 2, totalPrice: 2000 });
    expect(data.waitlistEntry).toMatchObject({ id: entry.id, quantity: 2, offerExpiresAt: entry.offer!.expiresAt });

    await t.app.outboxRuntime.worker.drain();
    const mails = smtp.to(waiter.user.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toMatch(/^Tickets for .+ are waiting for you$/);
    expect(mails[0]!.text).toContain('Hello Grace,');
    expect(mails[0]!.text).toContain(`Confirm booking ${entry.offer!.bookingId}`);
  });

  it('the hold sweeper serves the queue when an expired hold is found, in its transaction', async () => {
    const buyer = await createAccount(t.app);
    const waiter = await createAccount(t.app);
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 1, price: 500 });
    bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 1 }));
    expect((await join(t.app, waiter.accessToken, eventId, { quantity: 1 })).statusCode).toBe(201);
    t.clock.advance(t.config.HOLD_TTL_SECONDS * 1000 + 1000);
    expect(entryOf(await mine(t.app, waiter.accessToken, eventId)).status).toBe('waiting');

    expect(await t.app.outboxRuntime.sweepOnce()).toMatchObject({ expired: 1 });
    const entry = entryOf(await mine(t.app, waiter.accessToken, eventId));
    expect(entry.status).toBe('offered');
    const types = (await outboxRows(t.app, { kind: 'message', eventId })).map((m) => m.type);
    expect(types).toEqual(['booking.created', 'booking.expired', 'waitlist.offered']);
  });

  it('cancelling the event closes its queue: waiting entries and open offers leave it', async () => {
    const buyer = await createAccount(t.app);
    const [first, second] = [await createAccount(t.app), await createAccount(t.app)];
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 1, price: 500 });
    const held = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 1 }));
    expect((await join(t.app, first.accessToken, eventId, { quantity: 1 })).statusCode).toBe(201);
    expect((await join(t.app, second.accessToken, eventId, { quantity: 1 })).statusCode).toBe(201);
    expect((await cancel(t.app, buyer.accessToken, held.id)).statusCode).toBe(200);
    expect(entryOf(await mine(t.app, first.accessToken, eventId)).status).toBe('offered');

    const res = await t.app.inject({ method: 'POST', url: `/api/v1/events/${eventId}/cancel`, headers: bearer(organizer.accessToken) });
    expect(res.statusCode).toBe(200);
    expect(entryOf(await mine(t.app, first.accessToken, eventId)).status).toBe('left');
    expect(entryOf(await mine(t.app, second.accessToken, eventId)).status).toBe('left');
    const event = await t.app.models.Event.findById(eventId).lean();
    expect(event?.waitlist?.waiting).toBe(0);
  });
});
