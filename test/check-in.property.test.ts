import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { cancel, createEvent } from './fixtures/bookings.js';
import { freeTickets, scan, scanBatch, stats, type TicketBody } from './fixtures/tickets.js';
import { buildTestApp, LONG_LIVED_SESSIONS, type TestApp } from './helper.js';

/**
 * Random sequences of online scans, offline batches (duplicates, any order) and cancellations,
 * against a model of the rules: an online scan admits an unchecked, non-void ticket once; a batch
 * moves a ticket's check-in time to the earliest scan it has seen; a cancelled booking's tickets
 * are void; forged codes and other events' codes are refused. After every step each answer, each
 * ticket's recorded time and the stats must be what the model says.
 */

let t: TestApp;
let organizer: TestAccount;
let buyer: TestAccount;

beforeAll(async () => {
  t = await buildTestApp({ env: { ...LONG_LIVED_SESSIONS } });
  organizer = await createAccount(t.app, { role: 'organizer' });
  buyer = await createAccount(t.app);
});
afterAll(() => t?.close());

/** Tickets 0-3 are the event's (bookings of two each), 4 is another event's, 5 a forged code. */
const FOREIGN = 4;
const FORGED = 5;
const which = fc.oneof({ weight: 8, arbitrary: fc.nat(3) }, { weight: 1, arbitrary: fc.constant(FOREIGN) }, { weight: 1, arbitrary: fc.constant(FORGED) });
// Minutes before "now": distinct enough to order, coarse enough to collide sometimes.
const minutesAgo = fc.integer({ min: 1, max: 30 });

type Action =
  | { kind: 'online'; ticket: number; minutesAgo: number | null }
  | { kind: 'batch'; scans: { ticket: number; minutesAgo: number }[] }
  | { kind: 'cancel'; booking: number };

const actions: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('online' as const), ticket: which, minutesAgo: fc.option(minutesAgo, { nil: null }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('batch' as const), scans: fc.array(fc.record({ ticket: which, minutesAgo }), { minLength: 1, maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), booking: fc.nat(1) }) },
);

interface Expected {
  status: number;
  checkedInAt: number | null;
}

class Model {
  readonly checkedIn: (number | null)[] = [null, null, null, null];
  readonly cancelled = [false, false];
  isVoid = (i: number) => this.cancelled[Math.floor(i / 2)];

  refused(i: number): Expected | null {
    if (i === FORGED) return { status: 422, checkedInAt: null };
    if (i === FOREIGN) return { status: 422, checkedInAt: null };
    if (this.isVoid(i)) return { status: 410, checkedInAt: null };
    return null;
  }

  online(i: number, at: number): Expected {
    const refused = this.refused(i);
    if (refused) return refused;
    const recorded = this.checkedIn[i];
    if (recorded !== null) return { status: 409, checkedInAt: recorded };
    this.checkedIn[i] = at;
    return { status: 200, checkedInAt: at };
  }

  batch(scans: { ticket: number; at: number }[]): Expected[] {
    const out: Expected[] = new Array<Expected>(scans.length);
    const groups = new Map<number, number[]>();
    scans.forEach((s, index) => {
      const refused = this.refused(s.ticket);
      if (refused) out[index] = refused;
      else groups.set(s.ticket, [...(groups.get(s.ticket) ?? []), index]);
    });
    for (const [ticket, indices] of groups) {
      indices.sort((a, b) => scans[a].at - scans[b].at || a - b);
      const [first, ...rest] = indices;
      const at = scans[first].at;
      const recorded = this.checkedIn[ticket];
      if (recorded === null || recorded > at) {
        this.checkedIn[ticket] = at;
        out[first] = { status: 200, checkedInAt: at };
        for (const i of rest) out[i] = { status: 409, checkedInAt: at };
      } else {
        for (const i of indices) out[i] = { status: 409, checkedInAt: recorded };
      }
    }
    return out;
  }
}

const isoOrNull = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe('check-in against a model', () => {
  it('every answer, every recorded time and the stats match the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actions, { minLength: 1, maxLength: 10 }), async (steps) => {
        const eventId = await createEvent(t.app, organizer.accessToken, { price: 0, totalTickets: 10 });
        const other = await createEvent(t.app, organizer.accessToken, { price: 0, totalTickets: 10 });
        const bookings = [await freeTickets(t.app, buyer, eventId, 2), await freeTickets(t.app, buyer, eventId, 2)];
        const tickets: TicketBody[] = bookings.flatMap((b) => b.tickets);
        const foreign = (await freeTickets(t.app, buyer, other, 1)).tickets[0];
        const [h, p, s] = tickets[0].code.split('.');
        const codes = [...tickets.map((x) => x.code), foreign.code, `${h}.${p}.${s.slice(0, -4)}AAAA`];
        const model = new Model();

        for (const step of steps) {
          t.clock.advance(1000);
          const now = t.clock.now().getTime();
          if (step.kind === 'online') {
            const at = step.minutesAgo === null ? now : now - step.minutesAgo * 60_000;
            const body = step.minutesAgo === null ? { code: codes[step.ticket] } : { code: codes[step.ticket], scannedAt: new Date(at).toISOString() };
            const res = await scan(t.app, organizer.accessToken, eventId, body);
            const expected = model.online(step.ticket, at);
            expect(res.statusCode, `${JSON.stringify(step)}: ${res.body}`).toBe(expected.status);
            const got = res.json<{ checkedInAt?: string; data?: { checkedInAt: string } }>();
            if (expected.checkedInAt !== null) expect(got.data?.checkedInAt ?? got.checkedInAt).toBe(isoOrNull(expected.checkedInAt));
          } else if (step.kind === 'batch') {
            const scans = step.scans.map((x) => ({ ticket: x.ticket, at: now - x.minutesAgo * 60_000 }));
            const res = await scanBatch(
              t.app,
              organizer.accessToken,
              eventId,
              scans.map((x) => ({ code: codes[x.ticket], scannedAt: new Date(x.at).toISOString() })),
            );
            expect(res.statusCode, res.body).toBe(200);
            const results = res.json<{ data: { results: { status: number; checkedInAt: string | null }[] } }>().data.results;
            const expected = model.batch(scans);
            expect(results.map((r) => [r.status, r.checkedInAt]), JSON.stringify(step)).toEqual(
              expected.map((e) => [e.status, isoOrNull(e.checkedInAt)]),
            );
          } else {
            expect((await cancel(t.app, buyer.accessToken, bookings[step.booking].bookingId)).statusCode).toBe(200);
            model.cancelled[step.booking] = true;
          }

          // The stored state, read back: each ticket's time and status, and the computed stats.
          for (const [i, x] of tickets.entries()) {
            const read = await t.app.inject({ method: 'GET', url: `/api/v1/tickets/${x.id}`, headers: bearer(buyer.accessToken) });
            const ticket = read.json<{ data: TicketBody }>().data;
            expect(ticket.checkedInAt).toBe(isoOrNull(model.checkedIn[i]));
            expect(ticket.status).toBe(model.isVoid(i) ? 'void' : model.checkedIn[i] === null ? 'valid' : 'checked_in');
          }
          const valid = [0, 1, 2, 3].filter((i) => !model.isVoid(i));
          expect(await stats(t.app, organizer.accessToken, eventId)).toMatchObject({
            tickets: valid.length,
            checkedIn: valid.filter((i) => model.checkedIn[i] !== null).length,
          });
        }
      }),
      { numRuns: 25 },
    );
  });
});
