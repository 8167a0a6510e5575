import type { AddressInfo } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import { Types } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import venueRoutes from '../src/venues/routes.js';
import { bearer, createAccount, type TestAccount } from './fixtures/accounts.js';
import { createSeatedEvent } from './fixtures/seats.js';
import { buildTestApp, type TestApp } from './helper.js';
import { expectProblem } from './support/problem.js';

/** Venues end to end: plans with their ids and capacity, who may do what, every plan rule, and plans in use. */

interface Seat {
  id: string;
  label: string;
}
interface Row {
  label: string;
  seats: Seat[];
}
interface Section {
  id: string;
  name: string;
  rows: Row[];
}
interface Venue {
  id: string;
  name: string;
  address: string;
  sections: Section[];
  capacity: number;
  organizerId: string;
  createdAt: string;
  updatedAt: string;
}
type SectionBody = { id?: string; name: string; rows: { label: string; seats: { id?: string; label: string }[] }[] };

let t: TestApp;
let organizer: TestAccount;
let other: TestAccount;
let admin: TestAccount;
let customer: TestAccount;
/** Venue ids the hooked routes (below) reported as changed. */
const changed: string[] = [];

beforeAll(async () => {
  t = await buildTestApp({
    // The same routes once more, with a venueChanged hook the tests can watch (app.ts passes none yet).
    extend: async (app) => {
      await app.register(venueRoutes, { prefix: '/hooked/venues', venueChanged: async (id) => void changed.push(id) });
    },
  });
  [organizer, other, admin, customer] = await Promise.all([
    createAccount(t.app, { role: 'organizer' }),
    createAccount(t.app, { role: 'organizer' }),
    createAccount(t.app, { role: 'admin' }),
    createAccount(t.app),
  ]);
}, 60_000);
afterAll(() => t.close());

const URL = '/api/v1/venues';

/** A section of `rows` rows of `seats` seats, rows A, B, ... and seats 1, 2, ...; ids left to the service. */
const block = (name: string, rows: number, seats: number, id?: string): SectionBody => ({
  ...(id ? { id } : {}),
  name,
  rows: Array.from({ length: rows }, (_, r) => ({
    label: String.fromCharCode(65 + r),
    seats: Array.from({ length: seats }, (_, s) => ({ label: String(s + 1) })),
  })),
});

const post = (token: string | undefined, payload: unknown, url = URL) =>
  t.app.inject({ method: 'POST', url, headers: token ? bearer(token) : {}, payload: payload as object });
const patch = (token: string | undefined, id: string, payload: unknown, url = URL) =>
  t.app.inject({ method: 'PATCH', url: `${url}/${id}`, headers: token ? bearer(token) : {}, payload: payload as object });
const read = (id: string) => t.app.inject({ method: 'GET', url: `${URL}/${id}` });
const venueOf = (res: LightMyRequestResponse) => res.json<{ data: Venue }>().data;

async function createVenue(sections: SectionBody[], token = organizer.accessToken, url = URL): Promise<Venue> {
  const res = await post(token, { name: 'Hall', address: '1 Main Street', sections }, url);
  expect(res.statusCode, res.body).toBe(201);
  return venueOf(res);
}

/** The plan as a PATCH sends it back: every id kept. */
const planOf = (venue: Venue): SectionBody[] => venue.sections.map((s) => ({ id: s.id, name: s.name, rows: s.rows.map((r) => ({ label: r.label, seats: r.seats.map((x) => ({ ...x })) })) }));

/** A new seated event of `organizer` at the venue, with that status; returns its id. */
async function useVenue(venueId: string, status: 'draft' | 'published' = 'published'): Promise<string> {
  return (await createSeatedEvent(t.app, organizer.accessToken, venueId, { status })).eventId;
}

const countVenues = () => t.app.models.Venue.countDocuments();

