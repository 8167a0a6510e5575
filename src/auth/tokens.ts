import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { JWT } from '@fastify/jwt';
import { unauthenticated } from '../lib/errors.js';
import { isRole, type Role } from './user.model.js';

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
    isRole(c.role) &&
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

/**
 * verifyAccessToken with its outcome remembered per token string, for at most `capacity` tokens.
 *
 * A client sends the same access token for its whole lifetime, and checking it costs an HMAC, a
 * base64 decode and a JSON parse (plus a fresh fast-jwt verifier, since the clock is passed per
 * call): about 15% of the server's CPU on replayed purchases in load profiles (BENCHMARKS.md).
 * Only what cannot change for a given string is remembered: that its signature is ours and its
 * claims have the right shape. Expiry is judged against the clock on every call, exactly as the
 * verifier does (valid while now <= exp, and not before nbf), and whether its session is still live
 * is not this function's business: the guard asks the session store on every request. Refused
 * tokens are never remembered.
 */
export function cachedAccessTokenVerifier(jwt: JWT, capacity = 10_000): (token: string, now: Date) => AccessClaims {
  const verified = new Map<string, Readonly<AccessClaims & { nbf?: unknown }>>();
  return (token, now) => {
    const claims = verified.get(token);
    if (claims === undefined) {
      const fresh = Object.freeze(verifyAccessToken(jwt, token, now));
      // Oldest first out: a token that falls out is simply verified again.
      if (verified.size >= capacity) verified.delete(verified.keys().next().value as string);
      verified.set(token, fresh);
      return fresh;
    }
    const ms = now.getTime();
    if (ms > claims.exp * 1000) {
      verified.delete(token);
      throw unauthenticated('The access token has expired');
    }
    if (typeof claims.nbf === 'number' && ms < claims.nbf * 1000) throw unauthenticated('The access token is not valid');
    return claims;
  };
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
