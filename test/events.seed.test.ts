import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_EVENTS, seed } from '../scripts/seed.js';
import { buildTestApp, type TestApp } from './helper.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(() => t.close());

describe('npm run seed', () => {
  it('loads an organizer with a working password and published events, and re-running adds nothing', async () => {
    const options = { email: 'Organizer@Example.com', password: 'organizer-demo-password', bcryptCost: 4, now: t.clock.now() };
    const first = await seed(t.app.db, options);
    expect(first).toMatchObject({ organizer: { email: 'organizer@example.com', created: true }, eventsCreated: DEMO_EVENTS.length });
    const before = await t.app.models.Event.find().sort({ name: 1 }).lean();

    // Someone changed the password in between: the seed makes the printed one work again.
    await t.app.models.User.updateOne({ email: 'organizer@example.com' }, { $set: { passwordHash: 'x' } });
    const second = await seed(t.app.db, { ...options, now: new Date(t.clock.now().getTime() + 86_400_000) });
    expect(second).toMatchObject({ organizer: { created: false }, eventsCreated: 0, eventsExisting: DEMO_EVENTS.length });
    expect(await t.app.models.User.countDocuments({ email: 'organizer@example.com' })).toBe(1);
    expect(await t.app.models.Event.find().sort({ name: 1 }).lean()).toEqual(before);

    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'organizer@example.com', password: 'organizer-demo-password' },
    });
    expect(login.statusCode, login.body).toBe(200);
    expect(login.json().data.user.role).toBe('organizer');

    const listed = await t.app.inject({ method: 'GET', url: '/api/v1/events?limit=100' });
    expect(listed.json().meta.total).toBe(DEMO_EVENTS.length);
    expect(listed.json().data.every((e: { status: string; organizerId: string }) => e.status === 'published' && e.organizerId === first.organizer.id)).toBe(true);
  });
});
