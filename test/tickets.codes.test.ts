import { createHmac, generateKeyPairSync } from 'node:crypto';
import { base64url, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { cancel, createEvent } from './fixtures/bookings.js';
import { defaultTypeId } from './fixtures/ticket-types.js';
import { doorSetup, freeTickets, scan, type TicketBody } from './fixtures/tickets.js';
import { buildTestApp, type TestApp } from './helper.js';
import { decodeQrPng, decodeQrSvg } from './support/qr.js';

/**
 * Ticket codes as a door would meet them: read from the QR image with a real decoder, verified
 * offline with nothing but the public key the API hands out, then checked in; and every kind of
 * forgery refused with the answer API.md names.
 */

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

async function checkInKey(token: string, id = eventId) {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/events/${id}/check-in-key`, headers: bearer(token) });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ data: { alg: string; publicKey: JWK; keys: JWK[] } }>().data;
}

function qr(ticketId: string, token: string, accept?: string) {
  return t.app.inject({
    method: 'GET',
    url: `/api/v1/tickets/${ticketId}/qr`,
    headers: { ...bearer(token), ...(accept ? { accept } : {}) },
  });
}

/** What an offline scanner does: verify with the published public key only. */
async function verifyOffline(code: string, publicKey: JWK) {
  const key = await importJWK(publicKey, 'EdDSA');
  return (await jwtVerify(code, key, { algorithms: ['EdDSA'] })).payload;
}

describe('round trip: QR image -> offline verification -> check-in', () => {
  it('decodes the PNG, verifies the code with only the public key, and checks the ticket in once', async () => {
    const { tickets } = await freeTickets(t.app, buyer, eventId, 2);
    const [ticket] = tickets;
    // A ticket of the event's only (default) type carries that type.
    const typeId = await defaultTypeId(t.app, eventId, organizer.accessToken);
    expect(ticket).toMatchObject({ status: 'valid', checkedInAt: null, ticketTypeId: typeId, seat: null });

    const png = await qr(ticket.id, buyer.accessToken, 'image/png');
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.headers['cache-control']).toBe('private, no-store');
    const decoded = decodeQrPng(png.rawPayload);
    expect(decoded).toBe(ticket.code);

    const key = await checkInKey(organizer.accessToken);
    expect(key.alg).toBe('EdDSA');
    expect(key.publicKey).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expect(key.publicKey).not.toHaveProperty('d');
    const payload = await verifyOffline(decoded as string, key.publicKey);
    expect(payload).toEqual({ sub: ticket.id, eid: eventId, num: ticket.number });

    const first = await scan(t.app, organizer.accessToken, eventId, { code: decoded });
    expect(first.statusCode, first.body).toBe(200);
    const answer = first.json<{ data: { ticket: TicketBody; checkedInAt: string } }>().data;
    expect(answer.ticket).toMatchObject({ id: ticket.id, number: ticket.number, status: 'checked_in' });
    expect(answer.ticket.checkedInAt).toBe(answer.checkedInAt);

    const again = await scan(t.app, organizer.accessToken, eventId, { code: decoded });
    expect(again.statusCode).toBe(409);
    expect(again.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(again.json()).toMatchObject({ code: 'ALREADY_CHECKED_IN', checkedInAt: answer.checkedInAt });

    // The owner's view of the ticket says so too.
    const read = await t.app.inject({ method: 'GET', url: `/api/v1/tickets/${ticket.id}`, headers: bearer(buyer.accessToken) });
    expect(read.json()).toMatchObject({ data: { id: ticket.id, status: 'checked_in', checkedInAt: answer.checkedInAt, eventId } });
  });

  it('serves SVG by default; its drawing decodes to the same code', async () => {
    const { tickets } = await freeTickets(t.app, buyer, eventId, 1);
    for (const accept of [undefined, '*/*', 'image/svg+xml', 'image/png;q=0.5, image/svg+xml']) {
      const res = await qr(tickets[0].id, buyer.accessToken, accept);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^image\/svg\+xml/);
      // The SVG's path is rasterised module by module (test/support/qr.ts), then read by jsQR.
      expect(decodeQrSvg(res.body)).toBe(tickets[0].code);
    }
    const png = await qr(tickets[0].id, buyer.accessToken, 'image/svg+xml;q=0.4, image/png');
    expect(png.headers['content-type']).toBe('image/png');
  });

  it('gives the QR image to the owner only: 404 to strangers, 403 to the organizer, 410 once void', async () => {
    const { bookingId, tickets } = await freeTickets(t.app, buyer, eventId, 1);
    const stranger = await createAccount(t.app);
    expect((await qr(tickets[0].id, stranger.accessToken)).statusCode).toBe(404);
    expect((await qr(tickets[0].id, organizer.accessToken)).statusCode).toBe(403);
    expect((await qr('0123456789abcdef01234567', buyer.accessToken)).statusCode).toBe(404);
    expect((await qr('not-an-id', buyer.accessToken)).statusCode).toBe(400);
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/tickets/${tickets[0].id}/qr` })).statusCode).toBe(401);
    expect((await cancel(t.app, buyer.accessToken, bookingId)).statusCode).toBe(200);
    const gone = await qr(tickets[0].id, buyer.accessToken);
    expect(gone.statusCode).toBe(410);
    expect(gone.json()).toMatchObject({ code: 'TICKET_VOID' });
  });
});

