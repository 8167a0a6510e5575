/**
 * seated-drop: a 2,000-seat venue goes on sale and 10,000 buyers (distinct accounts, each with its
 * own token and Idempotency-Key) rush it over 50 connections: most ask for the best 1-4 seats
 * (`quantity`), every tenth names 1-4 adjacent seats of its own choosing (`seats`), so both kinds
 * of order compete for the same seats. The same buyers, with the same quantities, then rush an
 * unseated event of 2,000 tickets in the same service (the hot drop of the same size): the seated
 * rate is reported as a ratio to it. Both events are free, so a purchase confirms at once.
 *
 * Verified afterwards from the database (not only the API): no seat in two bookings, sold + held =
 * the seats, no overselling, every named 201 got exactly its seats, the ledger equals the audit's
 * recount; and through the API: the seat map's counts. Needs a service this runner starts (the
 * default `--mongo process`), since it reads the database directly.
 */
import type autocannon from 'autocannon';
import { Types } from 'mongoose';
import { bookingModel } from '../../src/bookings/booking.model.js';
import { compare, recount } from '../../src/bookings/ledger-audit.js';
import { eventModel, type EventFields } from '../../src/events/event.model.js';
import { type Api } from '../lib/api.js';
import { fire, header, problemCode, type Phase, toPhase } from '../lib/cannon.js';
import { type ScenarioContext, Tally, elapsed } from '../lib/context.js';
import { type Account, createEvent, createOrganizer, registerBuyers } from '../lib/fixtures.js';
import { check, type Check, type ScenarioResult } from '../lib/report.js';
import { connect } from '../lib/seed.js';

const CONNECTIONS = 50;
const DEFAULT_BUYERS = 10_000;
/** 4 sections x 20 rows x 25 seats = 2,000 seats; seat ids `<section>-R<row>-<n>`. */
const SECTIONS = ['A', 'B', 'C', 'D'];
const ROWS = 20;
const PER_ROW = 25;
const SEATS = SECTIONS.length * ROWS * PER_ROW;
/** Every NAMED_EVERY-th buyer names its seats. */
const NAMED_EVERY = 10;

const seatId = (section: string, row: number, n: number) => `${section}-R${row + 1}-${n + 1}`;

/** What buyer i asks for: best available (quantity) or named adjacent seats, from a fixed formula (repeatable). */
function orderOf(i: number): { quantity: number; seats?: string[] } {
  const quantity = (i % 4) + 1;
  if (i % NAMED_EVERY !== 0) return { quantity };
  // A deterministic spread over the whole venue: named orders overlap each other and the best-available ones.
  const h = (i * 2654435761) >>> 0;
  const section = SECTIONS[h % SECTIONS.length]!;
  const row = (h >>> 4) % ROWS;
  const start = Math.min((h >>> 9) % PER_ROW, PER_ROW - quantity);
  return { quantity, seats: Array.from({ length: quantity }, (_, k) => seatId(section, row, start + k)) };
}

async function createVenue(api: Api, organizer: Account, runId: string): Promise<string> {
  const sections = SECTIONS.map((id) => ({
    id,
    name: `Section ${id}`,
    rows: Array.from({ length: ROWS }, (_, r) => ({
      label: `R${r + 1}`,
      seats: Array.from({ length: PER_ROW }, (_, n) => ({ id: seatId(id, r, n), label: String(n + 1) })),
    })),
  }));
  const venue = await api.data<{ id: string; capacity: number }>('POST', '/api/v1/venues', {
    token: organizer.accessToken,
    body: { name: `Seated drop ${runId}`, address: '1 Load Street', sections },
  });
  if (venue.capacity !== SEATS) throw new Error(`venue has ${venue.capacity} seats, expected ${SEATS}`);
  return venue.id;
}

async function createSeatedEvent(api: Api, organizer: Account, venueId: string, runId: string): Promise<string> {
  const event = await api.data<{ id: string; totalTickets: number }>('POST', '/api/v1/events', {
    token: organizer.accessToken,
    body: {
      name: `Seated drop ${runId}`,
      venue: 'Load Test Theatre',
      venueId,
      category: 'theatre',
      startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      price: 0,
      currency: 'EUR',
      maxTicketsPerBooking: 4,
      status: 'published',
    },
  });
  if (event.totalTickets !== SEATS) throw new Error(`seated event offers ${event.totalTickets} tickets, expected ${SEATS}`);
  return event.id;
}

interface Rush {
  phase: Phase;
  tally: Tally;
  /** Buyer index -> the seats a 201 granted (seated) or the quantity sold. */
  granted: Map<number, string[]>;
  refusedNamed: { i: number; seats: string[] }[];
}

