import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, bookingOf, createEvent } from './fixtures/bookings.js';
import { buildTestApp, type TestApp } from './helper.js';
import { bookingNow, deliver, pay, paymentOf, type PaymentsDriver, stripeDriver } from './support/payments.js';
import { loadConfig } from '../src/config.js';

/**
 * Tampered webhooks (issue 16): a wrong signature, a stale timestamp, a changed body, a missing
 * header, an unknown event type. Each is 400 INVALID_SIGNATURE or ignored, and changes nothing:
 * the payments, bookings and recorded events are the same before and after.
 */
let t: TestApp;
let driver: PaymentsDriver;
let organizer: TestAccount;
let buyer: TestAccount;

beforeAll(async () => {
  driver = await stripeDriver();
  t = await buildTestApp({ env: { ...driver.env(), ACCESS_TOKEN_TTL_SECONDS: String(86_400) } });
  [organizer, buyer] = await Promise.all([createAccount(t.app, { role: 'organizer' }), createAccount(t.app)]);
});
afterAll(async () => {
  await t.close();
  await driver.stop();
});

async function snapshot() {
  const m = t.app.models;
  const [payments, bookings, events, jobs] = await Promise.all([
    m.Payment.find().sort({ _id: 1 }).lean(),
    m.Booking.find().sort({ _id: 1 }).lean(),
    m.PaymentProviderEvent.find().sort({ _id: 1 }).lean(),
    m.PaymentJob.find().sort({ _id: 1 }).lean(),
  ]);
  return JSON.stringify({ payments, bookings, events, jobs });
}

/** A processing payment and the genuine `succeeded` webhook for it, not yet delivered. */
async function pendingSuccess() {
  const eventId = await createEvent(t.app, organizer.accessToken);
  const b = bookingOf(await book(t.app, buyer.accessToken, { eventId, quantity: 1 }));
  const p = paymentOf(await pay(t.app, buyer.accessToken, b.id, 'pm_card_processing'));
  driver.take();
  driver.settle(p.providerPaymentId as string);
  const [body] = driver.take();
  return { booking: b, body };
}

describe('tampered webhooks change nothing', () => {
  it('refuses a wrong signature, a stale timestamp, a changed body and a missing header with 400 INVALID_SIGNATURE', async () => {
    const { booking, body } = await pendingSuccess();
    const before = await snapshot();
    const now = Math.floor(Date.now() / 1000);
    const tampered = body.replace('"amount":2500', '"amount":1');
    expect(tampered).not.toBe(body);
    const attempts = [
      { what: 'wrong secret', body, headers: { 'content-type': 'application/json', 'stripe-signature': `t=${now},v1=${'0'.repeat(64)}` } },
      { what: 'stale timestamp', body, headers: driver.signed(body, now - 301) },
      { what: 'changed body', body: tampered, headers: driver.signed(body) },
      { what: 'no header', body, headers: { 'content-type': 'application/json' } },
      { what: 'a re-serialized body', body: JSON.stringify(JSON.parse(body), null, 2), headers: driver.signed(body) },
    ];
    for (const a of attempts) {
      const res = await deliver(t.app, driver, a.body, a.headers);
      expect(res.statusCode, a.what).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json(), a.what).toMatchObject({ code: 'INVALID_SIGNATURE', status: 400 });
    }
    expect(await snapshot()).toBe(before);
    expect((await bookingNow(t.app, buyer.accessToken, booking.id)).status).toBe('pending');

    // Within the tolerance (4 minutes old) the genuine event is accepted.
    // (With the media type Stripe sends.)
    const ok = await deliver(t.app, driver, body, { ...driver.signed(body, now - 240), 'content-type': 'application/json; charset=utf-8' });
    expect(ok.statusCode, ok.body).toBe(200);
    expect((await bookingNow(t.app, buyer.accessToken, booking.id)).status).toBe('confirmed');
  });

  it('ignores an unknown event type and events about payments it never made, with 0 state change', async () => {
    await pendingSuccess();
    const before = await snapshot();
    const unknownType = JSON.stringify({ id: 'evt_unknown_1', object: 'event', type: 'customer.created', data: { object: { id: 'cus_1', object: 'customer' } } });
    const strangerIntent = JSON.stringify({
      id: 'evt_stranger_1',
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { id: 'pi_not_ours', object: 'payment_intent', status: 'succeeded', metadata: {} } },
    });
    for (const body of [unknownType, strangerIntent]) {
      const res = await deliver(t.app, driver, body);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ success: true, data: { outcome: 'ignored' } });
    }
    expect(await snapshot()).toBe(before);
  });

  it('answers 404 for a provider that is not the configured one, and 415 for a body that is not JSON', async () => {
    const { body } = await pendingSuccess();
    const before = await snapshot();
    const fake = await t.app.inject({ method: 'POST', url: '/api/v1/payments/webhooks/fake', headers: driver.signed(body), payload: body });
    expect(fake.statusCode).toBe(404);
    const text = await t.app.inject({ method: 'POST', url: '/api/v1/payments/webhooks/stripe', headers: { ...driver.signed(body), 'content-type': 'text/plain' }, payload: body });
    expect(text.statusCode).toBe(415);
    expect(await snapshot()).toBe(before);
  });
});

