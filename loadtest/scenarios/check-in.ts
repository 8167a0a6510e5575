/**
 * check-in: the doors open. S distinct tickets (free bookings of 100, set up through the API) are
 * scanned once each over C connections by two scanners (the organizer and a staff member), then a
 * second wave scans a share of them again. Passes only when every ticket was admitted exactly once
 * (S answers 200 naming S distinct tickets, every rescan 409 ALREADY_CHECKED_IN), the stats count
 * S check-ins, and nothing answered 5xx: zero double counts, verified through the API.
 */
import type autocannon from 'autocannon';
import { pool } from '../lib/api.js';
import { fire, problemCode, toPhase } from '../lib/cannon.js';
import { type ScenarioContext, Tally, elapsed } from '../lib/context.js';
import { createEvent, createOrganizer, register } from '../lib/fixtures.js';
import { check, type ScenarioResult } from '../lib/report.js';

interface Ticket {
  id: string;
  code: string;
}

interface Stats {
  checkedIn: number;
  tickets: number;
}

const PER_BOOKING = 100;

export async function checkIn(ctx: ScenarioContext): Promise<Omit<ScenarioResult, 'startedAt' | 'finishedAt' | 'command' | 'machine' | 'target'>> {
  const { api, runId, log } = ctx;
  const scans = ctx.opts.scans ?? 5000;
  const connections = Math.min(ctx.opts.connections, scans);
  const rescans = Math.min(scans, 1000);

  let t0 = performance.now();
  const organizer = await createOrganizer(api, ctx.target.admin, runId);
  const event = await createEvent(api, organizer, { name: `Doors ${runId}`, totalTickets: scans, price: 0, maxTicketsPerBooking: PER_BOOKING });
  const buyer = await register(api, `holder-${runId}@example.com`, 'Ticket Holder');
  const staff = await register(api, `door-${runId}@example.com`, 'Door Staff');
  await api.data('POST', `/api/v1/events/${event.id}/staff`, { token: organizer.accessToken, body: { userId: staff.id } });
  const quantities = Array.from({ length: Math.ceil(scans / PER_BOOKING) }, (_, i) => Math.min(PER_BOOKING, scans - i * PER_BOOKING));
  const bookings = await pool(quantities, 8, (quantity, i) =>
    api.data<{ tickets: Ticket[] }>('POST', '/api/v1/bookings', {
      token: buyer.accessToken,
      headers: { 'idempotency-key': `check-in-${runId}-${i}` },
      body: { eventId: event.id, quantity },
    }),
  );
  const tickets = bookings.flatMap((b) => b.tickets);
  log(`setup: event ${event.id}, ${tickets.length} tickets in ${bookings.length} free bookings, a staff member, in ${elapsed(t0)}`);

  const scanners = [organizer.accessToken, staff.accessToken];
  const admitted = new Set<string>();
  let admittedAnswers = 0;

  function wave(name: string, codes: Ticket[], tally: Tally): autocannon.Request {
    let next = 0;
    return {
      method: 'POST',
      path: `/api/v1/events/${event.id}/check-ins`,
      setupRequest: (req) => {
        const i = next++;
        const ticket = codes[i % codes.length]!;
        return {
          ...req,
          headers: { ...req.headers, authorization: `Bearer ${scanners[i % 2]}`, 'content-type': 'application/json' },
          body: JSON.stringify({ code: ticket.code }),
        };
      },
      onResponse: (status, body) => {
        if (status === 200) {
          admittedAnswers++;
          admitted.add((JSON.parse(body) as { data: { ticket: { id: string } } }).data.ticket.id);
          tally.add(`${name} 200`);
        } else tally.add(`${name} ${status} ${problemCode(body) ?? ''}`.trim());
      },
    };
  }

  const tally = new Tally();
  log(`load: ${tickets.length} distinct tickets scanned over ${connections} connections by 2 scanners`);
  t0 = performance.now();
  const first = await ctx.target.profilePhase('scan', () =>
    fire({ title: 'check-in', url: ctx.target.baseUrl, connections, amount: tickets.length, requests: [wave('first', tickets, tally)], timeout: 30 }),
  );
  const scanPhase = toPhase('scan', first);
  log(`load: ${rescans} of them scanned again (every answer must be 409)`);
  const second = await fire({
    title: 'check-in (rescan)',
    url: ctx.target.baseUrl,
    connections,
    amount: rescans,
    requests: [wave('rescan', tickets.slice(0, rescans), tally)],
    timeout: 30,
  });
  const rescanPhase = toPhase('rescan', second);

  const stats = await api.data<Stats>('GET', `/api/v1/events/${event.id}/check-ins/stats`, { token: staff.accessToken });
  const doubleCounts = admittedAnswers - admitted.size + Math.max(0, stats.checkedIn - tickets.length);
  const server5xx = tally.sumWhere((l) => / 5\d\d/.test(l));
  const checks = [
    check('every ticket admitted once', tally.get('first 200') === tickets.length && admitted.size === tickets.length, `${tally.get('first 200')} x 200 for ${tickets.length} tickets, ${admitted.size} distinct`),
    check('every rescan refused', tally.get('rescan 409 ALREADY_CHECKED_IN') === rescans, `${tally.get('rescan 409 ALREADY_CHECKED_IN')} x 409 of ${rescans}`),
    check('stats count each ticket once', stats.checkedIn === tickets.length && stats.tickets === tickets.length, `checkedIn ${stats.checkedIn}, tickets ${stats.tickets}`),
    check('double counts = 0', doubleCounts === 0, `double counts ${doubleCounts}`),
    check('no 5xx', server5xx === 0, `${server5xx} x 5xx`),
  ];
  return {
    scenario: 'check-in',
    options: { scans: tickets.length, connections },
    headline: { phase: 'scan', label: 'scans/s', perSecond: scanPhase.requestsPerSecond },
    phases: [scanPhase, rescanPhase],
    figures: {
      tickets: tickets.length,
      'admitted (200)': tally.get('first 200'),
      'rescans refused (409)': tally.get('rescan 409 ALREADY_CHECKED_IN'),
      'double counts': doubleCounts,
      '5xx': server5xx,
      'no answer (errors/timeouts)': scanPhase.errors + rescanPhase.errors,
      'answers by kind': JSON.stringify(tally.toObject()),
    },
    checks,
    goals: [
      { name: 'each ticket counted once', met: doubleCounts === 0 && stats.checkedIn === tickets.length, detail: `double counts ${doubleCounts}` },
      { name: `p99 < 1 s at concurrency ${connections}`, met: scanPhase.latencyMs.p99 < 1000, detail: `p99 ${scanPhase.latencyMs.p99} ms` },
    ],
    passed: checks.every((c) => c.ok),
    notes: [],
  };
}
