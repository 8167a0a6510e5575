/**
 * retry-storm: B buyers each repeat one purchase with one Idempotency-Key, many times.
 *  1. "first attempts": every purchase sent 3 times at once (the copies race each other on
 *     different connections), so the in-progress answer and the first-write race are exercised;
 *  2. "replay storm": for D seconds, the same purchases again, each connection going round its own
 *     share of the buyers (every buyer equally often); these must all be replays (the headline:
 *     replays/s);
 *  3. settle: a buyer that still has no 201 retries its purchase alone until it gets one, as a
 *     client would.
 * Passes only when every buyer ends with exactly one booking (its own list, the organizer's list
 * and availability agree) and every 201 a buyer got is byte-identical; 5xx answers are reported.
 */
import type autocannon from 'autocannon';
import { setTimeout as sleep } from 'node:timers/promises';
import { pool } from '../lib/api.js';
import { fire, header, type Phase, problemCode, toPhase } from '../lib/cannon.js';
import { type ScenarioContext, Tally, elapsed } from '../lib/context.js';
import { type Account, availability, type BookingData, createEvent, createOrganizer, eventBookings, registerBuyers } from '../lib/fixtures.js';
import { check, type ScenarioResult } from '../lib/report.js';

const COPIES = 3;
const QUANTITY = 2;

/** Remembers the first 201 body per buyer and counts any later 201 that differs from it. */
class Answers {
  readonly first = new Map<number, string>();
  mismatches = 0;
  record(buyer: number, body: string): void {
    const first = this.first.get(buyer);
    if (first === undefined) this.first.set(buyer, body);
    else if (first !== body) this.mismatches++;
  }
}

/** Buyer `index`'s one Idempotency-Key of the run. */
const keyOf = (runId: string, index: number) => `retry-storm-${runId}-${index}`;

/** Counts one answer of buyer `buyer` and keeps its 201 body for the byte-identical check. */
function recordAnswer(tally: Tally, answers: Answers, buyer: number, status: number, body: string, headers: Record<string, unknown> | undefined): void {
  if (status === 201) {
    tally.add(header(headers, 'idempotent-replayed') === 'true' ? 'replayed' : 'created');
    answers.record(buyer, body);
  } else {
    tally.add(`${status} ${problemCode(body) ?? ''}`.trim());
  }
}

function purchaseRequests(
  buyers: Account[],
  pick: (n: number) => number,
  runId: string,
  body: string,
  tally: Tally,
  answers: Answers,
): autocannon.Request {
  let next = 0;
  return {
    method: 'POST',
    path: '/api/v1/bookings',
    setupRequest: (req, context) => {
      const index = pick(next++);
      (context as { buyer?: number }).buyer = index;
      return {
        ...req,
        headers: {
          ...req.headers,
          authorization: `Bearer ${buyers[index]!.accessToken}`,
          'idempotency-key': keyOf(runId, index),
          'content-type': 'application/json',
        },
        body,
      };
    },
    onResponse: (status, resBody, context, headers) =>
      recordAnswer(tally, answers, (context as { buyer?: number }).buyer ?? -1, status, resBody, headers),
  };
}

/**
 * The replay storm's load, built so the generator's own cost stays small next to the server's: each
 * connection gets its own fixed list of buyers (every buyer on the same number of connections, so
 * the storm stays even), and each buyer's request is built once per connection instead of once per
 * request. A `setupRequest` rebuilds the request for every send; in generator profiles that and
 * the garbage it left were a third of the generator's time, on the same two cores as the server.
 */
function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
const lcm = (a: number, b: number) => (a / gcd(a, b)) * b;

function stormRequests(
  buyers: Account[],
  connections: number,
  runId: string,
  body: string,
  tally: Tally,
  answers: Answers,
): Pick<autocannon.Options, 'requests' | 'setupClient'> {
  const perBuyer = buyers.map(
    (buyer, index): autocannon.Request => ({
      method: 'POST',
      path: '/api/v1/bookings',
      headers: {
        authorization: `Bearer ${buyer.accessToken}`,
        'idempotency-key': keyOf(runId, index),
        'content-type': 'application/json',
      },
      body,
      onResponse: (status, resBody, _context, headers) => recordAnswer(tally, answers, index, status, resBody, headers),
    }),
  );
  // Enough buyers per connection that all are covered the same number of times (500 over 200: 5 each, every buyer twice).
  const perConnection = Math.max(1, Math.min(lcm(buyers.length, connections) / connections, 50));
  let nextConnection = 0;
  return {
    requests: [perBuyer[0]!],
    setupClient: (client) => {
      const first = nextConnection++ * perConnection;
      client.setRequests(Array.from({ length: perConnection }, (_, k) => perBuyer[(first + k) % perBuyer.length]!));
    },
  };
}