describe('create, read and list', () => {
  it('creates a venue with its capacity, a Location, ids filled in, and reads it back for anyone', async () => {
    const res = await post(organizer.accessToken, {
      name: '  Grand Hall ',
      address: '1 Main Street',
      sections: [block('Stalls', 2, 3), { id: 'balcony', name: 'Balcony', rows: [{ label: 'A', seats: [{ id: 'bal-a-1', label: '1' }, { label: '2' }] }] }],
    });
    expect(res.statusCode, res.body).toBe(201);
    const venue = venueOf(res);
    expect(res.headers.location).toBe(`${URL}/${venue.id}`);
    expect(venue).toMatchObject({ name: 'Grand Hall', address: '1 Main Street', capacity: 8, organizerId: organizer.user.id });
    expect(venue.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    const [stalls, balcony] = venue.sections as [Section, Section];
    // A generated section id is short and random, and seat ids default to section-row-seat.
    expect(stalls.id).toMatch(/^[A-Za-z0-9_-]{8}$/);
    expect(stalls.rows.map((r) => r.label)).toEqual(['A', 'B']);
    expect(stalls.rows[1]!.seats).toEqual([1, 2, 3].map((n) => ({ id: `${stalls.id}-B-${n}`, label: String(n) })));
    // Given ids are kept; the others are still generated around them.
    expect(balcony.id).toBe('balcony');
    expect(balcony.rows[0]!.seats).toEqual([{ id: 'bal-a-1', label: '1' }, { id: 'balcony-A-2', label: '2' }]);

    const got = await read(venue.id);
    expect(got.statusCode).toBe(200);
    expect(venueOf(got)).toEqual(venue);
    // Stored as answered, capacity included.
    const stored = await t.app.models.Venue.findById(venue.id).lean();
    expect(stored?.capacity).toBe(8);
    expect(stored?.sections[0]?.rows[1]?.seats[2]?.id).toBe(`${stalls.id}-B-3`);
  });

  it('generated section ids differ between sections and venues', async () => {
    const a = await createVenue([block('One', 1, 1), block('Two', 1, 1)]);
    const b = await createVenue([block('One', 1, 1)]);
    const ids = [...a.sections, ...b.sections].map((s) => s.id);
    expect(new Set(ids).size).toBe(3);
  });

  it('lists venues newest first, paged like the other lists, for anyone', async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await createVenue([block('S', 1, i + 1)]));
    const total = await countVenues();

    const first = await t.app.inject({ method: 'GET', url: `${URL}?limit=2` });
    expect(first.statusCode).toBe(200);
    const body = first.json<{ success: boolean; data: Venue[]; meta: unknown }>();
    expect(body.success).toBe(true);
    expect(body.meta).toEqual({ page: 1, limit: 2, total, totalPages: Math.ceil(total / 2) });
    expect(body.data.map((v) => v.id)).toEqual([made[2]!.id, made[1]!.id]);
    expect(body.data[0]).toEqual(made[2]);

    const second = await t.app.inject({ method: 'GET', url: `${URL}?limit=2&page=2` });
    expect(second.json<{ data: Venue[] }>().data[0]!.id).toBe(made[0]!.id);
    // Default paging, and unknown or bad parameters refused like everywhere else.
    expect((await t.app.inject({ method: 'GET', url: URL })).json<{ meta: { limit: number } }>().meta.limit).toBe(20);
    expectProblem(await t.app.inject({ method: 'GET', url: `${URL}?limit=101` }), 400, 'VALIDATION_FAILED');
    expectProblem(await t.app.inject({ method: 'GET', url: `${URL}?owner=me` }), 400, 'VALIDATION_FAILED');
  });

  it('reads: 404 for an unknown id, 400 for a malformed one, 401 for a bad token', async () => {
    expectProblem(await read(new Types.ObjectId().toHexString()), 404, 'NOT_FOUND');
    const malformed = expectProblem(await read('not-an-id'), 400, 'VALIDATION_FAILED');
    expect(malformed.errors?.[0]?.path).toBe('params.id');
    expectProblem(await t.app.inject({ method: 'GET', url: URL, headers: bearer('nope') }), 401, 'UNAUTHENTICATED');
  });
});

