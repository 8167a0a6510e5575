import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, recount } from '../src/bookings/ledger-audit.js';
import type { EventFields } from '../src/events/event.model.js';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { availability, book, bookingOf, createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';
import type { FakeProvider } from '../src/payments/fake-provider.js';
import { deliver, fakeDriver, pay, paymentOf, type PaymentsDriver } from './support/payments.js';

/**
 * Hundreds of parallel requests against one event's money (issue 16): every payment POST sent
 * four times at once with the same key, then a sold-out rush while 40 slow payments are pending,
 * then every webhook delivered three times, all at once. Exactly one payment per key, tickets
 * never over capacity, and in the end every charged buyer holds tickets and every late payer
 * without tickets has their money back.
 */
const TOTAL = 40;
const LATE = 40;
const RUSH = 20;
const PRICE = 1000;

let t: TestApp;
let driver: PaymentsDriver;
let fake: FakeProvider;
let organizer: TestAccount;
let buyers: TestAccount[];

beforeAll(async () => {
  driver = fakeDriver();
  t = await buildTestApp({ env: { ...driver.env(), ACCESS_TOKEN_TTL_SECONDS: String(86_400), BOOKING_TX_TIMEOUT_MS: '30000' } });
  driver.attach(t.app);
  fake = t.app.payments?.fake as FakeProvider;
  organizer = await createAccount(t.app, { role: 'organizer' });
  buyers = [];
  for (let i = 0; i < LATE + RUSH; i += 10) buyers.push(...(await Promise.all(Array.from({ length: 10 }, () => createAccount(t.app)))));
}, 120_000);
afterAll(() => t.close());

/** Delivers like a provider: a 5xx (a transaction that gave up under contention) is sent again. */
async function deliverUntilAccepted(body: string): Promise<LightMyRequestResponse> {
  for (let attempt = 0; ; attempt++) {
    const res = await deliver(t.app, driver, body);
    if (res.statusCode < 500 || attempt >= 5) return res;
  }
}

describe('payments under hundreds of parallel requests', () => {
  it('one payment per key, never over capacity, and nobody charged without tickets', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: TOTAL, price: PRICE, maxTicketsPerBooking: 1 });
    const late = buyers.slice(0, LATE);
    const holds = await Promise.all(late.map(async (b) => ({ who: b, booking: bookingOf(await book(t.app, b.accessToken, { eventId, quantity: 1 })) })));

    // 160 payment POSTs at once: each key four times.
    const sent = await Promise.all(
      holds.flatMap(({ who, booking }) => {
        const key = randomUUID();
        return Array.from({ length: 4 }, () => pay(t.app, who.accessToken, booking.id, 'pm_card_processing', key));
      }),
    );
    for (const r of sent) expect([201, 409], r.body).toContain(r.statusCode);
    expect(sent.filter((r) => r.statusCode === 201).length).toBeGreaterThanOrEqual(LATE);
    expect(await t.app.models.Payment.countDocuments({ eventId })).toBe(LATE);
    expect(fake.intents.size).toBe(LATE);

    // The holds expire; a rush takes half the tickets and pays at once (40 parallel requests).
    t.clock.advance(11 * 60_000);
    const rush = buyers.slice(LATE);
    const rushHolds = await Promise.all(rush.map(async (b) => ({ who: b, booking: bookingOf(await book(t.app, b.accessToken, { eventId, quantity: 1 })) })));
    const rushPaid = await Promise.all(rushHolds.map(({ who, booking }) => pay(t.app, who.accessToken, booking.id, 'pm_card_visa')));
    for (const r of rushPaid) expect(paymentOf(r).status, r.body).toBe('succeeded');

    // All 40 slow payments succeed now; every webhook (300) arrives three times, all at once.
    for (const p of await t.app.models.Payment.find({ eventId, status: 'processing' }).lean()) fake.settle(p.providerPaymentId as string);
    const bodies = driver.take();
    const answers = await Promise.all(bodies.flatMap((body) => [body, body, body].map((b) => deliverUntilAccepted(b))));
    for (const a of answers) expect(a.statusCode, a.body).toBe(200);
    const applied = answers.filter((a) => a.json<{ data: { outcome: string } }>().data.outcome === 'applied').length;
    expect(applied).toBe(await t.app.models.PaymentProviderEvent.countDocuments({}));

    // Refunds run; their webhooks arrive.
    for (let i = 0; i < 5 && (await t.app.payments?.refunds.pending()) !== 0; i++) await t.app.payments?.refunds.drain();
    await Promise.all(driver.take().map((b) => deliverUntilAccepted(b)));

    const counts = await availability(t.app, eventId);
    expect(counts.confirmedTickets).toBe(TOTAL);
    expect(counts.availableTickets).toBe(0);
    const bookings = await t.app.models.Booking.find({ eventId }).lean();
    const payments = await t.app.models.Payment.find({ eventId }).lean();
    const confirmed = bookings.filter((b) => b.status === 'confirmed');
    expect(confirmed).toHaveLength(TOTAL);
    expect(bookings.filter((b) => b.status === 'refunded')).toHaveLength(LATE + RUSH - TOTAL);
    for (const p of payments) {
      const b = bookings.find((x) => String(x._id) === String(p.bookingId));
      const charged = fake.netCharged(p.providerPaymentId as string);
      if (b?.status === 'confirmed') {
        expect(charged).toBe(PRICE);
        expect(b.paymentReference).toBe(p.providerPaymentId);
        expect(b.tickets).toHaveLength(1);
      } else {
        expect(charged, `booking ${b?.status}`).toBe(0);
        expect(p.status).toBe('refunded');
      }
    }
    expect(new Set(confirmed.flatMap((b) => b.tickets.map((x) => x.number))).size).toBe(TOTAL);
    // The sales ledger the late payments settled through equals a recount of the bookings.
    const now = t.clock.now();
    const event = await t.app.models.Event.findById(eventId).lean<EventFields>();
    if (!event) throw new Error('event missing');
    expect(compare(event, await recount(t.app.models, event, now), now)).toEqual([]);
  }, 180_000);
});