/** One drop: every buyer once, over CONNECTIONS connections; the body is buyer i's order on this event. */
async function rush(ctx: ScenarioContext, label: string, eventId: string, buyers: Account[], seated: boolean): Promise<Rush> {
  const tally = new Tally();
  const granted = new Map<number, string[]>();
  const refusedNamed: Rush['refusedNamed'] = [];
  let next = 0;
  const request: autocannon.Request = {
    method: 'POST',
    path: '/api/v1/bookings',
    setupRequest: (req, context) => {
      const i = next++;
      const buyer = buyers[i % buyers.length]!;
      const order = orderOf(i);
      const body = seated && order.seats ? { eventId, seats: order.seats } : { eventId, quantity: order.quantity };
      (context as { i?: number }).i = i;
      return {
        ...req,
        headers: { ...req.headers, authorization: `Bearer ${buyer.accessToken}`, 'idempotency-key': `${label.replace(/\W+/g, '-')}-${ctx.runId}-${buyer.id}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      };
    },
    onResponse: (status, resBody, context, headers) => {
      const i = (context as { i?: number }).i ?? -1;
      const kind = orderOf(i).seats && seated ? 'named' : 'best';
      if (status === 201) {
        tally.add(header(headers, 'idempotent-replayed') === 'true' ? 'replayed' : `sold (${kind})`);
        const data = (JSON.parse(resBody) as { data?: { items?: { seats?: string[] }[]; quantity?: number } }).data;
        granted.set(i, seated ? (data?.items ?? []).flatMap((it) => it.seats ?? []) : Array.from({ length: data?.quantity ?? 0 }, () => ''));
        return;
      }
      const code = problemCode(resBody) ?? '';
      tally.add(`${status} ${code} (${kind})`.trim());
      if (code === 'SEAT_UNAVAILABLE') refusedNamed.push({ i, seats: (JSON.parse(resBody) as { seats?: string[] }).seats ?? [] });
    },
  };
  ctx.log(`${label}: ${buyers.length} purchases over ${CONNECTIONS} connections`);
  const result = await ctx.target.profilePhase(label, () =>
    fire({ title: label, url: ctx.target.baseUrl, connections: CONNECTIONS, amount: buyers.length, requests: [request], timeout: 30 }),
  );
  const phase = toPhase(label, result);
  ctx.log(`${label}: ${phase.requestsPerSecond} purchases/s, p99 ${phase.latencyMs.p99} ms, answers ${JSON.stringify(tally.toObject())}`);
  return { phase, tally, granted, refusedNamed };
}

export async function seatedDrop(ctx: ScenarioContext): Promise<Omit<ScenarioResult, 'startedAt' | 'finishedAt' | 'command' | 'machine' | 'target'>> {
  const { api, runId, log, target } = ctx;
  if (!target.mongoUri) throw new Error('seated-drop verifies from the database: it needs a service this runner starts with --mongo process');
  const conn = await connect(target.mongoUri);
  const models = { Event: eventModel(conn), Booking: bookingModel(conn) };
  try {
    let t0 = performance.now();
    const organizer = await createOrganizer(api, target.admin, runId);
    const venueId = await createVenue(api, organizer, runId);
    const seatedId = await createSeatedEvent(api, organizer, venueId, runId);
    const plain = await createEvent(api, organizer, { name: `Unseated drop ${runId}`, totalTickets: SEATS, price: 0, maxTicketsPerBooking: 4 });
    log(`setup: venue ${venueId} (${SEATS} seats), seated event ${seatedId}, unseated event ${plain.id} in ${elapsed(t0)}`);
    t0 = performance.now();
    const buyers = await registerBuyers(api, ctx.opts.buyers ?? DEFAULT_BUYERS, runId);
    log(`setup: ${buyers.length} buyers registered in ${elapsed(t0)}`);

    // The unseated drop first: the same buyers and quantities, named orders asking for as many tickets.
    const unseated = await rush(ctx, 'unseated drop', plain.id, buyers, false);
    const seated = await rush(ctx, 'seated drop', seatedId, buyers, true);

    // Verification, from the database.
    const eventOid = new Types.ObjectId(seatedId);
    const bookings = await models.Booking.find({ eventId: eventOid }).lean();
    const live = bookings.filter((b) => b.status === 'confirmed' || b.status === 'pending');
    const owners = new Map<string, number>();
    for (const b of live) for (const s of (b.items ?? []).flatMap((it) => it.seats ?? [])) owners.set(s, (owners.get(s) ?? 0) + 1);
    const doubles = [...owners.values()].filter((n) => n > 1).length;
    const bookedSeats = live.reduce((sum, b) => sum + b.quantity, 0);
    const seatsInBookings = [...owners.keys()].length;
    const stored = await models.Event.findById(seatedId).lean<EventFields>();
    const now = new Date();
    const diffs = stored ? compare(stored, await recount(models, stored, now), now) : [{ what: 'missing event' }];
    const claims = stored?.seatClaims?.length ?? 0;
    const map = await api.data<{ available: number; held: number; sold: number }>('GET', `/api/v1/events/${seatedId}/seats`);
    const grantedSeats = [...seated.granted.values()].flat();
    const namedWrong = [...seated.granted].filter(([i, seats]) => {
      const named = orderOf(i).seats;
      return named !== undefined && [...seats].sort().join() !== [...named].sort().join();
    }).length;
    const refusalsUntrue = seated.refusedNamed.filter(({ i, seats }) => seats.length === 0 || seats.some((s) => !orderOf(i).seats?.includes(s) || !owners.has(s))).length;
    const plainBookings = await models.Booking.find({ eventId: new Types.ObjectId(plain.id), status: { $in: ['confirmed', 'pending'] } }).lean();
    const plainSold = plainBookings.reduce((sum, b) => sum + b.quantity, 0);

    const fiveXX = (r: Rush) => r.tally.sumWhere((l) => l.startsWith('5'));
    const checks: Check[] = [
      check('0 seats in two bookings', doubles === 0, `${doubles} seats in more than one live booking`),
      check('sold + held = seats (seat map)', map.sold + map.held === SEATS && map.available === 0, `sold ${map.sold}, held ${map.held}, available ${map.available}`),
      check('no overselling (bookings)', bookedSeats === SEATS && seatsInBookings === SEATS, `${live.length} live bookings, ${bookedSeats} tickets, ${seatsInBookings} distinct seats`),
      check('granted seats = seats in the database', grantedSeats.length === SEATS && grantedSeats.every((s) => owners.get(s) === 1), `${grantedSeats.length} seats granted by 201s`),
      check('ledger = audit recount, one claim per seat', diffs.length === 0 && claims === SEATS, diffs.length === 0 ? `agrees; ${claims} seat claims` : JSON.stringify(diffs.slice(0, 3))),
      check('named 201s got exactly their seats', namedWrong === 0, `${namedWrong} wrong`),
      check('SEAT_UNAVAILABLE names only taken seats of the order', refusalsUntrue === 0, `${refusalsUntrue} of ${seated.refusedNamed.length} untrue`),
      check('unseated drop sold exactly its tickets', plainSold === SEATS, `${plainSold} / ${SEATS}`),
      check('no 5xx', fiveXX(seated) + fiveXX(unseated) === 0, `seated ${fiveXX(seated)}, unseated ${fiveXX(unseated)}`),
      check('every request answered', seated.phase.errors + unseated.phase.errors === 0, `seated ${seated.phase.errors}, unseated ${unseated.phase.errors} without answer`),
    ];
    const ratio = seated.phase.requestsPerSecond / unseated.phase.requestsPerSecond;
    const figures: Record<string, number | string> = {
      seats: SEATS,
      buyers: buyers.length,
      'seated purchases/s': seated.phase.requestsPerSecond,
      'seated p99 ms': seated.phase.latencyMs.p99,
      'unseated purchases/s (same size, same buyers)': unseated.phase.requestsPerSecond,
      'unseated p99 ms': unseated.phase.latencyMs.p99,
      'seated / unseated purchases/s': Math.round(ratio * 1000) / 1000,
      'seated 201s': seated.granted.size,
      'seated 409 SOLD_OUT': seated.tally.sumWhere((l) => l.startsWith('409 SOLD_OUT')),
      'seated 409 SEAT_UNAVAILABLE': seated.tally.sumWhere((l) => l.startsWith('409 SEAT_UNAVAILABLE')),
      'unseated 201s': unseated.granted.size,
      'unseated 409 SOLD_OUT': unseated.tally.sumWhere((l) => l.startsWith('409 SOLD_OUT')),
      'seated answers by kind': JSON.stringify(seated.tally.toObject()),
      'unseated answers by kind': JSON.stringify(unseated.tally.toObject()),
    };
    return {
      scenario: 'seated-drop',
      options: { seats: SEATS, buyers: buyers.length, connections: CONNECTIONS, namedEvery: NAMED_EVERY },
      headline: { phase: 'seated drop', label: 'purchases/s', perSecond: seated.phase.requestsPerSecond },
      phases: [unseated.phase, seated.phase],
      figures,
      checks,
      goals: [
        { name: 'sells out every seat once', met: doubles === 0 && map.sold === SEATS, detail: `sold ${map.sold}/${SEATS}, ${doubles} doubles` },
        { name: `p99 < 1 s at concurrency ${CONNECTIONS}`, met: seated.phase.latencyMs.p99 < 1000, detail: `p99 ${seated.phase.latencyMs.p99} ms` },
      ],
      passed: checks.every((c) => c.ok),
      notes: [
        `Orders: buyer i asks for (i mod 4) + 1 seats; every ${NAMED_EVERY}th names adjacent seats, the others take the best available. The unseated drop runs first with the same quantities.`,
      ],
    };
  } finally {
    await conn.close();
  }
}
