import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importJWK, type JWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { developmentKeyText, generateTicketKey, loadTicketKeys } from '../src/tickets/keys.js';
import { bearer, createAccount } from './fixtures/accounts.js';
import { doorSetup, freeTickets, scan } from './fixtures/tickets.js';
import { buildTestApp, testConfig, type TestApp } from './helper.js';

/** Where the signing key comes from, and key rotation that keeps issued tickets valid. */

const PRODUCTION = {
  NODE_ENV: 'production',
  MONGODB_URI: 'mongodb://db:27017/tickets?replicaSet=rs0',
  REDIS_URL: 'redis://cache:6379',
  JWT_SECRET: 'x'.repeat(40),
};

describe('configuration', () => {
  it('production refuses to start without a ticket signing key, and names it', () => {
    expect(() => loadConfig(PRODUCTION)).toThrow(ConfigError);
    expect(() => loadConfig(PRODUCTION)).toThrow(/TICKET_SIGNING_KEY: is required in production/);
  });

  it('reads the key from TICKET_SIGNING_KEY_FILE, and names the file when it cannot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ticket-key-'));
    const file = join(dir, 'key.json');
    const key = await developmentKeyText(file);
    expect(loadConfig({ ...PRODUCTION, TICKET_SIGNING_KEY_FILE: file }).TICKET_SIGNING_KEY).toBe(key.trim());
    expect(() => loadConfig({ ...PRODUCTION, TICKET_SIGNING_KEY_FILE: join(dir, 'missing') })).toThrow(/TICKET_SIGNING_KEY_FILE/);
  });

  it('refuses keys that are not Ed25519 private JWKs', async () => {
    const good = await generateTicketKey();
    const { d: _d, ...publicOnly } = good;
    const other = await generateTicketKey();
    const bad = [
      'not json',
      JSON.stringify({ kty: 'oct', k: 'abc' }),
      JSON.stringify(publicOnly),
      JSON.stringify({ keys: [publicOnly, good] }),
      JSON.stringify({ ...good, x: other.x }), // a private key with someone else's public half
      JSON.stringify({ keys: [good, { ...other, kid: good.kid }] }),
    ];
    for (const text of bad) {
      await expect(loadTicketKeys({ NODE_ENV: 'test', TICKET_SIGNING_KEY: text, TICKET_DEV_KEY_FILE: '' }), text).rejects.toThrow(ConfigError);
    }
  });

  it('development generates a key once, keeps it on disk (owner-only), and restarts reuse it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ticket-dev-')), 'nested', 'dev-key.json');
    const env = { NODE_ENV: 'development' as const, TICKET_DEV_KEY_FILE: file };
    const first = await loadTicketKeys(env);
    const second = await loadTicketKeys(env);
    expect(second.signing.kid).toBe(first.signing.kid);
    expect(second.publicKeys).toEqual(first.publicKeys);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: first.signing.kid });
    // Two processes starting at once end with one key between them.
    const racing = join(mkdtempSync(join(tmpdir(), 'ticket-dev-')), 'key.json');
    const texts = await Promise.all(Array.from({ length: 5 }, () => developmentKeyText(racing)));
    expect(new Set(texts).size).toBe(1);
  });
});

describe('key rotation keeps old tickets valid', () => {
  let oldKey: JWK;
  let newKey: JWK;
  let first: TestApp;

  beforeAll(async () => {
    oldKey = await generateTicketKey();
    newKey = await generateTicketKey();
    first = await buildTestApp({ env: { TICKET_SIGNING_KEY: JSON.stringify(oldKey) } });
  });
  afterAll(() => first?.close());

  /** Another app on the same database with another key configuration: a restart after rotation. */
  async function restartWith(keyText: string) {
    const config = testConfig({
      MONGODB_URI: first.config.MONGODB_URI,
      JWT_SECRET: first.config.JWT_SECRET,
      REDIS_KEY_PREFIX: first.config.REDIS_KEY_PREFIX,
      TICKET_SIGNING_KEY: keyText,
    });
    const app = await buildApp(config, { clock: first.clock });
    await app.ready();
    return app;
  }

  it('a ticket signed with the old key checks in after the new key is put first; new tickets use the new key', async () => {
    const { organizer, eventId } = await doorSetup(first.app);
    const buyer = await createAccount(first.app);
    const [oldTicket, otherOld] = (await freeTickets(first.app, buyer, eventId, 2)).tickets;

    const rotated = await restartWith(JSON.stringify({ keys: [newKey, oldKey] }));
    try {
      const key = await rotated.inject({ method: 'GET', url: `/api/v1/events/${eventId}/check-in-key`, headers: bearer(organizer.accessToken) });
      const { publicKey, keys } = key.json<{ data: { publicKey: JWK; keys: JWK[] } }>().data;
      expect(publicKey.kid).toBe(newKey.kid);
      expect(keys.map((k) => k.kid)).toEqual([newKey.kid, oldKey.kid]);
      expect(keys.every((k) => !('d' in k))).toBe(true);

      // An offline scanner with the published keys verifies the old ticket by its kid...
      const oldPublic = keys.find((k) => k.kid === oldKey.kid) as JWK;
      await expect(jwtVerify(oldTicket.code, await importJWK(oldPublic, 'EdDSA'))).resolves.toBeDefined();
      // ...and so does the server.
      expect((await scan(rotated, organizer.accessToken, eventId, { code: oldTicket.code })).statusCode).toBe(200);

      const [fresh] = (await freeTickets(rotated, buyer, eventId, 1)).tickets;
      expect(JSON.parse(Buffer.from(fresh.code.split('.')[0], 'base64url').toString())).toMatchObject({ alg: 'EdDSA', kid: newKey.kid });
      await expect(jwtVerify(fresh.code, await importJWK(publicKey, 'EdDSA'))).resolves.toBeDefined();
      expect((await scan(rotated, organizer.accessToken, eventId, { code: fresh.code })).statusCode).toBe(200);
    } finally {
      await rotated.close();
    }

    // Dropping the old key from the set is what ends its tickets: the check is real.
    const dropped = await restartWith(JSON.stringify(newKey));
    try {
      const res = await scan(dropped, organizer.accessToken, eventId, { code: otherOld.code });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toMatchObject({ code: 'INVALID_TICKET_CODE' });
    } finally {
      await dropped.close();
    }
  });
});