describe('the OpenAPI document with a provider running', () => {
  it('documents every answer the payment routes give', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown> }> }>>;
    }>();
    const documented = (method: string, path: string, status: number) => {
      const res = doc.paths[path]?.[method]?.responses[String(status)];
      expect(res, `${method} ${path} ${status}`).toBeDefined();
      return res;
    };
    const { booking, body } = await pendingSuccess();
    const paid = await pay(t.app, buyer.accessToken, booking.id, 'pm_card_visa');
    documented('post', '/api/v1/bookings/{id}/payments', paid.statusCode);
    const confirmRes = await t.app.inject({
      method: 'POST',
      url: `/api/v1/bookings/${bookingOf(await book(t.app, buyer.accessToken, { eventId: booking.eventId, quantity: 1 })).id}/confirm`,
      headers: { authorization: `Bearer ${buyer.accessToken}`, 'idempotency-key': 'doc-check-confirm' },
    });
    expect(confirmRes.statusCode).toBe(402);
    documented('post', '/api/v1/bookings/{id}/confirm', 402);
    documented('post', '/api/v1/payments/webhooks/{provider}', (await deliver(t.app, driver, body)).statusCode);
    documented('post', '/api/v1/payments/webhooks/{provider}', (await deliver(t.app, driver, body, { 'content-type': 'application/json' })).statusCode);
    expect(Object.keys(documented('post', '/api/v1/bookings/{id}/payments', 503)?.headers ?? {})).toContain('Retry-After');
    driver.take();
  });
});

describe('payment configuration', () => {
  const base = { MONGODB_URI: 'mongodb://db/x', REDIS_URL: 'redis://r', JWT_SECRET: 'x'.repeat(40) };
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (err) {
      return (err as { problems: string[] }).problems;
    }
  };

  it('defaults to none (manual confirmation, as before)', () => {
    expect(loadConfig({ ...base }).PAYMENT_PROVIDER).toBe('none');
  });

  it('production refuses the fake provider, naming the variable', () => {
    expect(problems({ ...base, NODE_ENV: 'production', PAYMENT_PROVIDER: 'fake' })).toEqual([expect.stringMatching(/^PAYMENT_PROVIDER: .*production/)]);
    expect(problems({ ...base, NODE_ENV: 'development', PAYMENT_PROVIDER: 'fake' })).toEqual([]);
  });

  it('refuses stripe without both secrets, naming each missing one', () => {
    expect(problems({ ...base, NODE_ENV: 'production', PAYMENT_PROVIDER: 'stripe' })).toEqual([
      expect.stringMatching(/^STRIPE_SECRET_KEY: /),
      expect.stringMatching(/^STRIPE_WEBHOOK_SECRET: /),
    ]);
    expect(problems({ ...base, NODE_ENV: 'production', PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: 'sk_live_x' })).toEqual([
      expect.stringMatching(/^STRIPE_WEBHOOK_SECRET: /),
    ]);
    expect(problems({ ...base, NODE_ENV: 'production', PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: 'sk', STRIPE_WEBHOOK_SECRET: 'whsec' })).toEqual([]);
  });
});