describe('who may do what', () => {
  it('organizers and admins create; customers get 403, anonymous callers 401, and nothing is stored', async () => {
    const before = await countVenues();
    expectProblem(await post(customer.accessToken, { name: 'X', sections: [block('S', 1, 1)] }), 403, 'FORBIDDEN');
    expectProblem(await post(undefined, { name: 'X', sections: [block('S', 1, 1)] }), 401, 'UNAUTHENTICATED');
    expect(await countVenues()).toBe(before);
    const byAdmin = await createVenue([block('S', 1, 1)], admin.accessToken);
    expect(byAdmin.organizerId).toBe(admin.user.id);
  });

  it("changes: the venue's organizer and admins; another organizer 403, a customer 403, anonymous 401", async () => {
    const venue = await createVenue([block('S', 1, 2)]);
    expectProblem(await patch(other.accessToken, venue.id, { name: 'Mine now' }), 403, 'FORBIDDEN');
    expectProblem(await patch(customer.accessToken, venue.id, { name: 'Mine now' }), 403, 'FORBIDDEN');
    expectProblem(await patch(undefined, venue.id, { name: 'Mine now' }), 401, 'UNAUTHENTICATED');
    expect(venueOf(await read(venue.id)).name).toBe('Hall');

    const own = await patch(organizer.accessToken, venue.id, { name: 'Renamed', address: '' });
    expect(own.statusCode, own.body).toBe(200);
    expect(venueOf(own)).toMatchObject({ name: 'Renamed', address: '', capacity: 2, sections: venue.sections });
    const byAdmin = await patch(admin.accessToken, venue.id, { address: '2 Side Street' });
    expect(venueOf(byAdmin)).toMatchObject({ name: 'Renamed', address: '2 Side Street', organizerId: organizer.user.id });

    expectProblem(await patch(organizer.accessToken, new Types.ObjectId().toHexString(), { name: 'X' }), 404, 'NOT_FOUND');
    expectProblem(await patch(organizer.accessToken, 'zzz', { name: 'X' }), 400, 'VALIDATION_FAILED');
  });
});

