import { performance } from 'node:perf_hooks';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import fc from 'fast-check';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createAccounts, type TestAccount } from './fixtures/accounts.js';
import { cancel, confirm } from './fixtures/bookings.js';
import { bookSeats, createSeatedEvent, createVenue, seatMap, type SeatStatus, statuses } from './fixtures/seats.js';
import { expectLedgerExact } from './fixtures/ledger.js';
import { buildTwoInstances, LONG_LIVED_SESSIONS, type InstancePair, type TestApp } from './helper.js';

/**
 * DESIGN.md 7 for reserved seating: hundreds of buyers of the same seats, or of best-available
 * seats in one small section, through two app instances on one database (two sales desks, so only
 * the claim of the event document orders them). No seat may be in two live bookings, every refusal
 * must be true when it was made, the seat map and the ledger must equal what the bookings say.
 */
const BUYERS = 300;

let t: TestApp;
let second: TestApp;
let pair: InstancePair;
let owner: TestAccount;
let buyers: TestAccount[];
let apps: FastifyInstance[];

beforeAll(async () => {
  pair = await buildTwoInstances({ ...LONG_LIVED_SESSIONS, HOLD_TTL_SECONDS: '600' });
  ({ t, second } = pair);
  apps = [t.app, second.app];
  owner = await createAccount(t.app, { role: 'organizer' });
  buyers = await createAccounts(t.app, BUYERS);
}, 180_000);
afterAll(() => pair.close());

interface Answer {
  status: number;
  code?: string;
  seats?: string[];
  availableTickets?: number;
  booking?: { id: string; status: string; quantity: number; items: { seats?: string[] }[] };
}

const answerOf = (res: LightMyRequestResponse): Answer => {
  const body = res.json<{ code?: string; seats?: string[]; availableTickets?: number; data?: Answer['booking'] }>();
  return { status: res.statusCode, code: body.code, seats: body.seats, availableTickets: body.availableTickets, booking: body.data };
};
const seatsOf = (a: Answer) => (a.booking?.items ?? []).flatMap((i) => i.seats ?? []);

/** Seat id -> ids of the live bookings (confirmed, or pending and unexpired) that hold it, read from the database. */
async function seatOwners(eventId: string): Promise<Map<string, { id: string; status: SeatStatus }[]>> {
  const now = t.clock.now().getTime();
  const bookings = await t.app.models.Booking.find({ eventId: new Types.ObjectId(eventId), status: { $in: ['confirmed', 'pending'] } }).lean();
  const owners = new Map<string, { id: string; status: SeatStatus }[]>();
  for (const b of bookings) {
    const live = b.status === 'confirmed' || (b.expiresAt != null && new Date(b.expiresAt).getTime() > now);
    if (!live) continue;
    for (const seat of (b.items ?? []).flatMap((i) => i.seats ?? [])) {
      owners.set(seat, [...(owners.get(seat) ?? []), { id: String(b._id), status: b.status === 'confirmed' ? 'sold' : 'held' }]);
    }
  }
  return owners;
}

/**
 * The invariants after any race: no seat in two live bookings; the seat map (read through both
 * instances) shows exactly the bookings' seats as sold or held and every other seat available; the
 * ledger equals a recount of the bookings. Returns the owners for further checks.
 */
async function expectConsistent(eventId: string) {
  const owners = await seatOwners(eventId);
  const doubles = [...owners].filter(([, list]) => list.length > 1);
  expect(doubles).toEqual([]);
  for (const app of apps) {
    const map = await seatMap(app, eventId);
    const shown = statuses(map);
    const expected = new Map([...shown.keys()].map((id) => [id, owners.get(id)?.[0]?.status ?? 'available']));
    expect(shown).toEqual(expected);
    expect(map.sold + map.held).toBe(owners.size);
    expect(map.available).toBe(shown.size - owners.size);
  }
  await expectLedgerExact(t.app, eventId);
  return owners;
}

async function rush(label: string, requests: ((app: FastifyInstance) => Promise<LightMyRequestResponse>)[]): Promise<Answer[]> {
  const started = performance.now();
  const answers = (await Promise.all(requests.map((send, i) => send(apps[i % 2])))).map(answerOf);
  console.log(`[seats concurrency] ${label}: ${requests.length} requests in ${Math.round(performance.now() - started)} ms`);
  expect(answers.filter((a) => a.status >= 500)).toEqual([]);
  return answers;
}

