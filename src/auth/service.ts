import type { JWT } from '@fastify/jwt';
import { mongo } from 'mongoose';
import { AppError, notFound, unauthenticated } from '../lib/errors.js';
import { compareWithDummy, hashPassword, verifyPassword } from './passwords.js';
import { normalizeEmail, type SessionTokens, toUserDto, type UserDto } from './schemas.js';
import { openSession, recheckSessions, revokeSessions, type SessionDeps, syncSessionRole } from './sessions.js';
import { hashRefreshToken, issueRefreshToken, parseRefreshToken, refreshMacKey, signAccessToken } from './tokens.js';
import type { Role, UserDocument, UserFields } from './user.model.js';
import type { Models } from '../models.js';

/** What the account rules need; a FastifyInstance provides all of it. */
export interface AuthDeps extends SessionDeps {
  models: Pick<Models, 'User' | 'Session' | 'LoginAttempt'>;
  jwt: JWT;
}

const isDuplicateKey = (err: unknown) => err instanceof mongo.MongoServerError && err.code === 11000;

const macKeys = new Map<string, Buffer>();
function macKeyOf(deps: AuthDeps): Buffer {
  let key = macKeys.get(deps.config.JWT_SECRET);
  if (!key) {
    key = refreshMacKey(deps.config.JWT_SECRET);
    macKeys.set(deps.config.JWT_SECRET, key);
  }
  return key;
}

function tokensFor(deps: AuthDeps, user: UserFields, sessionId: string, refreshToken: string): SessionTokens {
  const accessToken = signAccessToken(
    deps.jwt,
    { userId: user._id.toHexString(), role: user.role as Role, sessionId },
    deps.clock.now(),
  );
  return { user: toUserDto(user), accessToken, refreshToken, expiresIn: deps.config.ACCESS_TOKEN_TTL_SECONDS };
}

async function startSession(deps: AuthDeps, user: UserFields): Promise<SessionTokens> {
  const { sessionId, refreshToken } = await openSession(deps, { _id: user._id, role: user.role as Role }, macKeyOf(deps));
  return tokensFor(deps, user, sessionId, refreshToken);
}

export interface RegisterInput {
  email: string;
  password: string;
  name: string;
}

/** Creates a customer account (never any other role) and opens its first session. */
export async function register(deps: AuthDeps, input: RegisterInput): Promise<SessionTokens> {
  const passwordHash = await hashPassword(input.password, deps.config.BCRYPT_COST);
  let user: UserDocument;
  try {
    user = await deps.models.User.create({
      email: normalizeEmail(input.email),
      name: input.name,
      role: 'customer',
      passwordHash,
    });
  } catch (err) {
    // The unique index decides, so two concurrent registrations cannot both succeed.
    if (isDuplicateKey(err)) throw new AppError(409, 'EMAIL_TAKEN', 'An account with this email already exists');
    throw err;
  }
  return startSession(deps, user.toObject());
}

const invalidCredentials = () => new AppError(401, 'INVALID_CREDENTIALS', 'Email or password is wrong');

function accountLocked(lockedUntil: Date, now: Date): AppError {
  const seconds = Math.max(1, Math.ceil((lockedUntil.getTime() - now.getTime()) / 1000));
  return new AppError(429, 'ACCOUNT_LOCKED', `Too many failed logins; try again in ${seconds} seconds`, {
    headers: { 'retry-after': String(seconds) },
  });
}

/** How long a run of failed logins is remembered after its last try (unless a lock lasts longer). */
const FAILURE_MEMORY_MS = 24 * 3600 * 1000;

type Reservation = { failures: number } | { lockedUntil: Date };

/**
 * Reserves one login try for an email with an atomic $inc that only matches while it is not
 * locked, creating the record on the email's first try. A locked record makes the upsert collide
 * with itself on _id (E11000): that, or a record found locked, is the lock.
 */
async function reserveTry(deps: AuthDeps, email: string, now: Date): Promise<Reservation> {
  const { LoginAttempt } = deps.models;
  for (let round = 0; ; round++) {
    try {
      const record = await LoginAttempt.findOneAndUpdate(
        { _id: email, $or: [{ lockedUntil: null }, { lockedUntil: { $lte: now } }] },
        { $inc: { failures: 1 }, $set: { expiresAt: new Date(now.getTime() + FAILURE_MEMORY_MS) } },
        { upsert: true, new: true },
      ).lean();
      return { failures: record?.failures ?? 1 };
    } catch (err) {
      if (!isDuplicateKey(err) || round >= 2) throw err;
      const existing = await LoginAttempt.findById(email, { lockedUntil: 1 }).lean();
      if (existing?.lockedUntil && existing.lockedUntil > now) return { lockedUntil: existing.lockedUntil };
      // Two first tries raced to create the record; the other one made it, so count on it.
    }
  }
}

/**
 * Login with lockout, the same for every email (API.md: an email with no account locks the same
 * way). Each attempt first reserves one of the email's LOGIN_MAX_FAILURES tries, so even a burst
 * of parallel guesses gets at most that many password checks; a success gives the tries back, the
 * last failing try sets the lock. An unknown email is compared against a dummy hash of the
 * configured cost, so it costs what a wrong password costs; a locked one, known or not, costs no
 * comparison at all.
 */
