import { z } from 'zod';
import { envelope, isWellFormedText, objectId, safeText } from '../lib/http.js';
import { PASSWORD_MAX_BYTES, PASSWORD_MIN_BYTES, passwordBytes } from './passwords.js';
import { ROLES, type UserFields } from './user.model.js';

/** Stored and compared trimmed and lower-cased, so uniqueness is case-insensitive. */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

export const emailSchema = z.string().trim().toLowerCase().max(254).pipe(z.email({ message: 'must be an email address' }));

const maxBytes = (p: string) => passwordBytes(p) <= PASSWORD_MAX_BYTES;
const maxBytesMessage = `must be at most ${PASSWORD_MAX_BYTES} bytes in UTF-8 (bcrypt's limit)`;

/** A new password: 8-72 bytes of UTF-8, counted in bytes because that is what bcrypt reads. */
export const newPasswordSchema = z
  .string()
  .refine(isWellFormedText, { message: 'must not contain unpaired UTF-16 surrogates' })
  .refine((p) => passwordBytes(p) >= PASSWORD_MIN_BYTES, { message: `must be at least ${PASSWORD_MIN_BYTES} bytes` })
  .refine(maxBytes, { message: maxBytesMessage });

/**
 * A password offered at login: still capped at 72 bytes, since bcrypt would otherwise compare only
 * a prefix and accept a longer string that merely starts with the right password.
 */
export const loginPasswordSchema = z
  .string()
  .min(1)
  .refine(maxBytes, { message: maxBytesMessage })
  // Two different lone surrogates both reach bcrypt as U+FFFD; refuse rather than let them collide.
  .refine(isWellFormedText, { message: 'must not contain unpaired UTF-16 surrogates' });

export const roleSchema = z.enum(ROLES);

export const registerBody = z
  .object({ email: emailSchema, password: newPasswordSchema, name: safeText(1, 100) })
  .strict();

export const loginBody = z.object({ email: emailSchema, password: loginPasswordSchema }).strict();

export const refreshBody = z.object({ refreshToken: z.string().min(1).max(512) }).strict();

export const roleBody = z.object({ role: roleSchema }).strict();

/** The only shape in which a user leaves the server (z.object strips anything else, hash included). */
export const userSchema = z.object({
  id: objectId,
  email: z.string(),
  name: z.string(),
  role: roleSchema,
  createdAt: z.iso.datetime(),
});
export type UserDto = z.infer<typeof userSchema>;

export function toUserDto(user: Pick<UserFields, '_id' | 'email' | 'name' | 'role' | 'createdAt'>): UserDto {
  return {
    id: user._id.toHexString(),
    email: user.email,
    name: user.name,
    role: user.role as UserDto['role'],
    createdAt: new Date(user.createdAt).toISOString(),
  };
}

export const sessionTokensSchema = z.object({
  user: userSchema,
  accessToken: z.string(),
  refreshToken: z.string(),
  /** Access token lifetime in seconds. */
  expiresIn: z.number().int(),
});
export type SessionTokens = z.infer<typeof sessionTokensSchema>;

export const sessionTokensEnvelope = envelope(sessionTokensSchema);
export const userEnvelope = envelope(userSchema);
