import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, cancel, createEvent } from './fixtures/bookings.js';
import { entryOf, join, mine } from './fixtures/waitlist.js';
import { buildTestApp, type TestApp } from './helper.js';
import { bookingNow, fakeDriver, pay, paymentOf, type PaymentsDriver } from './support/payments.js';

/** A waitlist offer taken by paying for it (settlePaidBooking) accepts the entry, like a confirm. */

let t: TestApp;
let driver: PaymentsDriver;
let organizer: TestAccount;

beforeAll(async () => {
  driver = fakeDriver();
  t = await buildTestApp({ env: { ...driver.env(), WAITLIST_SWEEP_SECONDS: '0' } });
  driver.attach(t.app);
  organizer = await createAccount(t.app, { role: 'organizer' });
});
afterAll(async () => {
  await t.close();
  await driver.stop();
});

describe('waitlist offers and payments', () => {
  it('paying for an offer confirms its booking and marks the entry accepted', async () => {
    const buyer = await createAccount(t.app);
    const waiter = await createAccount(t.app);
    const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: 1, price: 1500 });
    const held = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 1 }));
    expect((await join(t.app, waiter.accessToken, eventId, { quantity: 1 })).statusCode).toBe(201);
    expect((await cancel(t.app, buyer.accessToken, held.id)).statusCode).toBe(200);
    const offered = entryOf(await mine(t.app, waiter.accessToken, eventId));
    expect(offered.status).toBe('offered');

    const res = await pay(t.app, waiter.accessToken, offered.offer!.bookingId, 'pm_card_visa');
    expect(res.statusCode, res.body).toBe(201);
    expect(paymentOf(res).status).toBe('succeeded');
    expect((await bookingNow(t.app, waiter.accessToken, offered.offer!.bookingId)).status).toBe('confirmed');
    expect(entryOf(await mine(t.app, waiter.accessToken, eventId)).status).toBe('accepted');
  });
});
