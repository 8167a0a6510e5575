import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { cancel, createEvent } from './fixtures/bookings.js';
import { defaultTypeId } from './fixtures/ticket-types.js';
import { doorSetup, freeTickets, scan, scanBatch, stats, type TicketBody } from './fixtures/tickets.js';
import { buildTestApp, type TestApp } from './helper.js';

/** Door staff, who may scan where, offline batches (earliest scan wins) and the computed stats. */

let t: TestApp;
let organizer: TestAccount;
let buyer: TestAccount;
let eventId: string;

beforeAll(async () => {
  t = await buildTestApp();
  ({ organizer, eventId } = await doorSetup(t.app));
  buyer = await createAccount(t.app);
});
afterAll(() => t?.close());

const staffUrl = (id: string, userId?: string) => `/api/v1/events/${id}/staff${userId ? `/${userId}` : ''}`;

function addStaff(token: string, id: string, userId: string) {
  return t.app.inject({ method: 'POST', url: staffUrl(id), headers: bearer(token), payload: { userId } });
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('staff and roles', () => {
  let staff: TestAccount;
  let otherOrganizer: TestAccount;
  let otherStaff: TestAccount;
  let customer: TestAccount;
  let ticket: TicketBody;

  beforeAll(async () => {
    staff = await createAccount(t.app);
    customer = await createAccount(t.app);
    otherStaff = await createAccount(t.app);
    otherOrganizer = await createAccount(t.app, { role: 'organizer' });
    const otherEvent = await createEvent(t.app, otherOrganizer.accessToken, { price: 0 });
    expect((await addStaff(otherOrganizer.accessToken, otherEvent, otherStaff.user.id)).statusCode).toBe(201);
    ticket = (await freeTickets(t.app, buyer, eventId, 1)).tickets[0];
  });

  it('the organizer adds staff (201), adding again changes nothing (200), lists them, removes them (204)', async () => {
    const added = await addStaff(organizer.accessToken, eventId, staff.user.id);
    expect(added.statusCode, added.body).toBe(201);
    expect(added.json()).toMatchObject({ data: { eventId, userId: staff.user.id, user: { id: staff.user.id, email: staff.user.email } } });
    expect((await addStaff(organizer.accessToken, eventId, staff.user.id)).statusCode).toBe(200);
    const list = await t.app.inject({ method: 'GET', url: staffUrl(eventId), headers: bearer(organizer.accessToken) });
    expect(list.json()).toMatchObject({ data: [{ userId: staff.user.id }], meta: { total: 1, page: 1 } });
    expect((await addStaff(organizer.accessToken, eventId, '0123456789abcdef01234567')).statusCode).toBe(404);
    expect((await addStaff(organizer.accessToken, eventId, 'nope')).statusCode).toBe(400);
    const extra = await t.app.inject({ method: 'POST', url: staffUrl(eventId), headers: bearer(organizer.accessToken), payload: { userId: staff.user.id, role: 'admin' } });
    expect(extra.statusCode).toBe(400);
  });

  it('staff check tickets in at their event, read the key and the stats, and do nothing else', async () => {
    const key = await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}/check-in-key`, headers: bearer(staff.accessToken) });
    expect(key.statusCode).toBe(200);
    expect((await stats(t.app, staff.accessToken, eventId)).tickets).toBeGreaterThan(0);
    expect((await scan(t.app, staff.accessToken, eventId, { code: ticket.code })).statusCode).toBe(200);
    // Nothing else: not the staff list, not the event's bookings, not editing the event.
    const tries = [
      { method: 'GET' as const, url: staffUrl(eventId) },
      { method: 'POST' as const, url: staffUrl(eventId), payload: { userId: customer.user.id } },
      { method: 'DELETE' as const, url: staffUrl(eventId, staff.user.id) },
      { method: 'GET' as const, url: `/api/v1/events/${eventId}/bookings` },
      { method: 'PATCH' as const, url: `/api/v1/events/${eventId}`, payload: { name: 'Mine now' } },
      { method: 'POST' as const, url: `/api/v1/events/${eventId}/cancel` },
      { method: 'GET' as const, url: `/api/v1/tickets/${ticket.id}` },
    ];
    for (const req of tries) {
      const res = await t.app.inject({ ...req, headers: bearer(staff.accessToken) });
      expect([403, 404], `${req.method} ${req.url}: ${res.statusCode}`).toContain(res.statusCode);
    }
  });

  it('a customer, another event\'s organizer and another event\'s staff: 403 on a published event, 404 on a draft', async () => {
    const draft = await createEvent(t.app, organizer.accessToken, { price: 0, status: 'draft' });
    const code = ticket.code;
    for (const who of [customer, otherOrganizer, otherStaff]) {
      for (const [id, status] of [
        [eventId, 403],
        [draft, 404],
      ] as const) {
        const answers = [
          await scan(t.app, who.accessToken, id, { code }),
          await scanBatch(t.app, who.accessToken, id, [{ code, scannedAt: iso(t.clock.now().getTime()) }]),
          await t.app.inject({ method: 'GET', url: `/api/v1/events/${id}/check-in-key`, headers: bearer(who.accessToken) }),
          await t.app.inject({ method: 'GET', url: `/api/v1/events/${id}/check-ins/stats`, headers: bearer(who.accessToken) }),
          await addStaff(who.accessToken, id, who.user.id),
        ];
        for (const res of answers) expect(res.statusCode, res.body).toBe(status);
      }
    }
    // No token at all: 401.
    expect((await t.app.inject({ method: 'POST', url: `/api/v1/events/${eventId}/check-ins`, payload: { code } })).statusCode).toBe(401);
  });

  it('removed staff lose the door at once', async () => {
    const removed = await t.app.inject({ method: 'DELETE', url: staffUrl(eventId, staff.user.id), headers: bearer(organizer.accessToken) });
    expect(removed.statusCode).toBe(204);
    const next = (await freeTickets(t.app, buyer, eventId, 1)).tickets[0];
    expect((await scan(t.app, staff.accessToken, eventId, { code: next.code })).statusCode).toBe(403);
    const again = await t.app.inject({ method: 'DELETE', url: staffUrl(eventId, staff.user.id), headers: bearer(organizer.accessToken) });
    expect(again.statusCode).toBe(404);
  });
});

describe('offline batches', () => {
  interface Result {
    index: number;
    status: number;
    code: string | null;
    checkedInAt: string | null;
    ticketId: string | null;
    ticket: TicketBody | null;
  }
  const resultsOf = (res: { json: <T>() => T }) => res.json<{ data: { results: Result[] } }>().data.results;

  it('duplicates and out-of-order scannedAt: the earliest scan of each ticket wins, one result per scan', async () => {
    const [a, b] = (await freeTickets(t.app, buyer, eventId, 2)).tickets;
    const base = t.clock.now().getTime() - 3_600_000;
    const res = await scanBatch(t.app, organizer.accessToken, eventId, [
      { code: a.code, scannedAt: iso(base + 30_000) },
      { code: b.code, scannedAt: iso(base + 5_000) },
      { code: a.code, scannedAt: iso(base + 10_000) }, // a's earliest
      { code: 'garbage', scannedAt: iso(base) },
      { code: a.code, scannedAt: iso(base + 20_000) },
      { code: b.code, scannedAt: iso(base + 5_000) }, // same time as b's first: the one sent first wins
    ]);
    expect(res.statusCode, res.body).toBe(200);
    const results = resultsOf(res);
    expect(results.map((r) => [r.index, r.status, r.code])).toEqual([
      [0, 409, 'ALREADY_CHECKED_IN'],
      [1, 200, null],
      [2, 200, null],
      [3, 422, 'INVALID_TICKET_CODE'],
      [4, 409, 'ALREADY_CHECKED_IN'],
      [5, 409, 'ALREADY_CHECKED_IN'],
    ]);
    expect(results[2].ticket).toMatchObject({ id: a.id, status: 'checked_in', checkedInAt: iso(base + 10_000) });
    for (const i of [0, 4]) expect(results[i].checkedInAt).toBe(iso(base + 10_000));
    expect(results[5].checkedInAt).toBe(iso(base + 5_000));
  });

  it('a later upload with an earlier scan takes over; a later scan does not; online scans after that are 409', async () => {
    const [c] = (await freeTickets(t.app, buyer, eventId, 1)).tickets;
    const now = t.clock.now().getTime();
    const online = await scan(t.app, organizer.accessToken, eventId, { code: c.code });
    expect(online.statusCode).toBe(200);
    const later = resultsOf(await scanBatch(t.app, organizer.accessToken, eventId, [{ code: c.code, scannedAt: iso(now + 60_000) }]));
    expect(later[0]).toMatchObject({ status: 409, checkedInAt: iso(now) });
    const earlier = resultsOf(await scanBatch(t.app, organizer.accessToken, eventId, [{ code: c.code, scannedAt: iso(now - 60_000) }]));
    expect(earlier[0]).toMatchObject({ status: 200, checkedInAt: iso(now - 60_000) });
    // Sending the same batch again: its scan is no longer earlier than the record.
    const resent = resultsOf(await scanBatch(t.app, organizer.accessToken, eventId, [{ code: c.code, scannedAt: iso(now - 60_000) }]));
    expect(resent[0]).toMatchObject({ status: 409, checkedInAt: iso(now - 60_000) });
    const after = await scan(t.app, organizer.accessToken, eventId, { code: c.code });
    expect(after.json()).toMatchObject({ code: 'ALREADY_CHECKED_IN', checkedInAt: iso(now - 60_000) });
  });

  it('void tickets and other events\' tickets in a batch get their own answers', async () => {
    const voided = await freeTickets(t.app, buyer, eventId, 1);
    expect((await cancel(t.app, buyer.accessToken, voided.bookingId)).statusCode).toBe(200);
    const other = await createEvent(t.app, organizer.accessToken, { price: 0 });
    const foreign = (await freeTickets(t.app, buyer, other, 1)).tickets[0];
    const at = iso(t.clock.now().getTime());
    const results = resultsOf(
      await scanBatch(t.app, organizer.accessToken, eventId, [
        { code: voided.tickets[0].code, scannedAt: at },
        { code: foreign.code, scannedAt: at },
      ]),
    );
    expect(results.map((r) => [r.status, r.code])).toEqual([
      [410, 'TICKET_VOID'],
      [422, 'WRONG_EVENT'],
    ]);
  });

  it('a full batch of 500 scans (250 tickets, each twice, concurrently with a second batch) admits each ticket once', async () => {
    const tickets = [
      ...(await freeTickets(t.app, buyer, eventId, 100)).tickets,
      ...(await freeTickets(t.app, buyer, eventId, 100)).tickets,
      ...(await freeTickets(t.app, buyer, eventId, 50)).tickets,
    ];
    const base = t.clock.now().getTime() - 600_000;
    const scansA = tickets.flatMap((x, i) => [
      { code: x.code, scannedAt: iso(base + i * 1000 + 500) },
      { code: x.code, scannedAt: iso(base + i * 1000 + 100) },
    ]);
    // A second scanner saw every even ticket earlier still, and uploads at the same moment.
    const scansB = tickets.filter((_, i) => i % 2 === 0).map((x) => ({ code: x.code, scannedAt: iso(base - 1000) }));
    const [a, b] = await Promise.all([
      scanBatch(t.app, organizer.accessToken, eventId, scansA),
      scanBatch(t.app, organizer.accessToken, eventId, scansB),
    ]);
    expect(a.statusCode, a.body.slice(0, 300)).toBe(200);
    expect(b.statusCode).toBe(200);
    expect(resultsOf(a)).toHaveLength(500);
    expect(resultsOf(b).every((r) => r.status === 200)).toBe(true);
    // Whatever the interleaving, each ticket ends at its earliest scan.
    for (const [i, x] of tickets.entries()) {
      const read = await t.app.inject({ method: 'GET', url: `/api/v1/tickets/${x.id}`, headers: bearer(buyer.accessToken) });
      const expected = i % 2 === 0 ? iso(base - 1000) : iso(base + i * 1000 + 100);
      expect(read.json<{ data: TicketBody }>().data.checkedInAt).toBe(expected);
    }
  });

  it('refuses bad batches whole: over 500 scans, a scan from the future, unknown fields', async () => {
    const [d] = (await freeTickets(t.app, buyer, eventId, 1)).tickets;
    const at = iso(t.clock.now().getTime());
    const tooMany = Array.from({ length: 501 }, () => ({ code: d.code, scannedAt: at }));
    expect((await scanBatch(t.app, organizer.accessToken, eventId, tooMany)).statusCode).toBe(400);
    const future = await scanBatch(t.app, organizer.accessToken, eventId, [
      { code: d.code, scannedAt: at },
      { code: d.code, scannedAt: iso(t.clock.now().getTime() + 3_600_000) },
    ]);
    expect(future.statusCode).toBe(400);
    expect(future.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ path: 'scans.1.scannedAt' }] });
    const typo = await t.app.inject({
      method: 'POST',
      url: `/api/v1/events/${eventId}/check-ins/batch`,
      headers: bearer(organizer.accessToken),
      payload: { scans: [{ code: d.code, scannedAt: at, door: 3 }] },
    });
    expect(typo.statusCode).toBe(400);
    expect((await scanBatch(t.app, organizer.accessToken, eventId, [])).statusCode).toBe(400);
    // None of that checked the ticket in.
    const read = await t.app.inject({ method: 'GET', url: `/api/v1/tickets/${d.id}`, headers: bearer(buyer.accessToken) });
    expect(read.json()).toMatchObject({ data: { status: 'valid' } });
  });
});

describe('void tickets', () => {
  it('cancelling the event voids every ticket of it: scans are 410, the owner sees void, stats count none', async () => {
    const { organizer: org, eventId: id } = await doorSetup(t.app);
    const { tickets } = await freeTickets(t.app, buyer, id, 3);
    expect((await scan(t.app, org.accessToken, id, { code: tickets[0].code })).statusCode).toBe(200);
    const cancelled = await t.app.inject({ method: 'POST', url: `/api/v1/events/${id}/cancel`, headers: bearer(org.accessToken) });
    expect(cancelled.statusCode).toBe(200);
    for (const x of tickets) {
      const res = await scan(t.app, org.accessToken, id, { code: x.code });
      expect(res.statusCode).toBe(410);
      expect(res.json()).toMatchObject({ code: 'TICKET_VOID' });
      const read = await t.app.inject({ method: 'GET', url: `/api/v1/tickets/${x.id}`, headers: bearer(buyer.accessToken) });
      expect(read.json()).toMatchObject({ data: { status: 'void' } });
    }
    expect(await stats(t.app, org.accessToken, id)).toMatchObject({ checkedIn: 0, tickets: 0 });
  });
});

describe('Idempotency-Key on check-ins (honoured when sent)', () => {
  function keyed(key: string, code: string) {
    return t.app.inject({
      method: 'POST',
      url: `/api/v1/events/${eventId}/check-ins`,
      headers: { ...bearer(organizer.accessToken), 'idempotency-key': key },
      payload: { code },
    });
  }

  it('a retried scan with its key gets its 200 back; another code under that key is 422; no key is 409', async () => {
    const [a, b] = (await freeTickets(t.app, buyer, eventId, 2)).tickets;
    const key = `door-1-${a.id}`;
    const first = await keyed(key, a.code);
    expect(first.statusCode).toBe(200);
    const retry = await keyed(key, a.code);
    expect(retry.statusCode).toBe(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toBe(first.body);
    const reused = await keyed(key, b.code);
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    const unkeyed = await scan(t.app, organizer.accessToken, eventId, { code: a.code });
    expect(unkeyed.statusCode).toBe(409);
    // b was not checked in by the refused reuse.
    expect((await scan(t.app, organizer.accessToken, eventId, { code: b.code })).statusCode).toBe(200);
    const bad = await t.app.inject({
      method: 'POST',
      url: `/api/v1/events/${eventId}/check-ins`,
      headers: { ...bearer(organizer.accessToken), 'idempotency-key': 'x'.repeat(256) },
      payload: { code: a.code },
    });
    expect(bad.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_INVALID' });
  });
});

describe('stats', () => {
  it('counts valid tickets and check-ins, computed: cancelled bookings drop out', async () => {
    const { organizer: org, eventId: id } = await doorSetup(t.app);
    expect(await stats(t.app, org.accessToken, id)).toEqual({ checkedIn: 0, tickets: 0, byTicketType: [] });
    const first = await freeTickets(t.app, buyer, id, 5);
    const second = await freeTickets(t.app, buyer, id, 3);
    for (const x of first.tickets.slice(0, 3)) expect((await scan(t.app, org.accessToken, id, { code: x.code })).statusCode).toBe(200);
    expect((await scan(t.app, org.accessToken, id, { code: second.tickets[0].code })).statusCode).toBe(200);
    expect(await stats(t.app, org.accessToken, id)).toEqual({
      checkedIn: 4,
      tickets: 8,
      // Sold as the event's only (default) type, so that is the type of every ticket.
      byTicketType: [{ ticketTypeId: await defaultTypeId(t.app, id, org.accessToken), checkedIn: 4, tickets: 8 }],
    });
    expect((await cancel(t.app, buyer.accessToken, second.bookingId)).statusCode).toBe(200);
    expect(await stats(t.app, org.accessToken, id)).toMatchObject({ checkedIn: 3, tickets: 5 });
  });
});
