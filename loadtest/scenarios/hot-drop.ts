/**
 * hot-drop: N tickets go on sale and M buyers, each with their own token and Idempotency-Key, try
 * to buy one at the same moment over C connections. Passes only when exactly min(N, M) tickets are
 * sold, nothing is oversold and no request got a 5xx, all verified afterwards through the API.
 * With `--types T` (T > 1) the event sells T ticket types whose capacities add up to 1.5x the
 * tickets, unevenly (the event's total is the shared quota); buyer i orders one ticket of type
 * i mod T with `items`, and no type may be oversold either.
 */
import { fire, header, problemCode, toPhase } from '../lib/cannon.js';
import { type ScenarioContext, Tally, elapsed } from '../lib/context.js';
import { type Account, availability, createEvent, createOrganizer, eventBookings, registerBuyers } from '../lib/fixtures.js';
import { purchaseRequest } from '../lib/purchases.js';
import { check, type ScenarioResult } from '../lib/report.js';

export async function hotDrop(ctx: ScenarioContext): Promise<Omit<ScenarioResult, 'startedAt' | 'finishedAt' | 'command' | 'machine' | 'target'>> {
  const { api, runId, log } = ctx;
  const tickets = ctx.opts.tickets;
  const buyersWanted = ctx.opts.buyers ?? 5000;
  const connections = Math.min(ctx.opts.connections, buyersWanted);

  let t0 = performance.now();
  const organizer = await createOrganizer(api, ctx.target.admin, runId);
  const event = await createEvent(api, organizer, { name: `Hot drop ${runId}`, totalTickets: tickets, price: 0, maxTicketsPerBooking: 1 });
  const typeCount = ctx.opts.types;
  const types = typeCount > 1 ? await replaceTypes(ctx, organizer, event.id, typeCount, tickets) : [];
  log(`setup: organizer and event ${event.id} (${tickets} tickets, ${typeCount} type(s), free: a purchase confirms at once)`);
  t0 = performance.now();
  const buyers = await registerBuyers(api, buyersWanted, runId);
  log(`setup: ${buyers.length} buyers registered in ${elapsed(t0)}`);

  const single = JSON.stringify({ eventId: event.id, quantity: 1 });
  const bodies = types.map((type) => JSON.stringify({ eventId: event.id, items: [{ ticketTypeId: type.id, quantity: 1 }] }));
  const tally = new Tally();
  const request = purchaseRequest(
    buyers,
    (i) => (bodies.length > 0 ? bodies[i % bodies.length]! : single),
    (buyer) => `hot-drop-${runId}-${buyer.id}`,
    (status, resBody, _context, headers) => {
      if (status === 201) tally.add(header(headers, 'idempotent-replayed') === 'true' ? 'replayed' : 'sold');
      else tally.add(`${status} ${problemCode(resBody) ?? ''}`.trim());
    },
  );

  log(`load: ${buyers.length} purchases over ${connections} connections`);
  const result = await ctx.target.profilePhase('purchase', () =>
    fire({ title: 'hot-drop', url: ctx.target.baseUrl, connections, amount: buyers.length, requests: [request], timeout: 30 }),
  );
  const phase = toPhase('purchase', result);

  // Verify through the API what the answers claim.
  const avail = await availability(api, event.id);
  const bookings = await eventBookings(api, organizer, event.id);
  const live = bookings.filter((b) => b.status === 'confirmed' || b.status === 'pending');
  const bookedTickets = live.reduce((sum, b) => sum + b.quantity, 0);
  const ticketNumbers = live.flatMap((b) => b.tickets.map((t) => String(t.number)));
  const buyersWithBooking = new Set(live.map((b) => b.user?.id ?? b.userId));

  const expected = Math.min(tickets, buyers.length);
  const sold = tally.get('sold');
  const soldOut = tally.get('409 SOLD_OUT');
  const server5xx = tally.sumWhere((l) => l.startsWith('5'));
  const otherAnswers = tally.sumWhere((l) => l !== 'sold' && l !== '409 SOLD_OUT' && !l.startsWith('5'));
  const oversold = Math.max(0, avail.confirmedTickets + avail.heldTickets - avail.totalTickets, bookedTickets - tickets);
  // Per type: what the availability shows and what the bookings' items add up to, against its capacity.
  const perType = (avail.ticketTypes ?? []).map((figures) => {
    const booked = live.reduce((sum, b) => sum + (b.items ?? []).filter((it) => it.ticketTypeId === figures.ticketTypeId).reduce((s, it) => s + it.quantity, 0), 0);
    const oversoldType = Math.max(0, figures.confirmedTickets + figures.heldTickets - figures.capacity, booked - figures.capacity);
    return { ...figures, booked, oversold: oversoldType };
  });
  const typeOversold = perType.reduce((sum, x) => sum + x.oversold, 0);

  const checks = [
    check('sold answers = tickets', sold === expected, `${sold} x 201 for ${expected} tickets`),
    check('confirmed tickets = tickets (availability)', avail.confirmedTickets === expected && avail.heldTickets === 0, `confirmed ${avail.confirmedTickets}, held ${avail.heldTickets}, available ${avail.availableTickets}`),
    check('bookings listed = sold (organizer list)', live.length === expected && bookedTickets === expected, `${live.length} live bookings, ${bookedTickets} tickets`),
    check('oversold = 0', oversold === 0, `oversold ${oversold}`),
    check(
      'oversold per type = 0',
      typeOversold === 0 && perType.every((x) => x.booked === x.confirmedTickets),
      perType.map((x) => `${x.name}: ${x.confirmedTickets}/${x.capacity} (bookings ${x.booked})`).join(', '),
    ),
    check('no 5xx', server5xx === 0, `${server5xx} x 5xx`),
    check('one booking per buyer', buyersWithBooking.size === live.length, `${buyersWithBooking.size} distinct buyers`),
    check('ticket numbers unique', new Set(ticketNumbers).size === ticketNumbers.length, `${ticketNumbers.length} tickets, ${new Set(ticketNumbers).size} distinct numbers`),
  ];
  const errors = otherAnswers + phase.errors + server5xx;
  return {
    scenario: 'hot-drop',
    options: { tickets, types: typeCount, buyers: buyers.length, connections },
    headline: { phase: 'purchase', label: 'purchases/s', perSecond: phase.requestsPerSecond },
    phases: [phase],
    figures: {
      tickets,
      buyers: buyers.length,
      sold,
      'sold-out answers (409 SOLD_OUT)': soldOut,
      'other answers': otherAnswers,
      '5xx': server5xx,
      'no answer (errors/timeouts)': phase.errors,
      oversold,
      ...(types.length > 0 ? { 'sold per type (confirmed/capacity)': perType.map((x) => `${x.name} ${x.confirmedTickets}/${x.capacity}`).join(', '), 'oversold per type': typeOversold } : {}),
      'answers by kind': JSON.stringify(tally.toObject()),
    },
    checks,
    goals: [
      { name: 'sells out, zero oversell', met: sold === expected && oversold === 0 && typeOversold === 0, detail: `sold ${sold}/${expected}, oversold ${oversold}, per type ${typeOversold}` },
      { name: 'zero errors', met: errors === 0, detail: `${errors} answers other than 201 / 409 SOLD_OUT, or none at all` },
      { name: `p99 < 1 s at concurrency ${connections}`, met: phase.latencyMs.p99 < 1000, detail: `p99 ${phase.latencyMs.p99} ms` },
    ],
    passed: checks.every((c) => c.ok),
    notes: [],
  };
}

/**
 * Replaces the event's default type by `count` free types whose capacities add up to 1.5x its
 * tickets, unevenly (1 : 2 : 3 ... parts), so the smallest type sells out mid-drop while the event
 * quota binds the others: both limits are tested under load.
 */
async function replaceTypes(ctx: ScenarioContext, organizer: Account, eventId: string, count: number, tickets: number) {
  const { api } = ctx;
  const path = `/api/v1/events/${eventId}/ticket-types`;
  const [ga] = await api.data<{ id: string }[]>('GET', path, { token: organizer.accessToken });
  await api.request('DELETE', `${path}/${ga!.id}`, { token: organizer.accessToken });
  const parts = (count * (count + 1)) / 2;
  const made: { id: string }[] = [];
  for (let i = 0; i < count; i++) {
    const capacity = Math.ceil((tickets * 1.5 * (i + 1)) / parts);
    made.push(await api.data<{ id: string }>('POST', path, { token: organizer.accessToken, body: { name: `Type ${i + 1}`, price: 0, capacity } }));
  }
  return made;
}
