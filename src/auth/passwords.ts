import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';

/** bcrypt reads at most 72 bytes; anything longer would be silently truncated, so we refuse it. */
export const PASSWORD_MIN_BYTES = 8;
export const PASSWORD_MAX_BYTES = 72;

export const passwordBytes = (password: string): number => Buffer.byteLength(password, 'utf8');

export function hashPassword(password: string, cost: number): Promise<string> {
  return bcrypt.hash(password, cost);
}

export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(password, hash);
}

// One dummy hash per cost, made once: comparing against it makes "unknown email" take as long as
// "wrong password", so response time does not reveal which accounts exist.
const dummyHashes = new Map<number, Promise<string>>();

export function dummyHash(cost: number): Promise<string> {
  let hash = dummyHashes.get(cost);
  if (!hash) {
    hash = bcrypt.hash(randomBytes(24).toString('base64url'), cost);
    dummyHashes.set(cost, hash);
  }
  return hash;
}

/** Burns the time of one real comparison; always false. */
export async function compareWithDummy(password: string, cost: number): Promise<false> {
  await bcrypt.compare(password, await dummyHash(cost));
  return false;
}