export async function login(deps: AuthDeps, input: { email: string; password: string }): Promise<SessionTokens> {
  const { User, LoginAttempt } = deps.models;
  const { BCRYPT_COST, LOGIN_MAX_FAILURES, LOGIN_LOCK_SECONDS } = deps.config;
  const email = normalizeEmail(input.email);
  const now = deps.clock.now();
  const lockEnd = () => new Date(now.getTime() + LOGIN_LOCK_SECONDS * 1000);

  const reservation = await reserveTry(deps, email, now);
  if ('lockedUntil' in reservation) throw accountLocked(reservation.lockedUntil, now);
  // Parallel attempts beyond the budget are refused without checking the password.
  if (reservation.failures > LOGIN_MAX_FAILURES) throw accountLocked(lockEnd(), now);

  const user = await User.findOne({ email }).lean();
  const matches = user ? await verifyPassword(input.password, user.passwordHash) : await compareWithDummy(input.password, BCRYPT_COST);
  if (user && matches) {
    await LoginAttempt.deleteOne({ _id: email });
    return startSession(deps, user);
  }

  if (reservation.failures >= LOGIN_MAX_FAILURES) {
    const lockedUntil = lockEnd();
    await LoginAttempt.updateOne(
      { _id: email },
      { $set: { lockedUntil, failures: 0, expiresAt: new Date(Math.max(lockedUntil.getTime(), now.getTime() + FAILURE_MEMORY_MS)) } },
    );
  }
  throw invalidCredentials();
}

/**
 * Rotates a refresh token. The swap is one conditional update on the current hash, so of two
 * concurrent refreshes with the same token exactly one wins; a token we issued for this session
 * that is no longer current is a spent one, and presenting it revokes the whole session.
 */
export async function refresh(deps: AuthDeps, refreshToken: string): Promise<SessionTokens> {
  const invalid = () => unauthenticated('The refresh token is not valid');
  const parsed = parseRefreshToken(macKeyOf(deps), refreshToken);
  if (!parsed) throw invalid();
  const { Session, User } = deps.models;
  const now = deps.clock.now();
  const presentedHash = hashRefreshToken(refreshToken);
  const next = issueRefreshToken(macKeyOf(deps), parsed.sessionId);

  const session = await Session.findOneAndUpdate(
    { _id: parsed.sessionId, refreshTokenHash: presentedHash, revokedAt: null, expiresAt: { $gt: now } },
    {
      $set: {
        refreshTokenHash: hashRefreshToken(next),
        expiresAt: new Date(now.getTime() + deps.config.REFRESH_TOKEN_TTL_SECONDS * 1000),
      },
    },
    { new: true },
  ).lean();

  if (!session) {
    const current = await Session.findById(parsed.sessionId, { refreshTokenHash: 1, revokedAt: 1, expiresAt: 1 }).lean();
    if (!current || current.expiresAt <= now) throw unauthenticated('The session has expired; log in again');
    if (current.refreshTokenHash !== presentedHash) {
      await revokeSessions(deps, [parsed.sessionId]);
      throw new AppError(401, 'REFRESH_TOKEN_REUSED', 'This refresh token was already used; the session has been revoked');
    }
    throw unauthenticated('The session has ended; log in again');
  }

  const user = await User.findById(session.userId).lean();
  if (!user) {
    await revokeSessions(deps, [parsed.sessionId]);
    throw unauthenticated('The account no longer exists');
  }
  // The new access token carries the user's current role, and so does the session from now on
  // (a role set other than through changeRole, as by ensureAdmin, reaches the session here).
  if (session.role !== user.role) await syncSessionRole(deps, parsed.sessionId, user._id, session.role);
  return tokensFor(deps, user, parsed.sessionId, next);
}

export async function logout(deps: AuthDeps, sessionId: string): Promise<void> {
  await revokeSessions(deps, [sessionId]);
}

export async function getUser(deps: AuthDeps, userId: string): Promise<UserDto> {
  const user = await deps.models.User.findById(userId).lean();
  if (!user) throw notFound('User');
  return toUserDto(user);
}

/**
 * Sets a user's role. It applies to the user's next request with any token it holds (the guard
 * reads the role with the session check, see sessions.ts); sessions stay open, and tokens issued
 * from now on name the new role. The last admin cannot be demoted, so the service never locks
 * itself out of administration.
 */
export async function changeRole(deps: AuthDeps, userId: string, role: Role): Promise<UserDto> {
  const { User, Session } = deps.models;
  const user = await User.findById(userId).lean();
  if (!user) throw notFound('User');
  if (user.role === role) return toUserDto(user);
  const lastAdmin = () => new AppError(409, 'INVALID_STATE', 'The last admin cannot be demoted; promote another admin first');
  if (user.role === 'admin' && (await User.countDocuments({ role: 'admin' })) <= 1) throw lastAdmin();
  const updated = await User.findByIdAndUpdate(userId, { $set: { role } }, { new: true }).lean();
  if (!updated) throw notFound('User');
  // Two admins demoting each other at once both pass the count above (write skew). Counting again
  // after the write catches it: whoever then sees no admin left puts the role back, so at least one
  // admin always remains (at worst both demotions are refused).
  if (user.role === 'admin' && (await User.countDocuments({ role: 'admin' })) === 0) {
    await User.updateOne({ _id: user._id }, { $set: { role: 'admin' } });
    throw lastAdmin();
  }
  // The sessions keep the role the guard acts on (sessions.ts); a login racing this is covered by
  // openSession, which reads the role again after creating its session.
  await Session.updateMany({ userId: updated._id, revokedAt: null }, { $set: { role } });
  const sessions = await Session.find({ userId: updated._id, revokedAt: null }, { _id: 1 }).lean();
  await recheckSessions(deps, sessions.map((s) => s._id.toHexString()));
  return toUserDto(updated);
}