describe('plan rules: 400 VALIDATION_FAILED naming the path, and nothing stored', () => {
  const long = 'x'.repeat(65);
  const cases: { name: string; body: Record<string, unknown>; path: string }[] = [
    { name: 'a missing name', body: { sections: [block('S', 1, 1)] }, path: 'name' },
    { name: 'an empty name', body: { name: '   ', sections: [block('S', 1, 1)] }, path: 'name' },
    { name: 'a name past 200 characters', body: { name: 'n'.repeat(201), sections: [block('S', 1, 1)] }, path: 'name' },
    { name: 'an address past 500 characters', body: { name: 'V', address: 'a'.repeat(501), sections: [block('S', 1, 1)] }, path: 'address' },
    { name: 'no sections', body: { name: 'V', sections: [] }, path: 'sections' },
    { name: 'more than 100 sections', body: { name: 'V', sections: Array.from({ length: 101 }, (_, i) => block(`S${i}`, 1, 1)) }, path: 'sections' },
    { name: 'a section without rows', body: { name: 'V', sections: [{ name: 'S', rows: [] }] }, path: 'sections.0.rows' },
    { name: 'more than 500 rows in a section', body: { name: 'V', sections: [{ name: 'S', rows: Array.from({ length: 501 }, (_, i) => ({ label: `R${i}`, seats: [{ label: '1' }] })) }] }, path: 'sections.0.rows' },
    { name: 'a row without seats', body: { name: 'V', sections: [{ name: 'S', rows: [{ label: 'A', seats: [] }] }] }, path: 'sections.0.rows.0.seats' },
    { name: 'more than 500 seats in a row', body: { name: 'V', sections: [block('S', 1, 501)] }, path: 'sections.0.rows.0.seats' },
    { name: 'more than 20,000 seats in all', body: { name: 'V', sections: Array.from({ length: 41 }, (_, i) => block(`S${i}`, 1, 500)) }, path: 'sections' },
    { name: 'a section id with a space', body: { name: 'V', sections: [block('S', 1, 1, 'main floor')] }, path: 'sections.0.id' },
    { name: 'a section id of 65 characters', body: { name: 'V', sections: [block('S', 1, 1, long)] }, path: 'sections.0.id' },
    { name: 'an empty seat id', body: { name: 'V', sections: [{ name: 'S', rows: [{ label: 'A', seats: [{ id: '', label: '1' }] }] }] }, path: 'sections.0.rows.0.seats.0.id' },
    { name: 'a seat id with a slash', body: { name: 'V', sections: [{ name: 'S', rows: [{ label: 'A', seats: [{ id: 'a/1', label: '1' }] }] }] }, path: 'sections.0.rows.0.seats.0.id' },
    { name: 'a seat id that is not a string', body: { name: 'V', sections: [{ name: 'S', rows: [{ label: 'A', seats: [{ id: 7, label: '1' }] }] }] }, path: 'sections.0.rows.0.seats.0.id' },
    { name: 'two sections with one id', body: { name: 'V', sections: [block('S', 1, 1, 'dup'), block('T', 1, 1, 'other'), block('U', 1, 1, 'dup')] }, path: 'sections.2.id' },
    { name: 'two rows of a section with one label', body: { name: 'V', sections: [{ name: 'S', rows: [{ label: 'A', seats: [{ label: '1' }] }, { label: 'A', seats: [{ label: '2' }] }] }] }, path: 'sections.0.rows.1.label' },
    { name: 'two seats of a row with one label', body: { name: 'V', sections: [{ name: 'S', rows: [{ label: 'A', seats: [{ label: '1' }, { label: '2' }, { label: '1' }] }] }] }, path: 'sections.0.rows.0.seats.2.label' },
    {
      name: 'one seat id in two sections',
      body: { name: 'V', sections: [{ name: 'S', rows: [{ label: 'A', seats: [{ id: 'seat-1', label: '1' }] }] }, { name: 'T', rows: [{ label: 'A', seats: [{ id: 'seat-1', label: '1' }] }] }] },
      path: 'sections.1.rows.0.seats.0.id',
    },
    {
      name: 'a given seat id equal to a generated one',
      body: { name: 'V', sections: [{ id: 's', name: 'S', rows: [{ label: 'A', seats: [{ label: '1' }, { id: 's-A-1', label: '2' }] }] }] },
      path: 'sections.0.rows.0.seats.1.id',
    },
    {
      name: 'a generated seat id that is not a valid id (labels with spaces, no id given)',
      body: { name: 'V', sections: [{ id: 's', name: 'S', rows: [{ label: 'Row A', seats: [{ label: '1' }] }] }] },
      path: 'sections.0.rows.0.seats.0.id',
    },
    { name: 'an unknown seat field', body: { name: 'V', sections: [{ name: 'S', rows: [{ label: 'A', seats: [{ label: '1', price: 5 }] }] }] }, path: 'sections.0.rows.0.seats.0.price' },
    { name: 'an empty row label', body: { name: 'V', sections: [{ name: 'S', rows: [{ label: '', seats: [{ label: '1' }] }] }] }, path: 'sections.0.rows.0.label' },
  ];

  it.each(cases)('create with $name', async ({ body, path }) => {
    const before = await countVenues();
    const problem = expectProblem(await post(organizer.accessToken, body), 400, 'VALIDATION_FAILED');
    expect(problem.errors?.map((e) => e.path)).toContain(path);
    expect(await countVenues()).toBe(before);
  });

  it.each(cases.filter((c) => c.path.startsWith('sections')))('change with $name leaves the venue as it was', async ({ body, path }) => {
    const venue = await createVenue([block('S', 2, 2)]);
    const problem = expectProblem(await patch(organizer.accessToken, venue.id, { sections: body.sections }), 400, 'VALIDATION_FAILED');
    expect(problem.errors?.map((e) => e.path)).toContain(path);
    expect(venueOf(await read(venue.id))).toEqual(venue);
  });

  it('names every duplicate, each with where the first one is', async () => {
    const res = await post(organizer.accessToken, { name: 'V', sections: [{ name: 'S', rows: [{ label: 'A', seats: [{ label: '1' }, { label: '1' }, { label: '1' }] }] }] });
    const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
    const labels = problem.errors?.filter((e) => e.path.endsWith('.label'));
    expect(labels?.map((e) => e.path)).toEqual(['sections.0.rows.0.seats.1.label', 'sections.0.rows.0.seats.2.label']);
    expect(labels?.[0]?.message).toContain('sections.0.rows.0.seats.0');
  });

  it('an empty change is refused', async () => {
    const venue = await createVenue([block('S', 1, 1)]);
    expectProblem(await patch(organizer.accessToken, venue.id, {}), 400, 'VALIDATION_FAILED');
  });
});

