import { mongo } from 'mongoose';
import { hashPassword, PASSWORD_MAX_BYTES, PASSWORD_MIN_BYTES, passwordBytes } from './passwords.js';
import { normalizeEmail } from './schemas.js';
import type { UserModel } from './user.model.js';

export interface AdminSpec {
  email: string;
  password?: string;
  name?: string;
}

export type EnsureAdminResult = 'created' | 'promoted' | 'unchanged';

/**
 * Makes sure an admin account exists for this email: created when missing (needs a password),
 * promoted when it exists with another role. An existing account keeps its password.
 * Used at start-up (ADMIN_EMAIL / ADMIN_PASSWORD) and by `npm run create-admin`.
 */
export async function ensureAdmin(User: UserModel, spec: AdminSpec, bcryptCost: number): Promise<EnsureAdminResult> {
  const email = normalizeEmail(spec.email);
  const promote = async (): Promise<EnsureAdminResult> => {
    const before = await User.findOneAndUpdate({ email }, { $set: { role: 'admin' } }).lean();
    if (!before) throw new Error(`admin account ${email} vanished while it was being promoted`);
    return before.role === 'admin' ? 'unchanged' : 'promoted';
  };

  if (await User.exists({ email })) return promote();

  const { password } = spec;
  if (!password) throw new Error(`No account ${email} exists yet; a password is needed to create it`);
  const bytes = passwordBytes(password);
  if (bytes < PASSWORD_MIN_BYTES || bytes > PASSWORD_MAX_BYTES) {
    throw new Error(`The admin password must be ${PASSWORD_MIN_BYTES}-${PASSWORD_MAX_BYTES} bytes of UTF-8 (got ${bytes})`);
  }
  try {
    await User.create({
      email,
      name: spec.name?.trim() || 'Administrator',
      role: 'admin',
      passwordHash: await hashPassword(password, bcryptCost),
    });
    return 'created';
  } catch (err) {
    // Another instance created it first: promote (a no-op if it is already admin).
    if (err instanceof mongo.MongoServerError && err.code === 11000) return promote();
    throw err;
  }
}
