import { Types } from 'mongoose';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import type { KeyValueStore } from '../lib/kv.js';
import type { Models } from '../models.js';
import { hashRefreshToken, issueRefreshToken } from './tokens.js';

export interface SessionDeps {
  models: Pick<Models, 'Session'>;
  config: Config;
  clock: Clock;
  kv: KeyValueStore;
  log: { warn(obj: object, msg: string): void };
}

/** A positive "live" answer may be served from the cache this long; revocation overrides it. */
export const LIVE_CACHE_MS = 5000;
const LIVE = 'live';
const REVOKED = 'revoked';

export const sessionKey = (sessionId: string) => `auth:session:${sessionId}`;

/** Opens a session and returns its id and first refresh token (only its hash is stored). */
export async function openSession(deps: SessionDeps, userId: Types.ObjectId, macKey: Buffer) {
  const sessionId = new Types.ObjectId();
  const refreshToken = issueRefreshToken(macKey, sessionId.toHexString());
  await deps.models.Session.create({
    _id: sessionId,
    userId,
    refreshTokenHash: hashRefreshToken(refreshToken),
    expiresAt: new Date(deps.clock.now().getTime() + deps.config.REFRESH_TOKEN_TTL_SECONDS * 1000),
  });
  return { sessionId: sessionId.toHexString(), refreshToken };
}

/**
 * Marks sessions revoked in the database (the truth) and in the cache (so every instance sees it
 * on the next request). The marker is written with `set`, which overwrites a cached "live", and
 * outlives any access token of the session, so a stale "live" can never come back.
 */
export async function revokeSessions(deps: SessionDeps, sessionIds: string[]): Promise<void> {
  if (sessionIds.length === 0) return;
  await deps.models.Session.updateMany(
    { _id: { $in: sessionIds }, revokedAt: null },
    { $set: { revokedAt: deps.clock.now() } },
  );
  const ttlMs = deps.config.ACCESS_TOKEN_TTL_SECONDS * 1000 + LIVE_CACHE_MS;
  try {
    await Promise.all(sessionIds.map((id) => deps.kv.set(sessionKey(id), REVOKED, ttlMs)));
  } catch (err) {
    // The database already refuses the session; a reachable cache holds no "live" for longer
    // than LIVE_CACHE_MS, and an unreachable one is not consulted.
    deps.log.warn({ err: (err as Error).message }, 'could not write session revocation to the cache');
  }
}

async function liveInDatabase(deps: SessionDeps, sessionId: string, userId: string): Promise<boolean> {
  const session = await deps.models.Session.findById(sessionId, { userId: 1, revokedAt: 1, expiresAt: 1 }).lean();
  return (
    session !== null &&
    session.revokedAt === null &&
    session.expiresAt.getTime() > deps.clock.now().getTime() &&
    String(session.userId) === userId
  );
}

/** True while the session is neither revoked nor expired. Runs on every authenticated request. */
export async function isSessionLive(deps: SessionDeps, sessionId: string, userId: string): Promise<boolean> {
  const key = sessionKey(sessionId);
  let cacheUsable = true;
  try {
    const cached = await deps.kv.get(key);
    if (cached === LIVE) return true;
    if (cached === REVOKED) return false;
  } catch {
    cacheUsable = false; // Redis down: the database answers alone.
  }
  const live = await liveInDatabase(deps, sessionId, userId);
  if (live && cacheUsable) {
    // setIfAbsent, never set: if a revocation landed after our read, its marker must win.
    await deps.kv.setIfAbsent(key, LIVE, LIVE_CACHE_MS).catch(() => undefined);
  }
  return live;
}