describe('the same named seats, wanted by everyone', () => {
  it(`${BUYERS} buyers of the same 4 adjacent seats through two instances: exactly one gets them`, async () => {
    const venueId = await createVenue(t.app, owner.accessToken, { S: [12, 12] });
    const { eventId } = await createSeatedEvent(t.app, owner.accessToken, venueId);
    const wanted = ['S-A5', 'S-A6', 'S-A7', 'S-A8'];
    const answers = await rush('same 4 seats', buyers.map((b) => (app) => bookSeats(app, b.accessToken, { eventId, seats: wanted })));

    const won = answers.filter((a) => a.status === 201);
    expect(won).toHaveLength(1);
    expect(seatsOf(won[0]).sort()).toEqual([...wanted].sort());
    // The winner holds all four for the whole race, so every loser is told all four are taken.
    for (const a of answers.filter((x) => x.status !== 201)) {
      expect(a).toMatchObject({ status: 409, code: 'SEAT_UNAVAILABLE' });
      expect([...(a.seats ?? [])].sort()).toEqual([...wanted].sort());
    }
    const owners = await expectConsistent(eventId);
    expect([...owners.keys()].sort()).toEqual([...wanted].sort());
    expect(new Set([...owners.values()].map((list) => list[0].id))).toEqual(new Set([won[0].booking?.id]));
    const map = statuses(await seatMap(second.app, eventId));
    expect([...map].filter(([, s]) => s === 'held').map(([id]) => id).sort()).toEqual([...wanted].sort());
    expect([...map].filter(([, s]) => s === 'available')).toHaveLength(24 - 4);
    expect(await t.app.models.Booking.countDocuments({ eventId: new Types.ObjectId(eventId) })).toBe(1);
  }, 120_000);
});

/** Checks a best-available race on a section with no seat ever released during it. */
function expectBestAvailableAnswers(answers: Answer[], quantities: number[], finalAvailable: number) {
  answers.forEach((a, i) => {
    if (a.status === 201) {
      // Exactly the seats asked for, each once.
      expect(seatsOf(a)).toHaveLength(quantities[i]);
      expect(new Set(seatsOf(a)).size).toBe(quantities[i]);
      return;
    }
    expect(a).toMatchObject({ status: 409, code: 'SOLD_OUT' });
    // Refused only for want of seats: fewer than asked were left then, and seats are never given
    // back during the race, so fewer than that are left now.
    expect(a.availableTickets).toBeLessThan(quantities[i]);
    expect(finalAvailable).toBeLessThan(quantities[i]);
  });
}

describe('best available seats, overlapping', () => {
  const LAYOUT = { S: Array.from({ length: 10 }, () => 12) };
  const SEATS = 120;

  it(`${BUYERS} best-available requests of 1-4 seats on ${SEATS} seats through two instances`, async () => {
    const venueId = await createVenue(t.app, owner.accessToken, LAYOUT);
    const { eventId } = await createSeatedEvent(t.app, owner.accessToken, venueId);
    const quantities = buyers.map((_, i) => (i % 4) + 1);
    const answers = await rush('best available', buyers.map((b, i) => (app) => bookSeats(app, b.accessToken, { eventId, quantity: quantities[i] })));

    const owners = await expectConsistent(eventId);
    const won = answers.filter((a) => a.status === 201);
    const granted = won.flatMap(seatsOf);
    // Demand (750 seats, 75 requests for one) far exceeds supply: the section sells out exactly.
    expect(granted).toHaveLength(SEATS);
    expect(new Set(granted).size).toBe(SEATS);
    expect(new Set(owners.keys())).toEqual(new Set(granted));
    // Each seat is held by the booking whose answer granted it.
    for (const a of won) for (const seat of seatsOf(a)) expect(owners.get(seat)?.[0].id).toBe(a.booking?.id);
    const map = await seatMap(t.app, eventId);
    expect(map).toMatchObject({ available: 0, held: SEATS, sold: 0 });
    expectBestAvailableAnswers(answers, quantities, map.available);
    expect(await t.app.models.Booking.countDocuments({ eventId: new Types.ObjectId(eventId) })).toBe(won.length);
  }, 120_000);

  it(`named seats and best-available requests mixed, ${BUYERS} at once through two instances`, async () => {
    const venueId = await createVenue(t.app, owner.accessToken, LAYOUT);
    const { eventId } = await createSeatedEvent(t.app, owner.accessToken, venueId);
    // A third of the buyers name 1-4 adjacent seats somewhere in the section (a fixed seed), the rest
    // ask for 1-4 best available: both kinds compete for the same seats.
    const named = fc.sample(
      fc.record({ row: fc.nat(9), start: fc.integer({ min: 1, max: 12 }), n: fc.integer({ min: 1, max: 4 }) }),
      { numRuns: BUYERS, seed: 2026 },
    ).map(({ row, start, n }) => {
      const from = Math.min(start, 13 - n);
      return Array.from({ length: n }, (_, k) => `S-${String.fromCharCode(65 + row)}${from + k}`);
    });
    const quantities = buyers.map((_, i) => (i % 3 === 0 ? named[i].length : (i % 4) + 1));
    const body = (i: number) => (i % 3 === 0 ? { eventId, seats: named[i] } : { eventId, quantity: quantities[i] });
    const answers = await rush('named + best available', buyers.map((b, i) => (app) => bookSeats(app, b.accessToken, body(i))));

    const owners = await expectConsistent(eventId);
    const map = await seatMap(t.app, eventId);
    const won = answers.filter((a) => a.status === 201);
    const granted = won.flatMap(seatsOf);
    expect(new Set(granted).size).toBe(granted.length);
    expect(new Set(owners.keys())).toEqual(new Set(granted));
    expect(map.held).toBe(granted.length);
    const namedAnswers = answers.filter((_, i) => i % 3 === 0);
    // Both kinds really competed: some named orders won, some lost.
    expect(namedAnswers.some((a) => a.status === 201)).toBe(true);
    expect(namedAnswers.some((a) => a.status === 409)).toBe(true);
    answers.forEach((a, i) => {
      if (i % 3 !== 0) return;
      if (a.status === 201) {
        expect(seatsOf(a).sort()).toEqual([...named[i]].sort());
        return;
      }
      // A named order is refused only for taken seats: a subset of those it named, each of them
      // held now by another buyer's booking (nothing is released during the race).
      expect(a).toMatchObject({ status: 409, code: 'SEAT_UNAVAILABLE' });
      expect(a.seats?.length).toBeGreaterThan(0);
      for (const seat of a.seats ?? []) {
        expect(named[i]).toContain(seat);
        expect(owners.has(seat)).toBe(true);
      }
    });
    const best = answers.map((a, i) => ({ a, q: quantities[i] })).filter((_, i) => i % 3 !== 0);
    expectBestAvailableAnswers(best.map((x) => x.a), best.map((x) => x.q), map.available);
    // 100 requests for one seat among the best-available ones: the section ends full.
    expect(map.available).toBe(0);
  }, 120_000);
});

