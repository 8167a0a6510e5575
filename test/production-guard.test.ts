import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mongoose from 'mongoose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { detectEmulator, type EmulatorIdentity } from '../src/plugins/database.js';
import { generateTicketKey } from '../src/tickets/keys.js';
import { buildTestApp, freshDatabaseUri } from './helper.js';
import { captureLogs } from './support/logs.js';

/**
 * DESIGN.md 5: production refuses to start on the MongoDB emulator. The test MongoDB is the
 * emulator in this sandbox and may be a real mongod elsewhere (MONGODB_URI); on a real one the
 * same production start must succeed, so the test asks the detection function which one it has.
 */

// Production needs a ticket signing key (config.ts); a throwaway one, the same for every start here.
const TICKET_SIGNING_KEY = JSON.stringify(await generateTicketKey());
const PRODUCTION = { NODE_ENV: 'production', LOG_LEVEL: 'silent', TICKET_SIGNING_KEY } as const;

let identity: EmulatorIdentity | null;
let probe: mongoose.Connection;

beforeAll(async () => {
  probe = await mongoose.createConnection(inject('mongoUri'), { serverSelectionTimeoutMS: 5000 }).asPromise();
  identity = await detectEmulator(probe);
});
afterAll(() => probe.close());

async function collectionsIn(uri: string): Promise<string[]> {
  const name = new URL(uri).pathname.slice(1);
  const list = await probe.useDb(name, { useCache: false }).db!.listCollections().toArray();
  return list.map((c) => c.name);
}

describe('production start on the test MongoDB', () => {
  it('the detection answers according to what the test MongoDB is', async () => {
    // With EMBEDDED_MONGO=emulator and no MONGODB_URI, globalSetup starts the emulator for certain.
    const certainlyEmulator = !process.env.MONGODB_URI && process.env.EMBEDDED_MONGO === 'emulator';
    if (certainlyEmulator) expect(identity).toEqual({ name: 'ticketing-mongodb-emulator', version: '1.0.0' });
    // A real mongod answers buildInfo without the marker: null, not an error.
    if (identity === null) expect((await probe.db!.admin().command({ buildInfo: 1 })).emulator).toBeUndefined();
  });

  it('is refused on the emulator before anything is written (and succeeds on a real mongod)', async () => {
    // Index creation and the start-up admin would both write; the refusal must come before them.
    const uri = freshDatabaseUri();
    const env = { ...PRODUCTION, MONGODB_URI: uri, MONGODB_AUTO_INDEX: 'true', ADMIN_EMAIL: 'root@example.test', ADMIN_PASSWORD: 'admin-password-1' };
    if (identity) {
      const error = await buildTestApp({ env }).then(
        async (t) => {
          await t.close();
          return null;
        },
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as ConfigError).message;
      expect(message).toMatch(/MONGODB_URI: points at the MongoDB emulator \(ticketing-mongodb-emulator 1\.0\.0\)/);
      expect(message).toMatch(/refuses to start/);
      expect(message).toMatch(/ALLOW_MONGODB_EMULATOR=true exists for CI smoke runs/);
      expect(await collectionsIn(uri)).toEqual([]);
    } else {
      const t = await buildTestApp({ env });
      try {
        expect((await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
      } finally {
        await t.close();
      }
    }
  });

  it('starts with ALLOW_MONGODB_EMULATOR=true, saying so in the log', async () => {
    const logs = captureLogs();
    const t = await buildTestApp({ env: { ...PRODUCTION, LOG_LEVEL: 'warn', ALLOW_MONGODB_EMULATOR: 'true' }, logStream: logs.stream });
    try {
      const ready = await t.app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toMatchObject({ status: 'ready', checks: { mongodb: 'up' } });
      const warned = logs.entries().some((e) => typeof e.msg === 'string' && e.msg.includes('ALLOW_MONGODB_EMULATOR=true'));
      expect(warned).toBe(identity !== null);
    } finally {
      await t.close();
    }
  });

  it('outside production the emulator is fine without the opt-out', async () => {
    // Development keeps a generated ticket key on disk: a temporary file, never the repository's.
    const TICKET_DEV_KEY_FILE = join(mkdtempSync(join(tmpdir(), 'dev-key-')), 'key.json');
    const t = await buildTestApp({ env: { NODE_ENV: 'development', LOG_LEVEL: 'silent', TICKET_DEV_KEY_FILE } });
    try {
      expect((await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});
