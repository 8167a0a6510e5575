/**
 * cluster: 3 instances of the service on one database and one Redis, buyers spread across them.
 * 1. Hot drop: N tickets, 3N distinct buyers (a third on each instance). Passes when exactly N sell,
 *    nothing is oversold and every instance sold; reports each instance's transaction attempts and
 *    write-conflict retries (its /metrics).
 * 2. Crash: a second drop, and one instance is killed with SIGKILL mid-drop inside a sales
 *    transaction that then holds the event until the database aborts it: a `failCommand` fail point
 *    aimed at the victim's connections (its appName) lets its first sale through and blocks the
 *    insert of the next, which comes after that sale's claim of the event, so the victim dies
 *    holding an open transaction that has written the event document. The database runs with
 *    transactionLifetimeLimitSeconds = --tx-lifetime (default 5; set through setParameter, the
 *    operator setting of README "Several instances"; 60 shows mongod's default). Reports how long the surviving instances sold nothing after the kill
 *    (goal: under 10 s), and checks 0 oversold and the ledger against the audit's recount.
 */
import type autocannon from 'autocannon';
import { bookingModel } from '../../src/bookings/booking.model.js';
import { compare, recount } from '../../src/bookings/ledger-audit.js';
import { eventModel, type EventFields } from '../../src/events/event.model.js';
import { fire, problemCode, toPhase, type Phase } from '../lib/cannon.js';
import { type ScenarioContext, Tally, elapsed } from '../lib/context.js';
import { type Account, availability, createEvent, createOrganizer, eventBookings, registerBuyers } from '../lib/fixtures.js';
import { purchaseRequest } from '../lib/purchases.js';
import { check, type Check, type Goal, type ScenarioResult } from '../lib/report.js';
import { connect } from '../lib/seed.js';

const INSTANCES = 3;
const CONNECTIONS_EACH = 50;
/** The crash comes once the survivors have sold nothing this long after the victim's first sale... */
const SURVIVOR_QUIET_MS = 300;
/** ...or this long after the drop starts, whichever is first. */
const CRASH_DEADLINE_MS = 5000;
/** Inserts the victim makes in the crash drop before the fail point holds one (two per sale). */
const VICTIM_INSERTS_BEFORE_BLOCK = 2;

