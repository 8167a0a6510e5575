import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, recount } from '../src/bookings/ledger-audit.js';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { book, cancel, confirm, createEvent } from './fixtures/bookings.js';
import { addType, defaultTypeId, patchType, typeAvailability } from './fixtures/ticket-types.js';
import { buildTestApp, LONG_LIVED_SESSIONS, type TestApp } from './helper.js';

/**
 * Random sequences of type creation, capacity changes, orders of several types, confirms, cancels
 * and clock moves past expiry, one event per run. After every step a plain model of the rules
 * (API.md Ticket types and Bookings) agrees with every figure GET /availability shows, and the
 * ledger that sales decide on (the fast path) equals a full recount of the bookings (DESIGN.md 12).
 */
const TOTAL = 10;
const MAX_TYPES = 4;

let t: TestApp;
let organizer: TestAccount;
let buyers: TestAccount[];

beforeAll(async () => {
  // The clock moves by hours over all runs; tokens must outlive that.
  t = await buildTestApp({ env: { ...LONG_LIVED_SESSIONS } });
  organizer = await createAccount(t.app, { role: 'organizer' });
  buyers = await Promise.all([0, 1].map(() => createAccount(t.app)));
});
afterAll(() => t.close());

type Action =
  | { kind: 'addType'; capacity: number; free: boolean }
  | { kind: 'capacity'; pick: number; capacity: number }
  | { kind: 'order'; buyer: number; lines: { pick: number; quantity: number }[] }
  | { kind: 'confirm'; pick: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'time'; ms: number };

const actions: fc.Arbitrary<Action> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('addType' as const), capacity: fc.integer({ min: 0, max: 8 }), free: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('capacity' as const), pick: fc.nat(), capacity: fc.integer({ min: 0, max: 10 }) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('order' as const),
      buyer: fc.nat(1),
      // At most 3 lines of at most 3: an order stays within the event's maxTicketsPerBooking (10), so
      // every refusal the model predicts is SOLD_OUT (the per-booking limit has its own tests).
      lines: fc.uniqueArray(fc.record({ pick: fc.nat(MAX_TYPES), quantity: fc.integer({ min: 1, max: 3 }) }), {
        minLength: 1,
        maxLength: 3,
        selector: (l) => l.pick,
      }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('confirm' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: 1, max: 11 * 60_000 }) }) },
);

interface ModelType {
  id: string;
  /** null: the event's total (the default type). */
  capacity: number | null;
  price: number;
}
interface ModelBooking {
  id: string;
  buyer: number;
  status: 'pending' | 'confirmed' | 'cancelled';
  expiresAt: number | null;
  lines: { typeId: string; quantity: number }[];
}

class Model {
  types: ModelType[] = [];
  bookings: ModelBooking[] = [];
  constructor(private readonly now: () => number) {}

  live(b: ModelBooking) {
    return b.status === 'pending' && b.expiresAt !== null && b.expiresAt > this.now();
  }
  counts(typeId?: string) {
    let confirmed = 0;
    let held = 0;
    for (const b of this.bookings) {
      for (const l of b.lines) {
        if (typeId !== undefined && l.typeId !== typeId) continue;
        if (b.status === 'confirmed') confirmed += l.quantity;
        else if (this.live(b)) held += l.quantity;
      }
    }
    return { confirmed, held };
  }
  eventAvailable() {
    const { confirmed, held } = this.counts();
    return Math.max(0, TOTAL - confirmed - held);
  }
  typeAvailable(type: ModelType) {
    const { confirmed, held } = this.counts(type.id);
    return Math.max(0, Math.min((type.capacity ?? TOTAL) - confirmed - held, this.eventAvailable()));
  }
}

async function expectAgreement(eventId: string, model: Model): Promise<void> {
  const shown = await typeAvailability(t.app, eventId);
  const { confirmed, held } = model.counts();
  expect(shown).toMatchObject({ totalTickets: TOTAL, confirmedTickets: confirmed, heldTickets: held, availableTickets: model.eventAvailable() });
  expect(confirmed + held).toBeLessThanOrEqual(TOTAL);
  expect(shown.ticketTypes).toHaveLength(model.types.length);
  for (const type of model.types) {
    const own = model.counts(type.id);
    expect(own.confirmed + own.held, 'a type past its capacity').toBeLessThanOrEqual(type.capacity ?? TOTAL);
    expect(shown.ticketTypes.find((x) => x.ticketTypeId === type.id)).toEqual({
      ticketTypeId: type.id,
      name: expect.any(String),
      capacity: type.capacity ?? TOTAL,
      availableTickets: model.typeAvailable(type),
      confirmedTickets: own.confirmed,
      heldTickets: own.held,
      onSale: true,
    });
  }
  // The fast path (the ledger on the event document) against the full recount from the bookings.
  const event = await t.app.models.Event.findById(eventId).lean();
  if (!event) throw new Error('no event');
  const now = t.clock.now();
  expect(compare(event, await recount(t.app.models, event, now), now)).toEqual([]);
}

