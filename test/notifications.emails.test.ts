import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { assertMailConfigured } from '../src/notifications/mailer.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, confirm, createEvent } from './fixtures/bookings.js';
import { outboxRows } from './fixtures/webhooks.js';
import { buildTestApp, type TestApp } from './helper.js';
import { captureLogs } from './support/logs.js';
import { SmtpSink } from './support/smtp-sink.js';

/**
 * Emails (API.md "Notifications and webhooks") through nodemailer to a real SMTP server (the
 * `smtp-server` package), read back with `mailparser` as a mail client would show them.
 */

let t: TestApp;
let smtp: SmtpSink;
let organizer: TestAccount;

beforeAll(async () => {
  smtp = await SmtpSink.start();
  t = await buildTestApp({ env: { SMTP_URL: smtp.url, MAIL_FROM: 'Tickets <tickets@example.test>', HOLD_REMINDER_SECONDS: '120' } });
  organizer = await createAccount(t.app, { role: 'organizer' });
});
afterAll(async () => {
  await t.close();
  await smtp.close();
});

const drain = () => t.app.outboxRuntime.worker.drain();

describe('emails', () => {
  it('booking confirmed: to the buyer, text and HTML parts, each ticket attached as a QR code', async () => {
    const buyer = await createAccount(t.app, { name: 'Ada <Lovelace>' });
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 1250 });
    const held = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 3 }));
    await drain();
    expect(smtp.to(buyer.user.email)).toHaveLength(0); // a hold sends no email

    const confirmed = await confirm(t.app, buyer.accessToken, held.id);
    expect(confirmed.statusCode).toBe(200);
    const tickets = bookingOf(confirmed).tickets.map((x) => x.number);
    await drain();
    const [mail, ...more] = smtp.to(buyer.user.email);
    expect(more).toHaveLength(0);
    expect(mail!.from?.value).toEqual([{ name: 'Tickets', address: 'tickets@example.test' }]);
    expect(mail!.subject).toMatch(/^Your tickets for Concert /);
    expect(mail!.messageId).toMatch(/^<[a-f0-9]{24}@tickets\.invalid>$/);
    expect(mail!.text).toContain('Hello Ada <Lovelace>,');
    expect(mail!.text).toContain(`booking ${held.id}`);
    expect(mail!.text).toContain('37.50 EUR');
    for (const number of tickets) expect(mail!.text).toContain(`Ticket ${number}`);
    // The name is escaped in HTML, never markup.
    expect(mail!.html).toContain('Hello Ada &lt;Lovelace&gt;,');
    expect(mail!.html).not.toContain('<Lovelace>');
    expect(mail!.attachments.map((a) => a.filename).sort()).toEqual(tickets.map((n) => `ticket-${n}.png`).sort());
    for (const a of mail!.attachments) {
      expect(a.contentType).toBe('image/png');
      expect(a.content.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(a.content.length).toBeGreaterThan(200);
    }
  });

  it('a free booking is confirmed at once: one email, and booking.created plus booking.confirmed', async () => {
    const buyer = await createAccount(t.app);
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 0 });
    const booked = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 1 }));
    const messages = await outboxRows(t.app, { kind: 'message', eventId });
    expect(messages.map((m) => m.type)).toEqual(['booking.created', 'booking.confirmed']);
    await drain();
    const mails = smtp.to(buyer.user.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.attachments).toHaveLength(1);
    expect(mails[0]!.text).toContain(`Ticket ${booked.tickets[0]!.number}`);
  });

  it('hold expiring soon: one reminder at the lead time, none for a confirmed hold', async () => {
    const buyer = await createAccount(t.app);
    const other = await createAccount(t.app);
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 500 });
    const held = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 2 }));
    const paid = bookingOf(await book(t.app, other.accessToken, { eventId, quantity: 1 }));
    expect((await confirm(t.app, other.accessToken, paid.id)).statusCode).toBe(200);

    // Not yet within the lead time: nothing.
    expect(await t.app.outboxRuntime.sweepOnce()).toEqual({ reminded: 0, expired: 0 });
    t.clock.advance(10 * 60_000 - 119_000); // HOLD_TTL is 10 min, the lead 120 s
    expect(await t.app.outboxRuntime.sweepOnce()).toEqual({ reminded: 1, expired: 0 });
    expect(await t.app.outboxRuntime.sweepOnce()).toEqual({ reminded: 0, expired: 0 });
    await drain();
    const [mail, ...more] = smtp.to(buyer.user.email);
    expect(more).toHaveLength(0);
    expect(mail!.subject).toMatch(/expires soon$/);
    expect(mail!.text).toContain(`until ${held.expiresAt!.slice(0, 16).replace('T', ' ')} UTC`);
    expect(mail!.html).toContain(held.id);
    expect(smtp.to(other.user.email).map((m) => m.subject)).toEqual([expect.stringMatching(/^Your tickets/)]);
  });

  it('event cancelled: each buyer whose booking it cancelled, and nobody else', async () => {
    const [a, b, c] = await Promise.all([createAccount(t.app), createAccount(t.app), createAccount(t.app)]);
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 0 });
    bookingOf(await book(t.app, a.accessToken, { eventId, quantity: 1 }));
    bookingOf(await book(t.app, b.accessToken, { eventId, quantity: 2 }));
    const cancelledEarlier = bookingOf(await book(t.app, c.accessToken, { eventId, quantity: 1 }));
    expect((await t.app.inject({ method: 'PATCH', url: `/api/v1/bookings/${cancelledEarlier.id}/cancel`, headers: bearer(c.accessToken) })).statusCode).toBe(200);
    t.clock.advance(1000);
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/events/${eventId}/cancel`, headers: bearer(organizer.accessToken) });
    expect(res.statusCode).toBe(200);
    await drain();
    for (const who of [a, b]) {
      const cancelled = smtp.to(who.user.email).filter((m) => /has been cancelled$/.test(m.subject ?? ''));
      expect(cancelled, who.user.email).toHaveLength(1);
    }
    expect(smtp.to(c.user.email).filter((m) => /has been cancelled$/.test(m.subject ?? ''))).toHaveLength(0);
    const types = (await outboxRows(t.app, { kind: 'message', eventId })).map((m) => m.type);
    expect(types.filter((x) => x === 'event.cancelled')).toHaveLength(1);
    expect(types.filter((x) => x === 'booking.cancelled')).toHaveLength(1);
  });

  it('an SMTP server that is down: the email waits and is retried, not lost', async () => {
    const down = await buildTestApp({ env: { SMTP_URL: 'smtp://127.0.0.1:1' } });
    try {
      const owner = await createAccount(down.app, { role: 'organizer' });
      const buyer = await createAccount(down.app);
      const eventId = await createEvent(down.app, owner.accessToken, { price: 0 });
      expect((await book(down.app, buyer.accessToken, { eventId, quantity: 1 })).statusCode).toBe(201);
      await down.app.outboxRuntime.worker.drain();
      const [email] = await outboxRows(down.app, { kind: 'email' });
      expect(email).toMatchObject({ status: 'pending', attempts: 1, lastError: expect.stringMatching(/ECONNREFUSED|connect/i) });
    } finally {
      await down.close();
    }
  });

  it('without SMTP_URL, development logs the email instead', async () => {
    const logs = captureLogs();
    const quiet = await buildTestApp({ logStream: logs.stream });
    try {
      const owner = await createAccount(quiet.app, { role: 'organizer' });
      const buyer = await createAccount(quiet.app);
      const eventId = await createEvent(quiet.app, owner.accessToken, { price: 0 });
      expect((await book(quiet.app, buyer.accessToken, { eventId, quantity: 1 })).statusCode).toBe(201);
      await quiet.app.outboxRuntime.worker.drain();
      const line = logs.entries().find((l) => l.msg === 'email (not sent: SMTP_URL is not set)');
      expect(line).toMatchObject({ to: buyer.user.email, subject: expect.stringMatching(/^Your tickets/), attachments: 1 });
      expect((await outboxRows(quiet.app, { kind: 'email' }))[0]).toMatchObject({ status: 'delivered' });
    } finally {
      await quiet.close();
    }
  });

  it('production requires SMTP_URL to run the worker', () => {
    const production = { NODE_ENV: 'production', MONGODB_URI: 'mongodb://db:27017/t?replicaSet=rs0', REDIS_URL: 'redis://cache:6379', JWT_SECRET: 'x'.repeat(40), TICKET_SIGNING_KEY: '{}' };
    expect(() => assertMailConfigured(loadConfig(production))).toThrow(/SMTP_URL: is required in production/);
    expect(() => assertMailConfigured(loadConfig({ ...production, SMTP_URL: 'smtp://mail:587' }))).not.toThrow();
    expect(() => loadConfig({ ...production, SMTP_URL: 'http://mail' })).toThrow(/SMTP_URL/);
  });
});
