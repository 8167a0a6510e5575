/**
 * retry-storm: B buyers each send the same purchase with the same Idempotency-Key over and over
 * for D seconds (round robin over buyers on C connections, so first attempts race their own
 * repeats). Measures replays/s; passes only when every buyer ends with exactly one booking,
 * every replay is byte-identical to the first answer and nothing answered 5xx.
 */
import type autocannon from 'autocannon';
import { pool } from '../lib/api.js';
import { fire, header, problemCode, toPhase } from '../lib/cannon.js';
import { type ScenarioContext, Tally, elapsed } from '../lib/context.js';
import { availability, type BookingData, createEvent, createOrganizer, eventBookings, registerBuyers } from '../lib/fixtures.js';
import { check, type ScenarioResult } from '../lib/report.js';

export async function retryStorm(ctx: ScenarioContext): Promise<Omit<ScenarioResult, 'startedAt' | 'finishedAt' | 'command' | 'machine' | 'target'>> {
  const { api, runId, log } = ctx;
  const buyerCount = ctx.opts.buyers ?? 500;
  // Room for every buyer: the point is that retries never add a second booking, not scarcity.
  const tickets = Math.max(ctx.opts.tickets, buyerCount);
  const connections = ctx.opts.connections;

  const organizer = await createOrganizer(api, ctx.target.admin, runId);
  const event = await createEvent(api, organizer, { name: `Retry storm ${runId}`, totalTickets: tickets, price: 0, maxTicketsPerBooking: 2 });
  const t0 = performance.now();
  const buyers = await registerBuyers(api, buyerCount, runId);
  log(`setup: event ${event.id} (${tickets} tickets), ${buyers.length} buyers registered in ${elapsed(t0)}`);

  const body = JSON.stringify({ eventId: event.id, quantity: 2 });
  const tally = new Tally();
  const firstAnswer = new Map<number, string>();
  let mismatchedReplays = 0;
  let next = 0;
  // Which buyer each in-flight request belongs to, per connection (autocannon keeps a context per client).
  const request: autocannon.Request = {
    method: 'POST',
    path: '/api/v1/bookings',
    setupRequest: (req, context) => {
      const index = next++ % buyers.length;
      const buyer = buyers[index]!;
      (context as { buyer?: number }).buyer = index;
      return {
        ...req,
        headers: {
          ...req.headers,
          authorization: `Bearer ${buyer.accessToken}`,
          'idempotency-key': `retry-storm-${runId}-${index}`,
          'content-type': 'application/json',
        },
        body,
      };
    },
    onResponse: (status, resBody, context, headers) => {
      const index = (context as { buyer?: number }).buyer ?? -1;
      if (status === 201) {
        const replayed = header(headers, 'idempotent-replayed') === 'true';
        tally.add(replayed ? 'replayed' : 'created');
        const first = firstAnswer.get(index);
        if (first === undefined) firstAnswer.set(index, resBody);
        else if (first !== resBody) mismatchedReplays++;
      } else {
        tally.add(`${status} ${problemCode(resBody) ?? ''}`.trim());
      }
    },
  };

  log(`load: ${buyers.length} buyers repeating one purchase each for ${ctx.opts.duration} s over ${connections} connections`);
  const result = await fire({ title: 'retry-storm', url: ctx.target.baseUrl, connections, duration: ctx.opts.duration, requests: [request], timeout: 30 });
  const phase = toPhase('repeat purchase', result);

  // Verify: each buyer's own list holds exactly one booking of this event; the organizer sees B.
  const perBuyer = await pool(buyers, 16, async (buyer) =>
    (await api.all<BookingData>('/api/v1/bookings', buyer.accessToken)).filter((b) => b.eventId === event.id && b.status !== 'cancelled'),
  );
  const wrongCount = perBuyer.filter((list) => list.length !== 1).length;
  const organizerView = (await eventBookings(api, organizer, event.id)).filter((b) => b.status === 'confirmed' || b.status === 'pending');
  const avail = await availability(api, event.id);

  const created = tally.get('created');
  const replayed = tally.get('replayed');
  const inProgress = tally.get('409 IDEMPOTENCY_REQUEST_IN_PROGRESS');
  const server5xx = tally.sumWhere((l) => l.startsWith('5'));
  const other = tally.sumWhere((l) => !['created', 'replayed', '409 IDEMPOTENCY_REQUEST_IN_PROGRESS'].includes(l) && !l.startsWith('5'));
  const replaysPerSecond = phase.seconds > 0 ? Math.round((replayed / phase.seconds) * 10) / 10 : 0;

  const checks = [
    check('exactly one booking per buyer (own list)', wrongCount === 0, `${buyers.length - wrongCount}/${buyers.length} buyers with exactly one`),
    check('organizer sees one booking per buyer', organizerView.length === buyers.length, `${organizerView.length} bookings for ${buyers.length} buyers`),
    check('availability counts each buyer once', avail.confirmedTickets + avail.heldTickets === 2 * buyers.length, `confirmed ${avail.confirmedTickets} + held ${avail.heldTickets} for ${buyers.length} x 2`),
    check('created answers = buyers', created === buyers.length, `${created} fresh 201 answers`),
    check('replays identical to first answer', mismatchedReplays === 0, `${mismatchedReplays} differing replays`),
    check('no 5xx', server5xx === 0, `${server5xx} x 5xx`),
  ];
  return {
    scenario: 'retry-storm',
    options: { buyers: buyers.length, tickets, connections, duration: ctx.opts.duration },
    headline: { phase: 'repeat purchase', label: 'replays/s', perSecond: replaysPerSecond },
    ratioGoal: { name: 'replays/s >= 40% of baseline req/s', min: 0.4 },
    phases: [phase],
    figures: {
      buyers: buyers.length,
      'requests answered': phase.requests,
      created,
      replayed,
      'replays/s': replaysPerSecond,
      'in progress (409)': inProgress,
      'other answers': other,
      '5xx': server5xx,
      'no answer (errors/timeouts)': phase.errors,
      'answers by kind': JSON.stringify(tally.toObject()),
    },
    checks,
    goals: [],
    passed: checks.every((c) => c.ok),
    notes: [],
  };
}