async function step(eventId: string, model: Model, action: Action): Promise<void> {
  const token = organizer.accessToken;
  switch (action.kind) {
    case 'addType': {
      if (model.types.length >= MAX_TYPES) return;
      const made = await addType(t.app, token, eventId, { name: `T${model.types.length}`, price: action.free ? 0 : 700, capacity: action.capacity });
      model.types.push({ id: made.id, capacity: action.capacity, price: action.free ? 0 : 700 });
      return;
    }
    case 'capacity': {
      const type = model.types[action.pick % model.types.length];
      const res = await patchType(t.app, token, eventId, type.id, { capacity: action.capacity });
      const own = model.counts(type.id);
      const allowed = action.capacity >= own.confirmed + own.held;
      expect(res.statusCode, res.body).toBe(allowed ? 200 : 409);
      if (allowed) type.capacity = action.capacity;
      else expect(res.json().code).toBe('CAPACITY_BELOW_SOLD');
      return;
    }
    case 'order': {
      const lines = action.lines
        .filter((l) => l.pick < model.types.length)
        .map((l) => ({ typeId: model.types[l.pick].id, quantity: l.quantity }));
      if (lines.length === 0) return;
      const res = await book(t.app, buyers[action.buyer].accessToken, {
        eventId,
        items: lines.map((l) => ({ ticketTypeId: l.typeId, quantity: l.quantity })),
      });
      const total = lines.reduce((s, l) => s + l.quantity, 0);
      const fits =
        total <= model.eventAvailable() &&
        lines.every((l) => l.quantity <= model.typeAvailable(model.types.find((x) => x.id === l.typeId) as ModelType));
      expect(res.statusCode, res.body).toBe(fits ? 201 : 409);
      if (!fits) {
        expect(res.json().code).toBe('SOLD_OUT');
        return;
      }
      const price = lines.reduce((s, l) => s + l.quantity * (model.types.find((x) => x.id === l.typeId)?.price ?? 0), 0);
      const body = res.json().data;
      expect(body.totalPrice).toBe(price);
      model.bookings.push({
        id: body.id,
        buyer: action.buyer,
        status: price === 0 ? 'confirmed' : 'pending',
        expiresAt: price === 0 ? null : t.clock.now().getTime() + t.config.HOLD_TTL_SECONDS * 1000,
        lines,
      });
      expect(body.status).toBe(price === 0 ? 'confirmed' : 'pending');
      return;
    }
    case 'confirm': {
      if (model.bookings.length === 0) return;
      const b = model.bookings[action.pick % model.bookings.length];
      const res = await confirm(t.app, buyers[b.buyer].accessToken, b.id);
      if (model.live(b)) {
        expect(res.statusCode, res.body).toBe(200);
        b.status = 'confirmed';
        b.expiresAt = null;
      } else {
        expect(res.statusCode, res.body).toBe(b.status === 'pending' ? 410 : 409);
      }
      return;
    }
    case 'cancel': {
      if (model.bookings.length === 0) return;
      const b = model.bookings[action.pick % model.bookings.length];
      const res = await cancel(t.app, buyers[b.buyer].accessToken, b.id);
      expect(res.statusCode, res.body).toBe(200);
      if (b.status === 'confirmed' || model.live(b)) b.status = 'cancelled';
      return;
    }
    case 'time':
      t.clock.advance(action.ms);
      return;
  }
}

describe('ticket types against a model', () => {
  it('agree on every figure after every step, and the ledger equals a recount', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actions, { minLength: 5, maxLength: 30 }), async (sequence) => {
        const eventId = await createEvent(t.app, organizer.accessToken, { totalTickets: TOTAL, price: 500, maxTicketsPerBooking: 10 });
        const model = new Model(() => t.clock.now().getTime());
        model.types.push({ id: await defaultTypeId(t.app, eventId, organizer.accessToken), capacity: null, price: 500 });
        await expectAgreement(eventId, model);
        for (const action of sequence) {
          await step(eventId, model, action);
          await expectAgreement(eventId, model);
        }
      }),
      { numRuns: 25 },
    );
  }, 240_000);
});
