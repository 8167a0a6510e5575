// $listLocalSessions: the logical sessions this server holds in memory, one document per session
// as mongod's session cache reports them: { _id: { id: UUID, uid: SHA-256 of the user }, lastUse }.
// There is no authentication, so every session belongs to the unauthenticated user (uid = SHA-256
// of ""), which is also who `{}` means; `users` filters by the digest of "user@db".
import { Binary } from 'bson';
import { createHash } from 'node:crypto';
import type { Ctx } from '../context.js';
import { Codes, MongoCommandError } from '../errors.js';
import { isPlainObject, type Doc } from '../values.js';

export const STAGE = '$listLocalSessions';

const digest = (s: string): string => createHash('sha256').update(s).digest('hex');
/** mongod's uid for "no user" (authentication disabled). */
const anonymousUid = digest('');

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? 'double' : typeof v);

const unknownField = (path: string): MongoCommandError => new MongoCommandError(40415, `BSON field '${path}' is an unknown field.`, { codeName: 'Location40415' });
const wrongType = (path: string, v: unknown, expected: string): MongoCommandError =>
  new MongoCommandError(Codes.TypeMismatch, `BSON field '${path}' is the wrong type '${typeName(v)}', expected type '${expected}'`);

/** The uids whose sessions the stage lists, or undefined for all (allUsers). Parsed like mongod's ListSessionsSpec. */
export function parseListSessionsSpec(spec: unknown): Set<string> | undefined {
  if (!isPlainObject(spec)) throw new MongoCommandError(Codes.TypeMismatch, `${STAGE} options must be specified in an object, but found: ${typeName(spec)}`);
  for (const k of Object.keys(spec)) if (k !== 'allUsers' && k !== 'users') throw unknownField(`${STAGE}.${k}`);
  const allUsers = spec.allUsers ?? false;
  if (typeof allUsers !== 'boolean') throw wrongType(`${STAGE}.allUsers`, allUsers, 'bool');
  const users = spec.users ?? [];
  if (!Array.isArray(users)) throw wrongType(`${STAGE}.users`, users, 'array');
  const uids = new Set<string>();
  for (const u of users) {
    if (!isPlainObject(u)) throw wrongType(`${STAGE}.users`, u, 'object');
    for (const k of Object.keys(u)) if (k !== 'user' && k !== 'db') throw unknownField(`${STAGE}.users.${k}`);
    for (const k of ['user', 'db']) {
      if (u[k] === undefined) throw new MongoCommandError(40414, `BSON field '${STAGE}.users.${k}' is missing but a required field`, { codeName: 'Location40414' });
      if (typeof u[k] !== 'string') throw wrongType(`${STAGE}.users.${k}`, u[k], 'string');
    }
    const user = u.user as string;
    const db = u.db as string;
    uids.add(user === '' && db === '' ? anonymousUid : digest(`${user}@${db}`));
  }
  if (allUsers && uids.size > 0) {
    throw new MongoCommandError(Codes.UnsupportedFormat, `${STAGE} may not specify {allUsers:true} and {users:[...]} at the same time`);
  }
  if (allUsers) return undefined;
  // No users named: the logged-in user, i.e. (without authentication) the anonymous one.
  if (uids.size === 0) uids.add(anonymousUid);
  return uids;
}

/**
 * The stage's checks that depend on the command rather than the spec: not in a transaction, and
 * only readConcern "local" (or none), as mongod's stage declares.
 */
export function checkListSessionsCommand(ctx: Ctx): void {
  if (ctx.txn) {
    throw new MongoCommandError(Codes.OperationNotSupportedInTransaction, `Operation not permitted in transaction :: caused by :: Aggregation stage ${STAGE} cannot run within a multi-document transaction.`);
  }
  const rc = ctx.body.readConcern;
  const level = isPlainObject(rc) ? rc.level : undefined;
  if (level !== undefined && level !== 'local') {
    throw new MongoCommandError(Codes.InvalidOptions, `Aggregation stage ${STAGE} cannot run with a readConcern other than 'local'. Current readConcern: ${String(level)}`);
  }
}

/** One document per session the server holds (the running command's own session included). */
export function listLocalSessions(ctx: Ctx, spec: unknown): Doc[] {
  const uids = parseListSessionsSpec(spec);
  if (uids && !uids.has(anonymousUid)) return [];
  const uid = new Binary(Buffer.from(anonymousUid, 'hex'), Binary.SUBTYPE_DEFAULT);
  return [...ctx.state.sessions.byId.values()].map((s) => ({
    _id: { id: new Binary(Buffer.from(s.id, 'hex'), Binary.SUBTYPE_UUID), uid },
    lastUse: new Date(s.lastUse),
  }));
}
