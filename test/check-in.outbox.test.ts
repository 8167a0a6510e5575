import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { freeTickets, doorSetup, scan, scanBatch } from './fixtures/tickets.js';
import { outboxRows, registerWebhook } from './fixtures/webhooks.js';
import { buildTestApp, type TestApp } from './helper.js';
import { failCommand, failPointOff, uriWithAppName } from './support/failpoint.js';
import { WebhookReceiver } from './support/webhook-receiver.js';

/**
 * ticket.checked_in (DESIGN.md 9): the check-in's conditional write and its outbox message commit
 * together or not at all; exactly one message per ticket let in, however many doors scan it.
 */

const appName = `checkin-outbox-${randomUUID().slice(0, 8)}`;
let t: TestApp;
let receiver: WebhookReceiver;
let organizer: TestAccount;
let buyer: TestAccount;
let eventId: string;

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  t = await buildTestApp({ env: { MONGODB_URI: uriWithAppName(appName), WEBHOOKS_ALLOW_PRIVATE: 'true' } });
  ({ organizer, eventId } = await doorSetup(t.app));
  buyer = await createAccount(t.app);
}, 60_000);
afterAll(async () => {
  await t.close();
  await receiver.close();
});

const checkedInRows = (ticketId?: string) =>
  outboxRows(t.app, { kind: 'message', type: 'ticket.checked_in', ...(ticketId ? { 'data.ticket.id': ticketId } : { eventId }) });

describe('ticket.checked_in', () => {
  it('a scan writes one message, delivered to the organizer webhook with the ticket', async () => {
    const hook = await registerWebhook(t.app, organizer.accessToken, { url: receiver.url, events: ['ticket.checked_in'], eventId });
    receiver.secret = hook.secret;
    const { bookingId, tickets } = await freeTickets(t.app, buyer, eventId, 1);
    const [ticket] = tickets;
    const res = await scan(t.app, organizer.accessToken, eventId, { code: ticket.code });
    expect(res.statusCode, res.body).toBe(200);
    const rows = await checkedInRows(ticket.id);
    expect(rows).toHaveLength(1);
    expect(rows[0].data).toMatchObject({
      ticket: { id: ticket.id, number: ticket.number, bookingId, eventId, checkedInBy: organizer.user.id },
    });
    await t.app.outboxRuntime.worker.drain();
    const got = receiver.received.filter((r) => r.body.type === 'ticket.checked_in' && (r.body.data.ticket as { id: string }).id === ticket.id);
    expect(got).toHaveLength(1);
    expect(got[0].verified).toBe(true);
  });

  it('two doors (and forty scans) at once: one 200, the rest 409, one message', async () => {
    const [ticket] = (await freeTickets(t.app, buyer, eventId, 1)).tickets;
    const answers = await Promise.all(Array.from({ length: 40 }, () => scan(t.app, organizer.accessToken, eventId, { code: ticket.code })));
    const codes = answers.map((a) => a.statusCode).sort();
    expect(codes.filter((c) => c === 200)).toHaveLength(1);
    expect(codes.filter((c) => c === 409)).toHaveLength(39);
    expect(await checkedInRows(ticket.id)).toHaveLength(1);
  });

  it('a batch writes one message per ticket newly checked in; moving a recorded time earlier announces nothing', async () => {
    const { tickets } = await freeTickets(t.app, buyer, eventId, 3);
    const [a, b, c] = tickets;
    const now = t.clock.now().getTime();
    expect((await scan(t.app, organizer.accessToken, eventId, { code: a.code })).statusCode).toBe(200);
    const iso = (ms: number) => new Date(ms).toISOString();
    const scans = [a, b, c, b, c, a].map((x, i) => ({ code: x.code, scannedAt: iso(now - 60_000 * (i + 1)) }));
    const res = await scanBatch(t.app, organizer.accessToken, eventId, scans);
    expect(res.statusCode, res.body).toBe(200);
    for (const x of tickets) expect(await checkedInRows(x.id), x.number).toHaveLength(1);
    // The same batch again: every ticket is recorded at its earliest scan already, nothing new.
    expect((await scanBatch(t.app, organizer.accessToken, eventId, scans)).statusCode).toBe(200);
    for (const x of tickets) expect(await checkedInRows(x.id), x.number).toHaveLength(1);
  });

  it('when the message cannot be written, or the commit fails, the ticket stays unchecked and nothing is announced', async () => {
    const [ticket] = (await freeTickets(t.app, buyer, eventId, 1)).tickets;
    const unchecked = async () => {
      const booking = await t.app.models.Booking.findOne({ 'tickets._id': ticket.id }).lean();
      return booking?.tickets.find((x) => String(x._id) === ticket.id)?.checkedInAt ?? null;
    };
    // The check-in transaction's only insert is its message.
    for (const failCommands of [['insert'], ['commitTransaction']]) {
      await failCommand(t.app, appName, { times: 1 }, { failCommands, errorCode: 2 });
      let res;
      try {
        res = await scan(t.app, organizer.accessToken, eventId, { code: ticket.code });
      } finally {
        await failPointOff(t.app);
      }
      expect(res.statusCode, failCommands[0]).toBeGreaterThanOrEqual(500);
      expect(await unchecked(), failCommands[0]).toBeNull();
      expect(await checkedInRows(ticket.id)).toHaveLength(0);
    }
    const batch = [{ code: ticket.code, scannedAt: t.clock.now().toISOString() }];
    await failCommand(t.app, appName, { times: 1 }, { failCommands: ['insert'], errorCode: 2 });
    try {
      expect((await scanBatch(t.app, organizer.accessToken, eventId, batch)).statusCode).toBeGreaterThanOrEqual(500);
    } finally {
      await failPointOff(t.app);
    }
    expect(await unchecked()).toBeNull();
    expect(await checkedInRows(ticket.id)).toHaveLength(0);

    // Nothing failing: checked in, one message.
    expect((await scan(t.app, organizer.accessToken, eventId, { code: ticket.code })).statusCode).toBe(200);
    expect(await unchecked()).not.toBeNull();
    expect(await checkedInRows(ticket.id)).toHaveLength(1);
  });
});
