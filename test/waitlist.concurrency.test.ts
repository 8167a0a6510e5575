import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBookingDeps } from '../src/bookings/service.js';
import { sweepWaitlists } from '../src/waitlist/sweeper.js';
import { createAccount, createAccounts, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, cancel, confirm, createEvent } from './fixtures/bookings.js';
import { entryOf, join } from './fixtures/waitlist.js';
import { buildTwoInstances, type InstancePair, type TestApp } from './helper.js';
import { expectWaitlistInvariants } from './support/waitlist-invariants.js';

/**
 * DESIGN.md 10 under load, through two app instances on one database (each with its own sales
 * desk, so only the event write orders them): freed tickets go to the queue, never to the buyers
 * racing for them, and each freed ticket goes to exactly one entry.
 */
const BUYERS = 200;
const HOLD_MS = 10 * 60 * 1000;

let t: TestApp;
let second: TestApp;
let pair: InstancePair;
let organizer: TestAccount;
let seller: TestAccount;
let buyers: TestAccount[];
let queuers: TestAccount[];

beforeAll(async () => {
  const env = { WAITLIST_SWEEP_SECONDS: '0', ACCESS_TOKEN_TTL_SECONDS: String(86_400) };
  pair = await buildTwoInstances(env);
  ({ t, second } = pair);
  organizer = await createAccount(t.app, { role: 'organizer' });
  seller = await createAccount(t.app);
  buyers = await createAccounts(t.app, BUYERS);
  queuers = await Promise.all(Array.from({ length: 8 }, () => createAccount(t.app)));
}, 120_000);
afterAll(() => pair.close());

const apps = (): FastifyInstance[] => [t.app, second.app];

async function sellOut(eventId: string, sizes: number[], confirmThem: boolean[]) {
  const ids: string[] = [];
  for (const [i, quantity] of sizes.entries()) {
    const b = bookingOf(await book(t.app, seller.accessToken, { eventId, quantity }));
    if (confirmThem[i]) expect((await confirm(t.app, seller.accessToken, b.id)).statusCode).toBe(200);
    ids.push(b.id);
  }
  return ids;
}

describe('the waitlist under concurrency', () => {
  it(`a cancellation racing ${BUYERS} buyers: the queue gets the freed tickets, none of the buyers do`, async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 5, price: 2500 });
    const [big] = await sellOut(eventId, [5], [true]);
    for (const q of queuers.slice(0, 5)) expect((await join(t.app, q.accessToken, eventId, { quantity: 1 })).statusCode).toBe(201);

    const racing = buyers.map((b, i) => book(apps()[i % 2], b.accessToken, { eventId, quantity: 1 }));
    const cancelled = cancel(second.app, seller.accessToken, big);
    const [answers, done] = await Promise.all([Promise.all(racing), cancelled]);
    expect(done.statusCode, done.body).toBe(200);
    const statuses = answers.map((a) => `${a.statusCode} ${a.json<{ code?: string }>().code ?? ''}`);
    expect(statuses.filter((s) => !s.startsWith('409 SOLD_OUT')), 'no buyer got a freed ticket').toEqual([]);

    const figures = await expectWaitlistInvariants(t.app, eventId, t.clock.now());
    expect(figures.liveOffers).toBe(5);
    expect(figures.waiting).toBe(0);
    expect(await t.app.models.Booking.countDocuments({ eventId, userId: { $in: buyers.map((b) => b.user.id) } })).toBe(0);
  }, 120_000);

  it('two cancellations and an expiry at once give each freed ticket to exactly one entry', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 4, price: 2500 });
    // Two confirmed bookings to cancel, one hold that will run out, one confirmed that stays.
    const [a, b, , held] = await sellOut(eventId, [1, 1, 1, 1], [true, true, true, false]);
    void held;
    for (const q of queuers) expect((await join(t.app, q.accessToken, eventId, { quantity: 1 })).statusCode).toBe(201);
    t.clock.advance(HOLD_MS + 1000);

    const deps = (app: FastifyInstance) =>
      createBookingDeps({
        db: app.db,
        outbox: app.outbox,
        ticketKeys: app.ticketKeys,
        models: app.models,
        clock: app.clock,
        holdTtlMs: HOLD_MS,
        waitlistOfferMs: app.config.WAITLIST_OFFER_SECONDS * 1000,
        txTimeoutMs: 10_000,
        salesChanged: async () => undefined,
      });
    const racing = buyers.slice(0, 50).map((x, i) => book(apps()[i % 2], x.accessToken, { eventId, quantity: 1 }));
    const [c1, c2, , , answers] = await Promise.all([
      cancel(t.app, seller.accessToken, a),
      cancel(second.app, seller.accessToken, b),
      sweepWaitlists(deps(t.app)),
      sweepWaitlists(deps(second.app)),
      Promise.all(racing),
    ]);
    expect([c1.statusCode, c2.statusCode]).toEqual([200, 200]);
    for (const answer of answers) expect(answer.json()).toMatchObject({ code: 'SOLD_OUT' });

    const figures = await expectWaitlistInvariants(t.app, eventId, t.clock.now());
    // Three freed tickets, three offers, to the first three in line.
    expect(figures.liveOffers).toBe(3);
    expect(figures.entries.filter((e) => e.status === 'offered').map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(figures.available).toBe(0);

    // And joining one queue at once, twice per user from both instances: one entry per user,
    // unique positions. (Under this load on the emulator some joins may time out with 503,
    // which changes nothing: the entries are exactly the 201s.)
    const late = await createEvent(t.app, organizer.accessToken, { totalTickets: 1, price: 0 });
    await book(t.app, seller.accessToken, { eventId: late, quantity: 1 });
    const users = buyers.slice(0, 60);
    const joins = await Promise.all(
      users.flatMap((x, i) => [join(apps()[i % 2], x.accessToken, late, { quantity: 1 }), join(apps()[(i + 1) % 2], x.accessToken, late, { quantity: 1 })]),
    );
    const made = joins.filter((r) => r.statusCode === 201).map(entryOf);
    for (const r of joins.filter((x) => x.statusCode !== 201)) expect(r.json<{ code: string }>().code).toMatch(/^(ALREADY_ON_WAITLIST|SERVICE_UNAVAILABLE)$/);
    expect(made.length).toBeGreaterThan(0);
    expect(new Set(made.map((e) => e.userId)).size).toBe(made.length);
    expect(await t.app.models.WaitlistEntry.countDocuments({ eventId: late })).toBe(made.length);
    expect(new Set(made.map((e) => e.position)).size).toBe(made.length);
    await expectWaitlistInvariants(t.app, late, t.clock.now());
  }, 120_000);
});