/** Sums every sample of a Prometheus counter in /metrics text (all label sets). */
function counter(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? ([0-9.e+-]+)$`).exec(line);
    if (m) sum += Number(m[2]);
  }
  return sum;
}

async function metrics(url: string): Promise<{ attempts: number; conflicts: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return {
    attempts: counter(text, 'ticketing_booking_transaction_attempts_total'),
    conflicts: counter(text, 'ticketing_booking_transaction_conflict_retries_total'),
  };
}

interface Sale {
  at: number;
  status: number;
}

/** Purchases of `eventId` by `buyers` against one instance; every answer is timed. */
function purchases(url: string, eventId: string, buyers: Account[], tag: string, tally: Tally, log: Sale[]): autocannon.Request[] {
  const body = JSON.stringify({ eventId, quantity: 1 });
  return [
    purchaseRequest(
      buyers,
      () => body,
      (buyer) => `${tag}-${buyer.id}`,
      (status, resBody) => {
        log.push({ at: performance.now(), status });
        tally.add(status === 201 ? 'sold' : `${status} ${problemCode(resBody) ?? ''}`.trim());
      },
    ),
  ];
}

export async function cluster(ctx: ScenarioContext): Promise<Omit<ScenarioResult, 'startedAt' | 'finishedAt' | 'command' | 'machine' | 'target'>> {
  const { api, runId, log, target } = ctx;
  if (!target.startSibling || !target.mongoUri) throw new Error('cluster starts instances of its own: not with --url or --mongo inline');
  const LIFETIME_SECONDS = ctx.opts.txLifetime;
  const conn = await connect(target.mongoUri);
  const models = { Event: eventModel(conn), Booking: bookingModel(conn) };
  try {
    await conn.db!.admin().command({ setParameter: 1, transactionLifetimeLimitSeconds: LIFETIME_SECONDS });
    const siblings = [];
    // The last instance is the one killed in the crash drop; its connections carry an appName so a
    // fail point can hold exactly its transaction open.
    const victimUri = new URL(target.mongoUri);
    victimUri.searchParams.set('appName', `cluster-victim-${runId}`);
    for (let i = 2; i <= INSTANCES; i++) {
      siblings.push(await target.startSibling(`server-${i}`, i === INSTANCES ? { MONGODB_URI: victimUri.toString() } : {}));
    }
    const urls = [target.baseUrl, ...siblings.map((s) => `http://127.0.0.1:${s.ready.port}`)];
    log(`setup: ${INSTANCES} instances (${urls.join(', ')}); transactionLifetimeLimitSeconds=${LIFETIME_SECONDS}`);

    const tickets = ctx.opts.tickets;
    const organizer = await createOrganizer(api, target.admin, runId);
    const t0 = performance.now();
    const buyers = await registerBuyers(api, ctx.opts.buyers ?? tickets * INSTANCES, runId);
    const shares = urls.map((_, i) => buyers.filter((_b, j) => j % INSTANCES === i));
    log(`setup: ${buyers.length} buyers in ${elapsed(t0)}`);

    const phases: Phase[] = [];
    const figures: Record<string, number | string> = {};
    const checks: Check[] = [];
    const goals: Goal[] = [];

    // 1. The hot drop over three instances.
    const drop = await createEvent(api, organizer, { name: `Cluster ${runId}`, totalTickets: tickets, price: 0, maxTicketsPerBooking: 1 });
    const before = await Promise.all(urls.map(metrics));
    const tallies = urls.map(() => new Tally());
    const results = await target.profilePhase('hot drop', () =>
      Promise.all(
        urls.map((url, i) =>
          fire({ title: `cluster ${i + 1}`, url, connections: CONNECTIONS_EACH, amount: shares[i]!.length, requests: purchases(url, drop.id, shares[i]!, `cl-${runId}-1`, tallies[i]!, []), timeout: 30 }),
        ),
      ),
    );
    const after = await Promise.all(urls.map(metrics));
    results.forEach((r, i) => phases.push(toPhase(`hot drop, instance ${i + 1}`, r)));
    const soldEach = tallies.map((t) => t.get('sold'));
    const sold = soldEach.reduce((a, b) => a + b, 0);
    const avail = await availability(api, drop.id);
    const live = (await eventBookings(api, organizer, drop.id)).filter((b) => b.status === 'confirmed' || b.status === 'pending');
    const server5xx = tallies.reduce((n, t) => n + t.sumWhere((l) => l.startsWith('5')), 0);
    urls.forEach((_, i) => {
      figures[`hot drop, instance ${i + 1}: answers`] = JSON.stringify(tallies[i]!.toObject());
      figures[`hot drop, instance ${i + 1}: transaction attempts / write-conflict retries`] = `${after[i]!.attempts - before[i]!.attempts} / ${after[i]!.conflicts - before[i]!.conflicts}`;
    });
    checks.push(
      check('hot drop: sold = tickets', sold === tickets && avail.confirmedTickets === tickets, `${sold} x 201 (${soldEach.join(' + ')}), confirmed ${avail.confirmedTickets} of ${tickets}`),
      check('hot drop: oversold = 0', live.length === avail.confirmedTickets && avail.confirmedTickets + avail.heldTickets <= tickets, `${live.length} live bookings, confirmed ${avail.confirmedTickets}, held ${avail.heldTickets}`),
      check('hot drop: every instance sold', soldEach.every((n) => n > 0), soldEach.join(', ')),
      check('hot drop: no 5xx', server5xx === 0, `${server5xx} x 5xx`),
    );

    // 2. A second drop; one instance dies mid-drop.
    const total2 = tickets * 2;
    const drop2 = await createEvent(api, organizer, { name: `Cluster crash ${runId}`, totalTickets: total2, price: 0, maxTicketsPerBooking: 1 });
    const crashTallies = urls.map(() => new Tally());
    const timelines: Sale[][] = urls.map(() => []);
    const victim = siblings[siblings.length - 1]!;
    const start = performance.now();
    let killedAt = 0;
    // The victim's third insert of this drop blocks (each sale inserts its bookings, then its outbox
    // messages: the first sales go through, the next one is held after its claim of the event). It
    // then dies inside that open transaction. The fail point's count says whether it got there.
    const armed = await conn.db!.admin().command({
      configureFailPoint: 'failCommand',
      mode: { skip: VICTIM_INSERTS_BEFORE_BLOCK },
      data: { failCommands: ['insert'], blockConnection: true, blockTimeMS: 120_000, appName: victimUri.searchParams.get('appName') },
    });
    const firedBefore = Number(armed.count ?? 0);
    // The kill comes once the victim has sold and the survivors have then sold nothing for
    // SURVIVOR_QUIET_MS (the event is held by the victim's next sale, blocked by the fail point), or at
    // CRASH_DEADLINE_MS whatever happened. The fail point's count, reported below, says which it was.
    const victimLine = timelines[timelines.length - 1]!;
    const kill = () => {
      if (killedAt) return;
      killedAt = performance.now();
      victim.crash();
      log(`crash: kill -9 ${victim.name} (pid ${victim.pid}) ${Math.round(killedAt - start)} ms into the drop, after ${victimLine.length} victim answers`);
    };
    const deadline = setTimeout(kill, CRASH_DEADLINE_MS);
    const watch = setInterval(() => {
      const first = victimLine.find((s) => s.status === 201);
      if (!first) return;
      const lastSurvivorSale = Math.max(first.at, ...timelines.slice(0, -1).map((line) => line.findLast((s) => s.status === 201)?.at ?? 0));
      if (performance.now() - lastSurvivorSale >= SURVIVOR_QUIET_MS) kill();
    }, 20);
    const crashResults = await target.profilePhase('crash drop', () =>
      Promise.all(
        urls.map((url, i) =>
          fire({
            title: `crash ${i + 1}`,
            url,
            connections: CONNECTIONS_EACH,
            // The victim's load ends when it dies; the survivors each sell their share of the buyers.
            ...(i === urls.length - 1 ? { duration: Math.ceil(CRASH_DEADLINE_MS / 1000) + 2 } : { amount: shares[i]!.length }),
            requests: purchases(url, drop2.id, shares[i]!, `cl-${runId}-2`, crashTallies[i]!, timelines[i]!),
            timeout: 30,
          }),
        ),
      ),
    );
    clearTimeout(deadline);
    clearInterval(watch);
    // The reply counts the times the fail point fired: 1 means the victim was blocked inside a sale.
    const fired = Number((await conn.db!.admin().command({ configureFailPoint: 'failCommand', mode: 'off' })).count ?? 0) - firedBefore;
    crashResults.forEach((r, i) => phases.push(toPhase(`crash drop, instance ${i + 1}${i === urls.length - 1 ? ' (killed)' : ''}`, r)));

    // How long the survivors sold nothing after the kill: the longest gap between their sales from the kill on.
    const survivorSales = timelines
      .slice(0, -1)
      .flat()
      .filter((s) => s.status === 201)
      .map((s) => s.at)
      .sort((a, b) => a - b);
    let stall = 0;
    let last = killedAt;
    for (const at of survivorSales.filter((a) => a >= killedAt)) {
      stall = Math.max(stall, at - last);
      last = at;
    }
    // No sale after the kill at all: the stall lasted until the survivors' last answer.
    if (killedAt && !survivorSales.some((a) => a >= killedAt)) {
      stall = Math.max(0, ...timelines.slice(0, -1).flat().map((s) => s.at)) - killedAt;
    }
    const survivor503 = timelines.slice(0, -1).flat().filter((s) => s.at >= killedAt && s.status === 503).length;
    const resumedAfter = survivorSales.find((a) => a >= killedAt);
    urls.forEach((_, i) => (figures[`crash drop, instance ${i + 1}: answers`] = JSON.stringify(crashTallies[i]!.toObject())));
    figures['crash drop: killed at (ms into the drop)'] = Math.round(killedAt - start);
    figures['crash drop: victim inserts blocked by the fail point (1: killed inside a sales transaction)'] = fired;
    figures['crash drop: victim answers before the kill'] = timelines[timelines.length - 1]!.filter((s) => s.at <= killedAt).length;
    figures['crash drop: first survivor sale after the kill (ms)'] = resumedAfter === undefined ? 'none' : Math.round(resumedAfter - killedAt);
    figures['crash drop: longest stretch without a survivor sale after the kill (ms)'] = Math.round(stall);
    figures['crash drop: survivor 503 answers after the kill'] = survivor503;

    // Give the database time to abort a transaction the victim left open, then audit the event.
    await new Promise((r) => setTimeout(r, (LIFETIME_SECONDS + 1) * 1000));
    const avail2 = await availability(api, drop2.id);
    const live2 = (await eventBookings(api, organizer, drop2.id)).filter((b) => b.status === 'confirmed' || b.status === 'pending');
    const stored = await models.Event.findById(drop2.id).lean<EventFields>();
    const diffs = stored ? compare(stored, await recount(models, stored, new Date()), new Date()) : [];
    const survivorsSold = crashTallies.slice(0, -1).reduce((n, t) => n + t.get('sold'), 0);
    checks.push(
      check('crash drop: oversold = 0', avail2.confirmedTickets + avail2.heldTickets <= total2 && live2.length === avail2.confirmedTickets + avail2.heldTickets, `confirmed ${avail2.confirmedTickets}, held ${avail2.heldTickets}, ${live2.length} live bookings, ${total2} tickets`),
      check('crash drop: ledger = audit recount', diffs.length === 0, diffs.length === 0 ? 'agrees' : JSON.stringify(diffs.slice(0, 3))),
      check('crash drop: survivors sold after the kill', resumedAfter !== undefined, `${survivorsSold} sold by the survivors in all`),
    );
    goals.push(
      { name: 'hot drop over 3 instances: exact sell-out, 0 oversold, each instance sells', met: checks.slice(0, 3).every((c) => c.ok), detail: `${soldEach.join(' + ')} = ${sold} of ${tickets}` },
      {
        name: 'after kill -9 of one instance, the others sell again within 10 s, 0 oversold',
        met: resumedAfter !== undefined && stall < 10_000 && checks[4]!.ok,
        detail: `longest stretch without a sale ${Math.round(stall)} ms, ${survivor503} x 503 on the survivors, transactionLifetimeLimitSeconds=${LIFETIME_SECONDS}`,
      },
    );
    return {
      scenario: 'cluster',
      options: { instances: INSTANCES, tickets, buyers: buyers.length, connectionsEach: CONNECTIONS_EACH, transactionLifetimeLimitSeconds: LIFETIME_SECONDS },
      headline: { phase: phases[0]!.name, label: 'purchases/s (instance 1, hot drop)', perSecond: phases[0]!.requestsPerSecond },
      phases,
      figures,
      checks,
      goals,
      passed: checks.every((c) => c.ok),
      notes: ['The killed instance may have committed sales whose answers were lost: the checks count the database, not the answers.'],
    };
  } finally {
    await conn.close();
  }
}
