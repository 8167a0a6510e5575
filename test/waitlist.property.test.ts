import type { LightMyRequestResponse } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBookingDeps } from '../src/bookings/service.js';
import { sweepWaitlists } from '../src/waitlist/sweeper.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, cancel, confirm, createEvent } from './fixtures/bookings.js';
import { addType, defaultTypeId } from './fixtures/ticket-types.js';
import { entryOf, join, leave } from './fixtures/waitlist.js';
import { buildTestApp, LONG_LIVED_SESSIONS, type TestApp } from './helper.js';
import { expectWaitlistInvariants } from './support/waitlist-invariants.js';

/**
 * Random sequences of joins, leaves, purchases, confirms (offers among them), cancels, capacity
 * changes, clock moves past hold and offer expiries, and sweeps, one event per run with a shared
 * type and a capped one. After every step: never oversold, the ledger equals the bookings, every
 * offer is one booking of its entry, and once a serving transaction has run since the clock last
 * moved, no ticket is for sale while a waiting entry it fits is owed it (DESIGN.md 10). Between a
 * clock move and the next such transaction freed tickets may show as available, but nobody can
 * buy them: every sale serves the queue first (the race test proves that part).
 */
const TOTAL = 6;
const USERS = 4;

let t: TestApp;
let organizer: TestAccount;
let users: TestAccount[];

beforeAll(async () => {
  t = await buildTestApp({ env: { ...LONG_LIVED_SESSIONS, WAITLIST_SWEEP_SECONDS: '0' } });
  organizer = await createAccount(t.app, { role: 'organizer' });
  users = await Promise.all(Array.from({ length: USERS }, () => createAccount(t.app)));
});
afterAll(() => t.close());

type Action =
  | { kind: 'buy'; user: number; vip: boolean; quantity: number }
  | { kind: 'join'; user: number; vip: boolean; quantity: number }
  | { kind: 'leave'; user: number }
  | { kind: 'confirm'; pick: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'capacity'; total: number }
  | { kind: 'time'; ms: number }
  | { kind: 'sweep' };

const user = fc.nat(USERS - 1);
const quantity = fc.integer({ min: 1, max: 3 });
const actions: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('buy' as const), user, vip: fc.boolean(), quantity }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('join' as const), user, vip: fc.boolean(), quantity }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), user }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('confirm' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('capacity' as const), total: fc.integer({ min: 3, max: 9 }) }) },
  // Up to 35 minutes: past holds (10) and offers (30).
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 60_000, max: 35 * 60_000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
);

const codeOf = (res: LightMyRequestResponse) => `${res.statusCode} ${res.json<{ code?: string }>()?.code ?? ''}`.trim();

describe('waitlist property', () => {
  it('never oversells, never offers twice, never sells what a waiting entry that fits is owed', async () => {
    const deps = createBookingDeps({
      db: t.app.db,
      outbox: t.app.outbox,
      ticketKeys: t.app.ticketKeys,
      models: t.app.models,
      clock: t.clock,
      holdTtlMs: t.config.HOLD_TTL_SECONDS * 1000,
      waitlistOfferMs: t.config.WAITLIST_OFFER_SECONDS * 1000,
      txTimeoutMs: 10_000,
      salesChanged: async () => undefined,
    });
    await fc.assert(
      fc.asyncProperty(fc.array(actions, { minLength: 5, maxLength: 25 }), async (steps) => {
        const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: TOTAL, price: 1000, maxTicketsPerBooking: 4 });
        const ga = await defaultTypeId(t.app, eventId, organizer.accessToken);
        const vip = (await addType(t.app, organizer.accessToken, eventId, { name: 'VIP', price: 3000, capacity: 2 })).id;
        const typeOf = (isVip: boolean) => (isVip ? vip : ga);
        // Bookings made (by purchase or offer), with their owners, to confirm and cancel.
        const bookings: { id: string; owner: number }[] = [];
        let served = true;
        const learnOffers = async () => {
          const entries = await t.app.models.WaitlistEntry.find({ eventId, offer: { $ne: null } }).lean();
          for (const e of entries) {
            const id = String(e.offer?.bookingId);
            if (!bookings.some((b) => b.id === id)) bookings.push({ id, owner: users.findIndex((u) => u.user.id === String(e.userId)) });
          }
        };
        for (const step of steps) {
          let res: LightMyRequestResponse | undefined;
          switch (step.kind) {
            case 'buy': {
              res = await book(t.app, users[step.user].accessToken, { eventId, items: [{ ticketTypeId: typeOf(step.vip), quantity: step.quantity }] });
              expect(['201', '409 SOLD_OUT']).toContain(codeOf(res).replace(/^201.*/, '201'));
              if (res.statusCode === 201) bookings.push({ id: bookingOf(res).id, owner: step.user });
              served = true;
              break;
            }
            case 'join': {
              const body = step.vip ? { quantity: step.quantity, ticketTypeId: vip } : { quantity: step.quantity, ticketTypeId: ga };
              res = await join(t.app, users[step.user].accessToken, eventId, body);
              expect(['201', '409 TICKETS_AVAILABLE', '409 ALREADY_ON_WAITLIST']).toContain(codeOf(res).replace(/^201.*/, '201'));
              if (res.statusCode === 201) expect(entryOf(res).status).toBe('waiting');
              served = true;
              break;
            }
            case 'leave':
              res = await leave(t.app, users[step.user].accessToken, eventId);
              expect(['204', '404 NOT_FOUND']).toContain(res.statusCode === 204 ? '204' : codeOf(res));
              served = true;
              break;
            case 'confirm': {
              await learnOffers();
              if (bookings.length === 0) break;
              const b = bookings[step.pick % bookings.length];
              res = await confirm(t.app, users[b.owner].accessToken, b.id);
              expect(['200', '410 HOLD_EXPIRED', '409 INVALID_STATE']).toContain(res.statusCode === 200 ? '200' : codeOf(res));
              break;
            }
            case 'cancel': {
              await learnOffers();
              if (bookings.length === 0) break;
              const b = bookings[step.pick % bookings.length];
              res = await cancel(t.app, users[b.owner].accessToken, b.id);
              expect(res.statusCode, res.body).toBe(200);
              // Cancelling something that holds nothing any more serves nobody: only a real release does.
              break;
            }
            case 'capacity':
              res = await t.app.inject({
                method: 'PATCH',
                url: `/api/v1/events/${eventId}`,
                headers: bearer(organizer.accessToken),
                payload: { totalTickets: step.total },
              });
              expect(['200', '409 CAPACITY_BELOW_SOLD']).toContain(res.statusCode === 200 ? '200' : codeOf(res));
              if (res.statusCode === 200) served = true;
              break;
            case 'time':
              t.clock.advance(step.ms);
              served = false;
              break;
            case 'sweep':
              await sweepWaitlists(deps);
              served = true;
              break;
          }
          if (res) expect(res.statusCode, res.body).toBeLessThan(500);
          const figures = await expectWaitlistInvariants(t.app, eventId, t.clock.now(), { servedSinceFreed: served });
          expect(figures.taken).toBeLessThanOrEqual(figures.event.totalTickets);
        }
      }),
      { numRuns: 25, seed: 1919, endOnFailure: true },
    );
  }, 300_000);
});
