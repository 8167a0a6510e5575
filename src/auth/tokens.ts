import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { JWT } from '@fastify/jwt';
import { unauthenticated } from '../lib/errors.js';
import { ROLES, type Role } from './user.model.js';

export interface AccessClaims {
  sub: string;
  role: Role;
  sid: string;
  typ: 'access';
  iat: number;
  exp: number;
}

export interface TokenSubject {
  userId: string;
  role: Role;
  sessionId: string;
}

const HEX_ID = /^[a-f0-9]{24}$/;

/**
 * Signs an access token. `iat` comes from the app clock, and the signer (registered with
 * expiresIn = ACCESS_TOKEN_TTL_SECONDS) derives `exp` from it, so tests that move the clock
 * move token expiry too.
 */
export function signAccessToken(jwt: JWT, subject: TokenSubject, now: Date): string {
  return jwt.sign({
    sub: subject.userId,
    role: subject.role,
    sid: subject.sessionId,
    typ: 'access',
    iat: Math.floor(now.getTime() / 1000),
  });
}

function isAccessClaims(value: unknown): value is AccessClaims {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    c.typ === 'access' &&
    typeof c.sub === 'string' &&
    HEX_ID.test(c.sub) &&
    typeof c.sid === 'string' &&
    HEX_ID.test(c.sid) &&
    typeof c.role === 'string' &&
    (ROLES as readonly string[]).includes(c.role) &&
    typeof c.exp === 'number'
  );
}

/**
 * Checks signature (HS256 only, pinned by the plugin's verify options), expiry against the app
 * clock, and the claim shape. Anything wrong is one answer: 401 UNAUTHENTICATED.
 */
export function verifyAccessToken(jwt: JWT, token: string, now: Date): AccessClaims {
  let payload: unknown;
  try {
    payload = jwt.verify(token, { clockTimestamp: now.getTime() });
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw unauthenticated(code === 'FAST_JWT_EXPIRED' ? 'The access token has expired' : 'The access token is not valid');
  }
  // A refresh JWT or any other token signed with our key is still not an access token.
  if (!isAccessClaims(payload)) throw unauthenticated('The access token is not valid');
  return payload;
}

// Refresh tokens are opaque: "<sessionId>.<random>.<mac>". The session id lets a spent token be
// traced to its session (reuse detection); the MAC proves we issued it, so someone who only knows
// a session id (it is readable in access tokens) cannot forge a "spent" token to kill a session.

export function refreshMacKey(jwtSecret: string): Buffer {
  return createHash('sha256').update(`refresh-token-mac:${jwtSecret}`).digest();
}

const mac = (key: Buffer, body: string) => createHmac('sha256', key).update(body).digest().subarray(0, 16);

export function issueRefreshToken(key: Buffer, sessionId: string): string {
  const body = `${sessionId}.${randomBytes(32).toString('base64url')}`;
  return `${body}.${mac(key, body).toString('base64url')}`;
}

const REFRESH_SHAPE = /^([a-f0-9]{24})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})$/;

/** The session a refresh token names, or null if it is not one we issued. */
export function parseRefreshToken(key: Buffer, token: string): { sessionId: string } | null {
  const match = REFRESH_SHAPE.exec(token);
  if (!match) return null;
  const [, sessionId, random, tag] = match as unknown as [string, string, string, string];
  const expected = mac(key, `${sessionId}.${random}`);
  const given = Buffer.from(tag, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  return { sessionId };
}

/** Only this digest is stored; a database leak does not hand out usable refresh tokens. */
export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('hex');