describe('confirms and cancels racing new purchases of the same seats', () => {
  it('seats freed by a cancel go to exactly one later buyer; confirmed seats to nobody else', async () => {
    const venueId = await createVenue(t.app, owner.accessToken, { S: [10, 10, 10, 10] });
    const { eventId } = await createSeatedEvent(t.app, owner.accessToken, venueId);
    const rows = ['A', 'B', 'C', 'D'];
    // 20 bookings of two adjacent seats each fill the section.
    const pairs = Array.from({ length: 20 }, (_, k) => [`S-${rows[Math.floor(k / 5)]}${(k % 5) * 2 + 1}`, `S-${rows[Math.floor(k / 5)]}${(k % 5) * 2 + 2}`]);
    const holders = buyers.slice(0, 20);
    const first = await rush('fill', pairs.map((seats, k) => (app) => bookSeats(app, holders[k].accessToken, { eventId, seats })));
    expect(first.map((a) => a.status)).toEqual(pairs.map(() => 201));
    const id = (k: number) => first[k].booking?.id as string;

    // Bookings 0-7 are confirmed, 8-13 cancelled, 14-16 confirmed and cancelled at once (either
    // order ends cancelled), 17-19 left pending. At the same time 10 buyers want each pair again
    // (by name), and 40 more ask for best-available seats.
    const confirmed = [0, 1, 2, 3, 4, 5, 6, 7];
    const cancelled = [8, 9, 10, 11, 12, 13];
    const both = [14, 15, 16];
    const work: ((app: FastifyInstance) => Promise<LightMyRequestResponse>)[] = [];
    for (const k of [...confirmed, ...both]) work.push((app) => confirm(app, holders[k].accessToken, id(k)));
    for (const k of [...cancelled, ...both]) work.push((app) => cancel(app, holders[k].accessToken, id(k)));
    const rivals = buyers.slice(20, 220);
    const wants = rivals.map((_, r) => pairs[r % 20]);
    const late = buyers.slice(220, 260);
    const requests = [
      ...rivals.map((b, r) => (app: FastifyInstance) => bookSeats(app, b.accessToken, { eventId, seats: wants[r] })),
      ...late.map((b) => (app: FastifyInstance) => bookSeats(app, b.accessToken, { eventId, quantity: 1 })),
    ];
    const all = [...work, ...requests];
    // Interleaved so the confirms and cancels are spread among the purchases, over both instances.
    const order = all.map((_, i) => i).sort((x, y) => ((x * 7919) % all.length) - ((y * 7919) % all.length));
    const raced = await rush('confirm/cancel vs buy', order.map((i) => all[i]));
    const answerOfRequest = new Map(order.map((i, pos) => [i, raced[pos]]));
    const workAnswers = work.map((_, i) => answerOfRequest.get(i) as Answer);
    const bought = requests.map((_, i) => answerOfRequest.get(work.length + i) as Answer);

    // Plain confirms and cancels all succeed; of each confirm+cancel pair the cancel always does.
    const confirms = [...confirmed, ...both];
    workAnswers.forEach((a, i) => {
      const k = i < confirms.length ? confirms[i] : [...cancelled, ...both][i - confirms.length];
      if (i >= confirms.length || confirmed.includes(k)) expect(a.status, `booking ${k}`).toBe(200);
      else expect([200, 409]).toContain(a.status);
    });
    const statusOf = async (k: number) => (await t.app.models.Booking.findById(id(k)).lean())?.status;
    for (const k of confirmed) expect(await statusOf(k)).toBe('confirmed');
    for (const k of [...cancelled, ...both]) expect(await statusOf(k)).toBe('cancelled');
    // Confirmed tickets carry their seats.
    for (const k of confirmed) {
      const booking = await t.app.models.Booking.findById(id(k)).lean();
      expect((booking?.tickets ?? []).map((x) => x.seat).sort()).toEqual([...pairs[k]].sort());
    }

    const owners = await expectConsistent(eventId);
    const freed = [...cancelled, ...both];
    for (const k of confirmed) for (const seat of pairs[k]) expect(owners.get(seat)?.[0]).toEqual({ id: id(k), status: 'sold' });
    for (const k of [17, 18, 19]) for (const seat of pairs[k]) expect(owners.get(seat)?.[0]).toEqual({ id: id(k), status: 'held' });
    // Rivals of seats never freed all lose, naming the seats.
    bought.slice(0, rivals.length).forEach((a, r) => {
      const k = r % 20;
      if (!freed.includes(k)) {
        expect(a).toMatchObject({ status: 409, code: 'SEAT_UNAVAILABLE' });
        expect([...(a.seats ?? [])].sort()).toEqual([...pairs[k]].sort());
      } else if (a.status !== 201) {
        expect(a).toMatchObject({ status: 409, code: 'SEAT_UNAVAILABLE' });
      }
    });
    // A freed seat is held by at most one new booking (no doubles, checked above), and it is the
    // booking of the one buyer whose answer granted it.
    const newWins = bought.filter((a) => a.status === 201);
    for (const a of newWins) for (const seat of seatsOf(a)) expect(owners.get(seat)?.[0].id).toBe(a.booking?.id);
    for (const a of newWins) for (const seat of seatsOf(a)) expect(freed.some((k) => pairs[k].includes(seat))).toBe(true);
    // Best-available buyers were refused only once no seat was free at that moment.
    for (const a of bought.slice(rivals.length)) if (a.status !== 201) expect(a).toMatchObject({ status: 409, code: 'SOLD_OUT', availableTickets: 0 });

    // Two sold bookings and a held one are cancelled afterwards (refund and release paths): their
    // seats and whatever the race left free now go, seat by seat, to exactly one of several buyers at once.
    for (const k of [0, 1, 17]) expect((await cancel(apps[k % 2], holders[k].accessToken, id(k))).statusCode).toBe(200);
    const free = [...statuses(await seatMap(t.app, eventId))].filter(([, s]) => s === 'available').map(([seat]) => seat);
    for (const k of [0, 1, 17]) for (const seat of pairs[k]) expect(free).toContain(seat);
    const finalists = buyers.slice(260, 300);
    const last = await rush(
      'free seats, 4 buyers each',
      free.flatMap((seat, s) => [0, 1, 2, 3].map((j) => (app: FastifyInstance) => bookSeats(app, finalists[(s * 4 + j) % finalists.length].accessToken, { eventId, seats: [seat] }))),
    );
    free.forEach((seat, s) => {
      const four = last.slice(s * 4, s * 4 + 4);
      expect(four.filter((a) => a.status === 201), seat).toHaveLength(1);
      for (const a of four.filter((x) => x.status !== 201)) expect(a).toMatchObject({ status: 409, code: 'SEAT_UNAVAILABLE', seats: [seat] });
    });
    const end = await expectConsistent(eventId);
    expect(end.size).toBe(40);
    // The freed seats ended with new buyers, one booking each; the old cancelled bookings hold none.
    const cancelledIds = new Set([...freed, 0, 1, 17].map(id));
    expect([...end.values()].some((list) => cancelledIds.has(list[0].id))).toBe(false);
  }, 180_000);
});
