import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';

let t: TestApp;
let organizer: TestAccount;
let buyer: TestAccount;

beforeAll(async () => {
  t = await buildTestApp();
  organizer = await createAccount(t.app, { role: 'organizer' });
  buyer = await createAccount(t.app);
});
afterAll(() => t.close());

describe('POST /bookings', () => {
  it('holds tickets of a paid event', async () => {
    const eventId = await createEvent(t.app, organizer.accessToken, { price: 2500 });
    const res = await book(t.app, buyer.accessToken, { eventId, quantity: 2 });
    expect(res.statusCode, res.body).toBe(201);
    const b = bookingOf(res);
    expect(b.status).toBe('pending');
  });
});