describe('changing the plan of a venue in use', () => {
  it('a published event: the plan may gain seats, capacity grows, and the hook is told', async () => {
    const venue = await createVenue([block('Stalls', 2, 3, 'stalls')], organizer.accessToken, '/hooked/venues');
    await useVenue(venue.id);
    const plan = planOf(venue);
    plan[0]!.rows[0]!.seats.push({ label: '4' });
    plan.push(block('Balcony', 1, 2, 'balcony'));

    const res = await patch(organizer.accessToken, venue.id, { sections: plan }, '/hooked/venues');
    expect(res.statusCode, res.body).toBe(200);
    const grown = venueOf(res);
    expect(grown.capacity).toBe(9);
    expect(grown.sections[0]!.rows[0]!.seats.map((s) => s.id)).toEqual(['stalls-A-1', 'stalls-A-2', 'stalls-A-3', 'stalls-A-4']);
    expect(venueOf(await read(venue.id))).toEqual(grown);
    expect(changed).toEqual([venue.id]);

    // A change that keeps every seat (a rename) is no seat change: the hook is not told again.
    expect((await patch(organizer.accessToken, venue.id, { name: 'Renamed', sections: planOf(grown) }, '/hooked/venues')).statusCode).toBe(200);
    expect(changed).toEqual([venue.id]);
  });

  it('through the app, a published seated event offers the seats its venue gains', async () => {
    const venue = await createVenue([block('Stalls', 2, 3, 'stalls')]);
    const eventId = await useVenue(venue.id);
    const totalOf = async () => (await t.app.inject({ method: 'GET', url: `/api/v1/events/${eventId}` })).json<{ data: { totalTickets: number } }>().data.totalTickets;
    expect(await totalOf()).toBe(6);
    const plan = planOf(venue);
    plan[0]!.rows.push({ label: 'C', seats: [{ label: '1' }, { label: '2' }] });
    const res = await patch(organizer.accessToken, venue.id, { sections: plan });
    expect(res.statusCode, res.body).toBe(200);
    expect(venueOf(res).capacity).toBe(8);
    expect(await totalOf()).toBe(8);
  });

  it('a published event: removing a seat is 409 SEATS_IN_USE naming it, and nothing changes', async () => {
    const venue = await createVenue([block('Stalls', 2, 3, 'stalls')], organizer.accessToken, '/hooked/venues');
    await useVenue(venue.id);
    const before = changed.length;
    const plan = planOf(venue);
    plan[0]!.rows[1]!.seats.splice(1, 1); // stalls-B-2
    plan[0]!.rows[0]!.seats.push({ label: '9' }); // a gain in the same change does not excuse the loss

    const problem = expectProblem(await patch(organizer.accessToken, venue.id, { name: 'Smaller', sections: plan }, '/hooked/venues'), 409, 'SEATS_IN_USE');
    expect(problem.seats).toEqual(['stalls-B-2']);
    expect(venueOf(await read(venue.id))).toEqual(venue);
    expect(changed.length).toBe(before);

    // Leaving out a whole section (its seats get other ids when sent without it) names every seat.
    const withoutIds = expectProblem(await patch(organizer.accessToken, venue.id, { sections: [block('Stalls', 2, 3)] }), 409, 'SEATS_IN_USE');
    expect(withoutIds.seats).toEqual(venue.sections[0]!.rows.flatMap((r) => r.seats.map((s) => s.id)));
    expect(venueOf(await read(venue.id))).toEqual(venue);
  });

  it('a published event: moving a seat to another section is 409 SEATS_IN_USE naming it', async () => {
    const venue = await createVenue([block('Stalls', 1, 2, 'stalls'), block('Box', 1, 1, 'box')]);
    await useVenue(venue.id);
    const plan = planOf(venue);
    const moved = plan[0]!.rows[0]!.seats.pop()!; // stalls-A-2
    plan[1]!.rows[0]!.seats.push({ id: moved.id, label: '2' });
    const problem = expectProblem(await patch(organizer.accessToken, venue.id, { sections: plan }), 409, 'SEATS_IN_USE');
    expect(problem.seats).toEqual(['stalls-A-2']);
    expect(venueOf(await read(venue.id))).toEqual(venue);

    // Reordering within a section keeps every seat where it was: allowed.
    const reordered = planOf(venue);
    reordered[0]!.rows[0]!.seats.reverse();
    const res = await patch(organizer.accessToken, venue.id, { sections: reordered });
    expect(res.statusCode, res.body).toBe(200);
    expect(venueOf(res).sections[0]!.rows[0]!.seats.map((s) => s.id)).toEqual(['stalls-A-2', 'stalls-A-1']);
  });

  it('a venue no published event uses (unused, or only a draft) may lose seats; capacity shrinks and the hook is told', async () => {
    const unused = await createVenue([block('Stalls', 2, 3, 'stalls'), block('Box', 1, 1, 'box')], organizer.accessToken, '/hooked/venues');
    const before = changed.length;
    const res = await patch(organizer.accessToken, unused.id, { sections: [block('Stalls', 1, 2, 'stalls')] }, '/hooked/venues');
    expect(res.statusCode, res.body).toBe(200);
    expect(venueOf(res)).toMatchObject({ capacity: 2, sections: [{ id: 'stalls', rows: [{ label: 'A', seats: [{ id: 'stalls-A-1' }, { id: 'stalls-A-2' }] }] }] });
    expect((await t.app.models.Venue.findById(unused.id).lean())?.capacity).toBe(2);
    expect(changed.slice(before)).toEqual([unused.id]);

    const drafted = await createVenue([block('Stalls', 1, 3, 'stalls')]);
    await useVenue(drafted.id, 'draft');
    const shrunk = await patch(organizer.accessToken, drafted.id, { sections: [block('Stalls', 1, 1, 'stalls')] });
    expect(shrunk.statusCode, shrunk.body).toBe(200);
    expect(venueOf(shrunk).capacity).toBe(1);
  });
});

