import { readFileSync } from 'node:fs';
import { z } from 'zod';

const DEV_JWT_SECRET = 'dev-only-secret-change-me-dev-only-secret';

const bool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/** Every setting the service reads, with its default. README's configuration table mirrors this. */
const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    HOST: z.string().default('0.0.0.0'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    MONGODB_URI: z.string().startsWith('mongodb').optional(),
    MONGODB_AUTO_INDEX: bool.optional(),
    REDIS_URL: z.string().startsWith('redis').optional(),
    REDIS_KEY_PREFIX: z.string().default('tix:'),
    JWT_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEV_JWT_SECRET),
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(15 * 60),
    REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(7 * 24 * 3600),
    BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(12),
    LOGIN_MAX_FAILURES: z.coerce.number().int().positive().default(5),
    LOGIN_LOCK_SECONDS: z.coerce.number().int().positive().default(15 * 60),
    ADMIN_EMAIL: z.email().optional(),
    ADMIN_PASSWORD: z.string().min(8).max(72).optional(),
    CORS_ORIGINS: list.default([]),
    HOLD_TTL_SECONDS: z.coerce.number().int().positive().default(10 * 60),
    IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().positive().default(24 * 3600),
    IDEMPOTENCY_LOCK_SECONDS: z.coerce.number().int().positive().default(30),
    EVENT_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(60).default(3),
    BOOKING_TX_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
    RATE_LIMIT_ENABLED: bool.default(true),
    RATE_LIMIT_MAX: z.coerce.number().int().positive().default(300),
    RATE_LIMIT_AUTH_MAX: z.coerce.number().int().positive().default(20),
    RATE_LIMIT_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
    TRUST_PROXY: bool.default(false),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
    DOCS_ENABLED: bool.default(true),
    METRICS_ENABLED: bool.default(true),
    // When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`.
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    // Waitlist (src/waitlist): how long an offer holds its tickets, and how often one instance
    // (a lease decides which) offers tickets freed by expired holds when no sale did (0: never).
    WAITLIST_OFFER_SECONDS: z.coerce.number().int().positive().default(30 * 60),
    WAITLIST_SWEEP_SECONDS: z.coerce.number().int().min(0).default(15),
    // DESIGN.md 5: production refuses to start on the MongoDB emulator. This lets CI smoke-run the
    // built server on it; never set it in production.
    ALLOW_MONGODB_EMULATOR: bool.default(false),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV !== 'production') return;
    // DESIGN.md 6: production fails closed rather than running on dev defaults.
    if (!env.MONGODB_URI) {
      ctx.addIssue({ code: 'custom', path: ['MONGODB_URI'], message: 'is required in production' });
    }
    if (env.JWT_SECRET === DEV_JWT_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'must be set (not the default) in production' });
    }
    if (!env.REDIS_URL) {
      ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'is required in production' });
    }
  });

export type Config = z.output<typeof envSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates the environment into one typed object; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings (e.g. `REDIS_URL=` in .env) mean "not set".
  const cleaned: Record<string, string> = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''),
  );
  // Docker and Kubernetes secrets arrive as files: JWT_SECRET_FILE names one.
  if (!cleaned.JWT_SECRET && cleaned.JWT_SECRET_FILE) {
    try {
      cleaned.JWT_SECRET = readFileSync(cleaned.JWT_SECRET_FILE, 'utf8').trim();
    } catch (err) {
      throw new ConfigError([`JWT_SECRET_FILE: cannot read ${cleaned.JWT_SECRET_FILE} (${(err as NodeJS.ErrnoException).code})`]);
    }
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'env'}: ${i.message}`));
  }
  return parsed.data;
}