describe('concurrent scans', () => {
  it('20 scans of one ticket at once: exactly one 200, the rest 409 with that first time', async () => {
    const staff = await createAccount(t.app);
    const added = await t.app.inject({
      method: 'POST',
      url: `/api/v1/events/${eventId}/staff`,
      headers: bearer(organizer.accessToken),
      payload: { userId: staff.user.id },
    });
    expect(added.statusCode).toBe(201);
    const { tickets } = await freeTickets(t.app, buyer, eventId, 1);
    // Two doors: the organizer's scanner and the staff member's, interleaved.
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => scan(t.app, (i % 2 ? staff : organizer).accessToken, eventId, { code: tickets[0].code })),
    );
    const ok = answers.filter((r) => r.statusCode === 200);
    const conflicts = answers.filter((r) => r.statusCode === 409);
    expect(ok).toHaveLength(1);
    expect(conflicts).toHaveLength(19);
    const first = ok[0].json<{ data: { checkedInAt: string } }>().data.checkedInAt;
    for (const c of conflicts) expect(c.json()).toMatchObject({ code: 'ALREADY_CHECKED_IN', checkedInAt: first });
  });

  it('300 parallel scans of 100 tickets (3 each): exactly 100 admitted, each ticket once', async () => {
    const { tickets } = await freeTickets(t.app, buyer, eventId, 100);
    const codes = tickets.flatMap((x) => [x.code, x.code, x.code]);
    const answers = await Promise.all(codes.map((code) => scan(t.app, organizer.accessToken, eventId, { code })));
    const admitted = answers.filter((r) => r.statusCode === 200).map((r) => r.json<{ data: { ticket: TicketBody } }>().data.ticket.id);
    expect(admitted).toHaveLength(100);
    expect(new Set(admitted).size).toBe(100);
    expect(answers.filter((r) => r.statusCode === 409)).toHaveLength(200);
  });
});