describe('changes at the same time', () => {
  it('every one of five concurrent changes is applied once, each re-decided on the plan before it', async () => {
    const venue = await createVenue([block('Stalls', 1, 1, 'stalls')]);
    await useVenue(venue.id);
    // Each adds its own row to the plan it read; whichever lands later must still keep the others' seats.
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => patch(organizer.accessToken, venue.id, { name: `Change ${n}`, sections: [block('Stalls', n, 1, 'stalls')] })),
    );
    for (const res of results) expect([200, 409], res.body).toContain(res.statusCode);
    const stored = await t.app.models.Venue.findById(venue.id).lean<{ revision: number; capacity: number }>();
    const applied = results.flatMap((r, i) => (r.statusCode === 200 ? [i + 1] : []));
    expect(stored?.revision).toBe(applied.length);
    // No change that landed lost another's row: the plan holds the biggest one applied.
    expect(stored?.capacity).toBe(Math.max(...applied));
    // A refused change named seats a change that landed before it had added.
    for (const res of results.filter((r) => r.statusCode === 409)) expect(res.json<{ seats: string[] }>().seats.length).toBeGreaterThan(0);
  });
});

describe('a big venue', () => {
  /** 20,000 seats in 40 sections of 20 rows of 25, each with a 40-character id: about 1.2 MB of JSON. */
  const bigPlan = (seatsInLastRow = 25) =>
    Array.from({ length: 40 }, (_, s) => ({
      id: `section-${s}`,
      name: `Section ${s}`,
      rows: Array.from({ length: 20 }, (_, r) => ({
        label: `R${r + 1}`,
        seats: Array.from({ length: s === 39 && r === 19 ? seatsInLastRow : 25 }, (_, k) => ({ id: `s${s}-r${r}-k${k}-`.padEnd(40, 'x'), label: String(k + 1) })),
      })),
    }));

  it('takes 20,000 seats over a real socket, past the app-wide 64 KiB body limit, and not one more', async () => {
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const send = (sections: unknown) =>
      fetch(`http://127.0.0.1:${port}${URL}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(organizer.accessToken) },
        body: JSON.stringify({ name: 'Stadium', sections }),
      });
    const body = JSON.stringify({ name: 'Stadium', sections: bigPlan() });
    expect(body.length).toBeGreaterThan(1_000_000);

    const started = performance.now();
    const res = await send(bigPlan());
    const ms = performance.now() - started;
    expect(res.status).toBe(201);
    const venue = ((await res.json()) as { data: Venue }).data;
    expect(venue.capacity).toBe(20_000);
    expect(venue.sections[39]!.rows[19]!.seats[24]!.id).toBe('s39-r19-k24-'.padEnd(40, 'x'));
    console.log(`POST of a 20,000-seat venue (${(body.length / 1e6).toFixed(2)} MB): ${ms.toFixed(0)} ms`);

    const read = await fetch(`http://127.0.0.1:${port}${URL}/${venue.id}`);
    expect(((await read.json()) as { data: Venue }).data.capacity).toBe(20_000);

    // A big plan in use grows to the limit by PATCH, and may not shrink.
    const almost = venueOf(await post(organizer.accessToken, { name: 'Arena', sections: bigPlan(20) }));
    expect(almost.capacity).toBe(19_995);
    await useVenue(almost.id);
    const patchStarted = performance.now();
    const grown = await patch(organizer.accessToken, almost.id, { sections: bigPlan() });
    const patchMs = performance.now() - patchStarted;
    expect(grown.statusCode, grown.body.slice(0, 300)).toBe(200);
    expect(venueOf(grown).capacity).toBe(20_000);
    console.log(`PATCH of a 20,000-seat plan in use: ${patchMs.toFixed(0)} ms`);
    const shrunk = expectProblem(await patch(organizer.accessToken, almost.id, { sections: bigPlan(24) }), 409, 'SEATS_IN_USE');
    expect(shrunk.seats).toEqual(['s39-r19-k24-'.padEnd(40, 'x')]);

    const over = await send(bigPlan(26));
    expect(over.status).toBe(400);
    expect(((await over.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(['sections']);
  }, 60_000);

  it('still refuses a body past 2 MiB with 413', async () => {
    const res = await post(organizer.accessToken, { name: 'V', address: 'a'.repeat(2 * 1024 * 1024), sections: [block('S', 1, 1)] });
    expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
  });
});
