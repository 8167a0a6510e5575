/**
 * browse: anonymous reads of a catalogue of published events, one timed phase each for
 * availability, event detail and listings (with filters and sorts), D seconds each on C connections.
 * Reports requests/s, latency and how Redis answered during each phase (hits/misses), and checks
 * afterwards that the figures read still match the bookings made.
 */
import type autocannon from 'autocannon';
import { type Envelope, pool } from '../lib/api.js';
import { fire, type Phase, toPhase } from '../lib/cannon.js';
import { type ScenarioContext, Tally } from '../lib/context.js';
import { availability, createEvent, createOrganizer, type EventData, registerBuyers } from '../lib/fixtures.js';
import { check, type Check, type ScenarioResult } from '../lib/report.js';
import { connect, dropCached, seedEvents } from '../lib/seed.js';
import { redisKeyspaceStats, startBaseline } from '../lib/target.js';
import { baseline } from './baseline.js';

/** Events made through the API (with some sales); `--events` above this seeds the rest directly. */
const EVENT_COUNT = 20;
const CATEGORIES = ['concert', 'theatre', 'sports'];

/** Cycles through `paths`, one per request. */
function cycling(paths: string[], tally: Tally): autocannon.Request {
  let next = 0;
  return {
    method: 'GET',
    setupRequest: (req) => ({ ...req, path: paths[next++ % paths.length]! }),
    onResponse: (status) => tally.add(String(status)),
  };
}

