import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  calculateJwkThumbprint,
  CompactSign,
  compactVerify,
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';
import { z } from 'zod';
import { type Config, ConfigError } from '../config.js';

/**
 * The keys that sign and verify ticket codes (API.md Tickets and check-in).
 *
 * One Ed25519 key signs; every key of the configured set verifies, so rotating (put the new key
 * first, keep the old one after it) never voids a ticket issued before. Each code names its key in
 * the `kid` header. The public halves are what GET /events/:id/check-in-key hands to scanners.
 */

export const TICKET_CODE_ALG = 'EdDSA';

export interface PublicTicketKey {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: typeof TICKET_CODE_ALG;
  use: 'sig';
}

export interface TicketKeys {
  /** The key new codes are signed with. */
  signing: { kid: string; key: CryptoKey };
  /** The verifying key with this id, if it is one of ours. */
  verifier(kid: string | undefined): CryptoKey | undefined;
  /** Every verifying key's public JWK, the signing key first. */
  publicKeys: PublicTicketKey[];
}

const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');
// Ed25519 public and private parts are 32 bytes: 43 base64url characters without padding.
const part = base64url.length(43, 'must be a 32-byte Ed25519 value (43 base64url characters)');

const ed25519Jwk = z.object({
  kty: z.literal('OKP'),
  crv: z.literal('Ed25519'),
  x: part,
  d: part.optional(),
  kid: z.string().min(1).max(64).optional(),
  alg: z.literal(TICKET_CODE_ALG).optional(),
  use: z.literal('sig').optional(),
});
type Ed25519Jwk = z.infer<typeof ed25519Jwk>;

const keySetText = z.union([ed25519Jwk, z.object({ keys: z.array(ed25519Jwk).min(1).max(20) })]);

function refuse(problem: string): never {
  throw new ConfigError([`TICKET_SIGNING_KEY: ${problem}`]);
}

/** Parses TICKET_SIGNING_KEY: one private JWK, or a JWK Set whose first key is private. */
export function parseKeySet(text: string): Ed25519Jwk[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    refuse('is not JSON (expected an Ed25519 private JWK, or a JWK Set {"keys": [...]})');
  }
  const parsed = keySetText.safeParse(json);
  if (!parsed.success) {
    refuse(`is not an Ed25519 JWK or JWK Set: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'key'} ${i.message}`).join('; ')}`);
  }
  const keys = 'keys' in parsed.data ? parsed.data.keys : [parsed.data];
  if (!keys[0].d) refuse('the first key signs new codes, so it must be a private key (with "d")');
  return keys;
}

// A short key id keeps codes (and so QR images) small; 16 characters of the RFC 7638 thumbprint
// (96 bits) cannot collide between the handful of keys a deployment ever rotates through.
const KID_LENGTH = 16;

async function kidOf(jwk: Ed25519Jwk): Promise<string> {
  return jwk.kid ?? (await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x })).slice(0, KID_LENGTH);
}

/** Imports a parsed key set; checks that the private key and its stated public half belong together. */
export async function importKeySet(jwks: Ed25519Jwk[]): Promise<TicketKeys> {
  const verifiers = new Map<string, CryptoKey>();
  const publicKeys: PublicTicketKey[] = [];
  for (const jwk of jwks) {
    const kid = await kidOf(jwk);
    if (verifiers.has(kid)) refuse(`two keys have the key id "${kid}"`);
    const publicJwk: PublicTicketKey = { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: TICKET_CODE_ALG, use: 'sig' };
    verifiers.set(kid, (await importJWK(publicJwk, TICKET_CODE_ALG)) as CryptoKey);
    publicKeys.push(publicJwk);
  }
  const first = jwks[0];
  const signingKid = publicKeys[0].kid;
  // A private key whose "x" is not its own public key would sign codes no scanner can verify.
  // WebCrypto refuses such a pair on import; a signed probe checks it again whatever the runtime.
  let signingKey: CryptoKey;
  try {
    signingKey = (await importJWK({ kty: first.kty, crv: first.crv, x: first.x, d: first.d }, TICKET_CODE_ALG)) as CryptoKey;
  } catch {
    refuse('the first key\'s "x" is not the public key of its "d"');
  }
  const probe = await new CompactSign(new TextEncoder().encode('probe')).setProtectedHeader({ alg: TICKET_CODE_ALG }).sign(signingKey);
  try {
    await compactVerify(probe, verifiers.get(signingKid) as CryptoKey);
  } catch {
    refuse('the first key\'s "x" is not the public key of its "d"');
  }
  return {
    signing: { kid: signingKid, key: signingKey },
    verifier: (kid) => (kid === undefined ? undefined : verifiers.get(kid)),
    publicKeys,
  };
}

/** A fresh Ed25519 private JWK (what an operator puts in TICKET_SIGNING_KEY; also the dev key). */
export async function generateTicketKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(TICKET_CODE_ALG, { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: (await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x })).slice(0, KID_LENGTH) };
}

/**
 * The development key: read from `file`, or generated and written there once (owner-only, and
 * never overwriting: two processes starting together both end up with the first one's key).
 */
export async function developmentKeyText(file: string): Promise<string> {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const text = `${JSON.stringify(await generateTicketKey())}\n`;
  mkdirSync(dirname(file), { recursive: true });
  try {
    writeFileSync(file, text, { flag: 'wx', mode: 0o600 });
    return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readFileSync(file, 'utf8');
  }
}

/** The app's ticket keys from configuration (config.ts refuses production without one). */
export async function loadTicketKeys(config: Pick<Config, 'NODE_ENV' | 'TICKET_SIGNING_KEY' | 'TICKET_DEV_KEY_FILE'>): Promise<TicketKeys> {
  if (config.TICKET_SIGNING_KEY) return importKeySet(parseKeySet(config.TICKET_SIGNING_KEY));
  if (config.NODE_ENV === 'production') refuse('is required in production');
  // Tests get a key per app: nothing on disk, and no test sees another's tickets as valid.
  if (config.NODE_ENV === 'test') return importKeySet(parseKeySet(JSON.stringify(await generateTicketKey())));
  return importKeySet(parseKeySet(await developmentKeyText(config.TICKET_DEV_KEY_FILE)));
}
