import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotStats } from '../src/lib/transaction.js';
import { createAccount, type TestAccount } from './fixtures/accounts.js';
import { doorSetup, freeTickets, scan, type TicketBody } from './fixtures/tickets.js';
import { outboxRows } from './fixtures/webhooks.js';
import { buildTwoInstances, type InstancePair } from './helper.js';

/**
 * A group booking at the door: the scans of one booking's tickets wait in its lane and the ones
 * waiting together commit in one transaction. However many doors (and instances) scan at once,
 * each ticket is let in exactly once and announced exactly once.
 */

let pair: InstancePair;
let organizer: TestAccount;
let buyer: TestAccount;
let eventId: string;

beforeAll(async () => {
  pair = await buildTwoInstances();
  ({ organizer, eventId } = await doorSetup(pair.t.app));
  buyer = await createAccount(pair.t.app);
}, 60_000);
afterAll(() => pair?.close());

const checkedInRows = (ticketIds: string[]) =>
  outboxRows(pair.t.app, { kind: 'message', type: 'ticket.checked_in', 'data.ticket.id': { $in: ticketIds } });

async function scanEachTimes(tickets: TicketBody[], times: number, doors: (i: number) => 't' | 'second') {
  const jobs = tickets.flatMap((ticket) => Array.from({ length: times }, () => ticket));
  return Promise.all(jobs.map((ticket, i) => scan(pair[doors(i)].app, organizer.accessToken, eventId, { code: ticket.code }).then((res) => ({ ticket, res }))));
}

function expectOnceEach(answers: Awaited<ReturnType<typeof scanEachTimes>>, tickets: TicketBody[], times: number) {
  for (const ticket of tickets) {
    const mine = answers.filter((a) => a.ticket.id === ticket.id);
    const ok = mine.filter((a) => a.res.statusCode === 200);
    expect(ok, ticket.number).toHaveLength(1);
    const refused = mine.filter((a) => a.res.statusCode === 409);
    expect(refused, ticket.number).toHaveLength(times - 1);
    const recorded = ok[0].res.json<{ data: { checkedInAt: string } }>().data.checkedInAt;
    for (const r of refused) {
      expect(r.res.json()).toMatchObject({ code: 'ALREADY_CHECKED_IN', checkedInAt: recorded });
    }
  }
}

describe('check-ins of one group booking', () => {
  it('300 scans at once (100 tickets of one booking, each three times) on one instance: each ticket once, fewer transactions than tickets', async () => {
    const { tickets } = await freeTickets(pair.t.app, buyer, eventId, 100);
    const before = snapshotStats();
    const reads = { events: 0, bookings: 0 };
    pair.t.app.db.set('debug', (collection: string, method: string) => {
      if (collection === 'events' && method === 'find') reads.events++;
      if (collection === 'bookings' && method === 'find') reads.bookings++;
    });
    const answers = await scanEachTimes(tickets, 3, () => 't').finally(() => pair.t.app.db.set('debug', false));
    const after = snapshotStats();
    // The door's reads (the event, the ticket's booking) of scans arriving together share a query.
    expect(reads.events).toBeGreaterThan(0);
    expect(reads.events).toBeLessThan(30);
    expect(reads.bookings).toBeGreaterThan(0);
    expect(reads.bookings).toBeLessThan(30);
    expectOnceEach(answers, tickets, 3);
    expect(await checkedInRows(tickets.map((x) => x.id))).toHaveLength(100);
    // Group commit: the scans that waited together shared a transaction.
    expect(after.transactions - before.transactions).toBeLessThan(100);
    expect(after.exhausted - before.exhausted).toBe(0);
  });

  it('300 scans at once split across two instances: their transactions conflict and retry, and still each ticket is let in and announced once', async () => {
    const { tickets } = await freeTickets(pair.t.app, buyer, eventId, 100);
    const answers = await scanEachTimes(tickets, 3, (i) => (i % 2 === 0 ? 't' : 'second'));
    expectOnceEach(answers, tickets, 3);
    expect(answers.filter((a) => a.res.statusCode >= 500)).toHaveLength(0);
    expect(await checkedInRows(tickets.map((x) => x.id))).toHaveLength(100);
  });
});
