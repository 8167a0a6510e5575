import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator/src/index.js';
import { buildTestApp, type TestApp } from './helper.js';

/**
 * The database is lost and comes back empty (here: the emulator stopped and a fresh one started on
 * the same port). The app's indexes, the unique (user, key) one of idempotency above all, must be
 * there again without restarting the app.
 */

type Running = Awaited<ReturnType<typeof startEmulator>>;
let emulator: Running | undefined;
let t: TestApp | undefined;

afterAll(async () => {
  await t?.app.close();
  await emulator?.stop();
});

async function indexNames(app: TestApp['app']): Promise<string[]> {
  try {
    const indexes = await app.models.Booking.collection.listIndexes().toArray();
    return indexes.map((i) => JSON.stringify(i.key) + (i.unique ? ' unique' : ''));
  } catch {
    return []; // the collection does not exist yet
  }
}

describe('indexes after the database is lost and restarted', () => {
  it('are created again once the driver reconnects', async () => {
    emulator = await startEmulator({ port: 0 });
    const port = Number(new URL(emulator.uri).port);
    const uri = new URL(emulator.uri);
    uri.pathname = '/recovery';
    t = await buildTestApp({ env: { MONGODB_URI: uri.toString(), LOG_LEVEL: 'silent' } });
    const before = await indexNames(t.app);
    const idempotencyIndex = before.find((i) => i.includes('"userId"') && i.includes('"idempotencyKey"') && i.endsWith(' unique'));
    expect(idempotencyIndex, before.join('\n')).toBeDefined();

    await emulator.stop();
    emulator = await startEmulator({ port });
    await expect
      .poll(() => indexNames(t!.app), { timeout: 40_000, interval: 250 })
      .toEqual(expect.arrayContaining(before));
  }, 60_000);
});