export async function retryStorm(ctx: ScenarioContext): Promise<Omit<ScenarioResult, 'startedAt' | 'finishedAt' | 'command' | 'machine' | 'target'>> {
  const { api, runId, log } = ctx;
  const buyerCount = ctx.opts.buyers ?? 500;
  // Room for every buyer: the point is that retries never add a second booking, not scarcity.
  const tickets = Math.max(ctx.opts.tickets, buyerCount * QUANTITY);
  const connections = ctx.opts.connections;

  const organizer = await createOrganizer(api, ctx.target.admin, runId);
  const event = await createEvent(api, organizer, { name: `Retry storm ${runId}`, totalTickets: tickets, price: 0, maxTicketsPerBooking: QUANTITY });
  const t0 = performance.now();
  const buyers = await registerBuyers(api, buyerCount, runId);
  log(`setup: event ${event.id} (${tickets} tickets), ${buyers.length} buyers registered in ${elapsed(t0)}`);

  const body = JSON.stringify({ eventId: event.id, quantity: QUANTITY });
  const answers = new Answers();
  const phases: Phase[] = [];

  const firstTally = new Tally();
  log(`load: ${buyers.length} purchases x ${COPIES} simultaneous copies over ${connections} connections`);
  const first = await ctx.target.profilePhase('first attempts', () => fire({
    title: 'first attempts',
    url: ctx.target.baseUrl,
    connections: Math.min(connections, buyers.length * COPIES),
    amount: buyers.length * COPIES,
    requests: [purchaseRequests(buyers, (n) => Math.floor(n / COPIES) % buyers.length, runId, body, firstTally, answers)],
    timeout: 30,
  }));
  phases.push(toPhase(`first attempts (x${COPIES})`, first));

  const stormTally = new Tally();
  log(`load: replay storm, ${buyers.length} buyers, each connection round its own share, for ${ctx.opts.duration} s over ${connections} connections (after 1 s of warm-up)`);
  const warmTally = new Tally();
  await fire({
    title: 'replay storm (warm-up)',
    url: ctx.target.baseUrl,
    connections,
    duration: 1,
    ...stormRequests(buyers, connections, runId, body, warmTally, answers),
    timeout: 30,
  });
  const storm = await ctx.target.profilePhase('replay storm', () => fire({
    title: 'replay storm',
    url: ctx.target.baseUrl,
    connections,
    duration: ctx.opts.duration,
    ...stormRequests(buyers, connections, runId, body, stormTally, answers),
    timeout: 30,
  }));
  const stormPhase = toPhase('replay storm', storm);
  phases.push(stormPhase);

  // Settle: whoever has no 201 yet keeps retrying alone, as a client would.
  let settled = 0;
  let unsettled = 0;
  await pool(
    buyers.map((_, i) => i).filter((i) => !answers.first.has(i)),
    8,
    async (i) => {
      for (let attempt = 0; attempt < 40; attempt++) {
        const res = await api.request<unknown>('POST', '/api/v1/bookings', {
          token: buyers[i]!.accessToken,
          headers: { 'idempotency-key': keyOf(runId, i) },
          body: JSON.parse(body) as unknown,
          accept: [201, 409, 503],
        });
        if (res.status === 201) {
          answers.record(i, JSON.stringify(res.body));
          settled++;
          return;
        }
        await sleep(250);
      }
      unsettled++;
    },
  );

  // Verify: each buyer's own list holds exactly one booking of this event; the organizer sees B.
  const perBuyer = await pool(buyers, 16, async (buyer) =>
    (await api.all<BookingData>('/api/v1/bookings', buyer.accessToken)).filter((b) => b.eventId === event.id && b.status !== 'cancelled'),
  );
  const wrongCount = perBuyer.filter((list) => list.length !== 1).length;
  const organizerView = (await eventBookings(api, organizer, event.id)).filter((b) => b.status === 'confirmed' || b.status === 'pending');
  const avail = await availability(api, event.id);

  const both = [firstTally, warmTally, stormTally];
  const sum = (label: string) => both.reduce((n, t) => n + t.get(label), 0);
  const server5xx = both.reduce((n, t) => n + t.sumWhere((l) => l.startsWith('5')), 0);
  const stormReplays = stormTally.get('replayed');
  const replaysPerSecond = stormPhase.seconds > 0 ? Math.round((stormReplays / stormPhase.seconds) * 10) / 10 : 0;

  const checks = [
    check('exactly one booking per buyer (own list)', wrongCount === 0, `${buyers.length - wrongCount}/${buyers.length} buyers with exactly one`),
    check('organizer sees one booking per buyer', organizerView.length === buyers.length, `${organizerView.length} bookings for ${buyers.length} buyers`),
    check(
      'availability counts each buyer once',
      avail.confirmedTickets + avail.heldTickets === QUANTITY * buyers.length,
      `confirmed ${avail.confirmedTickets} + held ${avail.heldTickets} for ${buyers.length} x ${QUANTITY}`,
    ),
    check('every 201 of a buyer identical', answers.mismatches === 0, `${answers.mismatches} differing bodies`),
    check('every buyer got its answer', unsettled === 0, `${settled} settled by a later retry, ${unsettled} never answered 201`),
  ];
  return {
    scenario: 'retry-storm',
    options: { buyers: buyers.length, copies: COPIES, tickets, connections, duration: ctx.opts.duration },
    headline: { phase: 'replay storm', label: 'replays/s', perSecond: replaysPerSecond },
    ratioGoal: { name: 'replays/s >= 40% of baseline req/s', min: 0.4 },
    phases,
    figures: {
      buyers: buyers.length,
      'first attempts: answers': JSON.stringify(firstTally.toObject()),
      'replay storm: answers': JSON.stringify(stormTally.toObject()),
      'replays/s (storm)': replaysPerSecond,
      'fresh 201 answers during the load': sum('created'),
      'in progress (409), all phases': sum('409 IDEMPOTENCY_REQUEST_IN_PROGRESS'),
      '5xx, all phases': server5xx,
      'settled after the load': settled,
    },
    checks,
    goals: [{ name: 'zero 5xx during the load', met: server5xx === 0, detail: `${server5xx} x 5xx (503 is retryable by contract; the settle step retries)` }],
    passed: checks.every((c) => c.ok),
    notes: [],
  };
}