export async function browse(ctx: ScenarioContext): Promise<Omit<ScenarioResult, 'startedAt' | 'finishedAt' | 'command' | 'machine' | 'target'>> {
  const { api, runId, log } = ctx;
  const tickets = ctx.opts.tickets;
  const connections = ctx.opts.connections;

  const organizer = await createOrganizer(api, ctx.target.admin, runId);
  const events: EventData[] = [];
  for (let i = 0; i < EVENT_COUNT; i++) {
    events.push(
      await createEvent(api, organizer, { name: `Browse ${runId} #${i}`, totalTickets: tickets, price: 0, category: CATEGORIES[i % CATEGORIES.length], startsInDays: 10 + i }),
    );
  }
  // Some sales, so availability differs per event: buyer i takes (i % 3) + 1 tickets of event i.
  const buyers = await registerBuyers(api, EVENT_COUNT, runId);
  const booked = new Map<string, number>();
  await pool(buyers, 8, async (buyer, i) => {
    const event = events[i]!;
    const quantity = (i % 3) + 1;
    await api.data('POST', '/api/v1/bookings', {
      token: buyer.accessToken,
      headers: { 'idempotency-key': `browse-${runId}-${i}` },
      body: { eventId: event.id, quantity },
    });
    booked.set(event.id, quantity);
  });
  log(`setup: ${events.length} published events with some tickets sold`);
  const catalogue = Math.max(ctx.opts.events, events.length);
  if (catalogue > events.length) {
    if (!ctx.target.mongoUri || !ctx.target.redisPrefix) throw new Error('--events above 20 seeds the database directly: it needs a service this runner starts');
    const conn = await connect(ctx.target.mongoUri);
    try {
      await seedEvents(conn, events[0]!.id, catalogue - events.length, runId, CATEGORIES, log);
    } finally {
      await conn.close();
    }
    // Seeding bypasses the service: drop whatever listing pages the setup cached.
    await dropCached(ctx.target.redisPrefix, 'events:list*');
  }
  const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);

  const plans: { name: string; paths: string[] }[] = [
    { name: 'availability', paths: events.map((e) => `/api/v1/events/${e.id}/availability`) },
    { name: 'event detail', paths: events.map((e) => `/api/v1/events/${e.id}`) },
    {
      name: 'listing',
      paths: [
        '/api/v1/events',
        '/api/v1/events?limit=10&page=2',
        '/api/v1/events?category=concert',
        '/api/v1/events?availableOnly=true&sort=-availableTickets',
        '/api/v1/events?sort=price&limit=5',
        `/api/v1/events?q=Browse`,
      ],
    },
  ];
  // At a large catalogue, every listing variant of issue 20 on its own, each judged against the baseline.
  const variants: { name: string; paths: string[] }[] =
    catalogue > EVENT_COUNT
      ? [
          { name: 'listing: default', paths: ['/api/v1/events', '/api/v1/events?limit=10&page=2'] },
          { name: 'listing: q', paths: ['/api/v1/events?q=Browse', `/api/v1/events?q=%23${EVENT_COUNT + 7}`] },
          { name: 'listing: category', paths: ['/api/v1/events?category=concert', '/api/v1/events?category=sports&page=3'] },
          { name: 'listing: from/to', paths: [`/api/v1/events?from=${day(30)}&to=${day(60)}`, `/api/v1/events?from=${day(100)}`] },
          { name: 'listing: sort=-availableTickets', paths: ['/api/v1/events?sort=-availableTickets', '/api/v1/events?sort=-availableTickets&page=5'] },
          { name: 'listing: sort=availableTickets', paths: ['/api/v1/events?sort=availableTickets', '/api/v1/events?sort=availableTickets&category=theatre'] },
          { name: 'listing: availableOnly', paths: ['/api/v1/events?availableOnly=true', '/api/v1/events?availableOnly=true&sort=-availableTickets&page=2'] },
        ]
      : [];
  plans.push(...variants);

  const phases: Phase[] = [];
  const figures: Record<string, number | string> = { events: catalogue };
  let unexpected = 0;
  for (const plan of plans) {
    const tally = new Tally();
    log(`load: ${plan.name} for ${ctx.opts.duration} s over ${connections} connections (after 1 s of warm-up)`);
    await fire({ title: `${plan.name} (warm-up)`, url: ctx.target.baseUrl, connections, duration: 1, requests: [cycling(plan.paths, new Tally())] });
    const before = await redisKeyspaceStats();
    const result = await ctx.target.profilePhase(plan.name, () =>
      fire({ title: plan.name, url: ctx.target.baseUrl, connections, duration: ctx.opts.duration, requests: [cycling(plan.paths, tally)] }),
    );
    const after = await redisKeyspaceStats();
    const phase = toPhase(plan.name, result);
    phases.push(phase);
    unexpected += tally.sumWhere((status) => status !== '200') + phase.errors;
    if (before && after) {
      figures[`${plan.name}: redis hits / misses (server-wide)`] = `${after.hits - before.hits} / ${after.misses - before.misses}`;
    }
    figures[`${plan.name}: answers`] = JSON.stringify(tally.toObject());
  }

  // The reads still tell the truth: availability matches what was booked, the listing is complete.
  const checks: Check[] = [];
  const avails = await pool(events, 8, (e) => availability(api, e.id));
  const wrong = avails.filter((a) => a.availableTickets !== tickets - (booked.get(a.eventId) ?? 0));
  checks.push(check('availability matches bookings', wrong.length === 0, `${events.length - wrong.length}/${events.length} events right`));
  const listing = (await api.request<Envelope<EventData[]>>('GET', `/api/v1/events?q=${runId}&limit=100`)).body;
  checks.push(check('listing shows every event', listing.meta?.total === catalogue, `total ${listing.meta?.total} of ${catalogue}`));

  // The variants' goals against a bare Fastify baseline measured now, in this run, at the same connections.
  const goals: ScenarioResult['goals'] = [];
  if (variants.length > 0) {
    const bare = await startBaseline(ctx.opts);
    let basePerSecond: number;
    try {
      const measured = await baseline({ ...ctx, target: bare });
      basePerSecond = measured.headline.perSecond;
    } finally {
      await bare.stop();
    }
    figures['bare Fastify baseline req/s (this run, after the phases)'] = basePerSecond;
    for (const v of variants) {
      const p = phases.find((x) => x.name === v.name)!;
      const ratio = p.requestsPerSecond / basePerSecond;
      goals.push({
        name: `${v.name} at ${catalogue} events: >= 10% of baseline, p99 < 250 ms`,
        met: ratio >= 0.1 && p.latencyMs.p99 < 250,
        detail: `${p.requestsPerSecond} req/s / ${basePerSecond} = ${ratio.toFixed(3)}, p99 ${p.latencyMs.p99} ms`,
      });
    }
  }
  checks.push(check('every read answered 200', unexpected === 0, `${unexpected} other answers or no answer`));

  const availabilityPhase = phases[0]!;
  return {
    scenario: 'browse',
    options: { events: catalogue, tickets, connections, duration: ctx.opts.duration },
    headline: { phase: 'availability', label: 'availability reads/s', perSecond: availabilityPhase.requestsPerSecond },
    ratioGoal: { name: 'cached availability reads/s >= 40% of baseline req/s', min: 0.4 },
    phases,
    figures,
    checks,
    goals,
    passed: checks.every((c) => c.ok),
    notes: ['Redis hit/miss counts come from INFO stats of the whole Redis server, so other clients of it would count too.'],
  };
}