describe('forged and foreign codes', () => {
  let ticket: TicketBody;
  let voidTicket: TicketBody;
  let otherEventTicket: TicketBody;

  beforeAll(async () => {
    ticket = (await freeTickets(t.app, buyer, eventId, 1)).tickets[0];
    const voided = await freeTickets(t.app, buyer, eventId, 1);
    voidTicket = voided.tickets[0];
    expect((await cancel(t.app, buyer.accessToken, voided.bookingId)).statusCode).toBe(200);
    const otherEvent = await createEvent(t.app, organizer.accessToken, { price: 0, totalTickets: 10 });
    otherEventTicket = (await freeTickets(t.app, buyer, otherEvent, 1)).tickets[0];
  });

  const parts = (code: string) => code.split('.') as [string, string, string];
  const json64 = (value: unknown) => base64url.encode(JSON.stringify(value));

  async function expectProblem(code: string, status: number, problem: string) {
    const res = await scan(t.app, organizer.accessToken, eventId, { code });
    expect(res.statusCode, `${problem}: ${res.body}`).toBe(status);
    expect(res.json()).toMatchObject({ code: problem });
  }

  it('a flipped byte anywhere, or a truncated code: 422 INVALID_TICKET_CODE', async () => {
    const [h, p, s] = parts(ticket.code);
    const sig = Buffer.from(base64url.decode(s));
    sig[10] ^= 0x01;
    await expectProblem(`${h}.${p}.${base64url.encode(sig)}`, 422, 'INVALID_TICKET_CODE');
    // The payload's number changed by one character, signature kept.
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p))) as Record<string, string>;
    const altered = { ...claims, num: `${claims.num.slice(0, -1)}${claims.num.endsWith('2') ? '3' : '2'}` };
    await expectProblem(`${h}.${json64(altered)}.${s}`, 422, 'INVALID_TICKET_CODE');
    await expectProblem(ticket.code.slice(0, -5), 422, 'INVALID_TICKET_CODE');
    await expectProblem(`${h}.${p}`, 422, 'INVALID_TICKET_CODE');
    await expectProblem('not a code at all', 422, 'INVALID_TICKET_CODE');
  });

  it('signed with another Ed25519 key (under our kid or its own): 422', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const kid = (await checkInKey(organizer.accessToken)).publicKey.kid as string;
    for (const header of [{ alg: 'EdDSA', kid, typ: 'ticket+jwt' }, { alg: 'EdDSA', kid: 'attacker', typ: 'ticket+jwt' }]) {
      const forged = await new SignJWT({ eid: eventId, num: ticket.number }).setSubject(ticket.id).setProtectedHeader(header).sign(privateKey);
      await expectProblem(forged, 422, 'INVALID_TICKET_CODE');
    }
  });

  it('another algorithm: HS256 keyed with the public key, ES256, and alg none: 422', async () => {
    const key = await checkInKey(organizer.accessToken);
    const body = json64({ sub: ticket.id, eid: eventId, num: ticket.number });
    // The classic confusion attack: HMAC with the public key as the secret.
    const hsHeader = json64({ alg: 'HS256', kid: key.publicKey.kid, typ: 'ticket+jwt' });
    const mac = createHmac('sha256', JSON.stringify(key.publicKey)).update(`${hsHeader}.${body}`).digest();
    await expectProblem(`${hsHeader}.${body}.${base64url.encode(mac)}`, 422, 'INVALID_TICKET_CODE');
    const macX = createHmac('sha256', Buffer.from(base64url.decode(key.publicKey.x as string))).update(`${hsHeader}.${body}`).digest();
    await expectProblem(`${hsHeader}.${body}.${base64url.encode(macX)}`, 422, 'INVALID_TICKET_CODE');

    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const es = await new SignJWT({ eid: eventId, num: ticket.number })
      .setSubject(ticket.id)
      .setProtectedHeader({ alg: 'ES256', kid: key.publicKey.kid, typ: 'ticket+jwt' })
      .sign(ec);
    await expectProblem(es, 422, 'INVALID_TICKET_CODE');

    for (const none of ['none', 'None', 'NONE']) {
      await expectProblem(`${json64({ alg: none, kid: key.publicKey.kid, typ: 'ticket+jwt' })}.${body}.`, 422, 'INVALID_TICKET_CODE');
    }
    // The real ticket still checks in: none of the above touched it.
    expect((await scan(t.app, organizer.accessToken, eventId, { code: ticket.code })).statusCode).toBe(200);
  });

  it("another event's genuine code: 422 WRONG_EVENT; a void ticket's genuine code: 410 TICKET_VOID", async () => {
    await expectProblem(otherEventTicket.code, 422, 'WRONG_EVENT');
    await expectProblem(voidTicket.code, 410, 'TICKET_VOID');
    // And the other event's ticket is still unused there.
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/tickets/${otherEventTicket.id}`, headers: bearer(buyer.accessToken) });
    expect(res.json()).toMatchObject({ data: { status: 'valid', checkedInAt: null } });
  });
});
