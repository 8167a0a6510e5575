import { Types } from 'mongoose';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import type { KeyValueStore } from '../lib/kv.js';
import type { Models } from '../models.js';
import { readSession } from './session-reads.js';
import { hashRefreshToken, issueRefreshToken } from './tokens.js';
import { isRole, type Role } from './user.model.js';

export interface SessionDeps {
  models: Pick<Models, 'Session' | 'User'>;
  config: Config;
  clock: Clock;
  kv: KeyValueStore;
  log: { warn(obj: object, msg: string): void };
}

/**
 * A positive answer ("live" with the user's role) may be served from the cache this long;
 * revocation and role changes override it.
 */
export const LIVE_CACHE_MS = 5000;
const LIVE = 'live:';
const REVOKED = 'revoked';
/** Written over a cached answer when the user's role changes: read the database, cache nothing. */
const RECHECK = 'recheck';

export const sessionKey = (sessionId: string) => `auth:session:${sessionId}`;

/** Opens a session and returns its id and first refresh token (only its hash is stored). */
export async function openSession(deps: SessionDeps, user: { _id: Types.ObjectId; role: Role }, macKey: Buffer) {
  const sessionId = new Types.ObjectId();
  const refreshToken = issueRefreshToken(macKey, sessionId.toHexString());
  await deps.models.Session.create({
    _id: sessionId,
    userId: user._id,
    role: user.role,
    refreshTokenHash: hashRefreshToken(refreshToken),
    expiresAt: new Date(deps.clock.now().getTime() + deps.config.REFRESH_TOKEN_TTL_SECONDS * 1000),
  });
  // A role change that landed between reading the user and creating this session did not see the
  // session (it updates the sessions that exist): read the role again, so the session never keeps
  // a role the user no longer has.
  await syncSessionRole(deps, sessionId.toHexString(), user._id, user.role);
  return { sessionId: sessionId.toHexString(), refreshToken };
}

/** Sets the session's role to the user's current one if `known` is out of date; says whether it did. */
export async function syncSessionRole(deps: SessionDeps, sessionId: string, userId: Types.ObjectId, known: string | null | undefined): Promise<boolean> {
  const current = await deps.models.User.findById(userId, { role: 1 }).lean();
  if (!current || current.role === known) return false;
  await deps.models.Session.updateOne({ _id: sessionId }, { $set: { role: current.role } });
  await recheckSessions(deps, [sessionId]);
  return true;
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

/** The user's current role while the session is live in the database (the truth), else null. */
async function roleInDatabase(deps: SessionDeps, sessionId: string, userId: string): Promise<Role | null> {
  // Shared with the other checks that miss in the same turn (session-reads.ts).
  const session = await readSession(deps.models.Session, sessionId);
  const live =
    session !== null &&
    session.revokedAt === null &&
    session.expiresAt.getTime() > deps.clock.now().getTime() &&
    String(session.userId) === userId;
  if (!live) return null;
  if (isRole(session.role)) return session.role;
  // A session opened before sessions kept the role: the user has it.
  const user = await deps.models.User.findById(userId, { role: 1 }).lean();
  return user && isRole(user.role) ? user.role : null;
}

/**
 * The caller's role while the session is neither revoked nor expired, else null. Runs on every
 * authenticated request, so a role change or a revocation takes effect on the next request of
 * every token of the session, whatever role the token itself names.
 */
export async function liveSessionRole(deps: SessionDeps, sessionId: string, userId: string): Promise<Role | null> {
  const key = sessionKey(sessionId);
  let cacheUsable = true;
  try {
    const cached = await deps.kv.get(key);
    if (cached === REVOKED) return null;
    if (cached?.startsWith(LIVE)) {
      const role = cached.slice(LIVE.length);
      if (isRole(role)) return role;
    }
  } catch {
    cacheUsable = false; // Redis down: the database answers alone.
  }
  const role = await roleInDatabase(deps, sessionId, userId);
  if (role && cacheUsable) {
    // setIfAbsent, never set: if a revocation or a role change landed after our read, its marker wins.
    await deps.kv.setIfAbsent(key, LIVE + role, LIVE_CACHE_MS).catch(() => undefined);
  }
  return role;
}

/**
 * After a role change: every cached answer for these sessions is replaced by a marker that sends
 * readers to the database for a while. The marker outlives any read that started before the
 * change, so such a read cannot cache the old role after it (its setIfAbsent finds the marker).
 */
export async function recheckSessions(deps: SessionDeps, sessionIds: string[]): Promise<void> {
  try {
    await Promise.all(sessionIds.map((id) => deps.kv.set(sessionKey(id), RECHECK, 2 * LIVE_CACHE_MS)));
  } catch (err) {
    // Cached roles then run out within LIVE_CACHE_MS.
    deps.log.warn({ err: (err as Error).message }, 'could not write a role change to the session cache');
  }
}
