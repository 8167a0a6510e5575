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
    // Each instance's own copy of a cached event read (src/events/cache.ts); 0 turns it off.
    EVENT_MEMORY_CACHE_MS: z.coerce.number().int().min(0).max(5000).default(500),
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
    // --- Outbox, worker, emails, webhooks (DESIGN.md 9; README "Notifications and webhooks") ---
    // Runs the outbox worker and the hold sweeper inside the API process. Unset: on in development,
    // off in production (`npm run worker` runs them there) and in tests (they start their own).
    OUTBOX_WORKER_INLINE: bool.optional(),
    OUTBOX_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(500),
    OUTBOX_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(8),
    // A claimed message is the worker's alone this long; longer than any one delivery may take.
    OUTBOX_LEASE_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
    // Retries with exponential backoff and jitter for this long, then the message is marked failed.
    OUTBOX_RETRY_HOURS: z.coerce.number().positive().max(24 * 7).default(24),
    HOLD_SWEEP_SECONDS: z.coerce.number().int().min(1).max(3600).default(15),
    // "Hold expiring soon" email this long before a hold ends; 0 sends none.
    HOLD_REMINDER_SECONDS: z.coerce.number().int().min(0).max(24 * 3600).default(120),
    // Without it development and tests log emails instead of sending them; a production worker
    // refuses to start without it (src/notifications/mailer.ts).
    SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
    MAIL_FROM: z.string().min(3).default('Tickets <no-reply@tickets.invalid>'),
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
    // Lets webhooks reach private, loopback and link-local addresses: for tests and local setups only.
    WEBHOOKS_ALLOW_PRIVATE: bool.default(false),

    // Payments (src/payments). `none`: bookings are confirmed by hand, as before.
    PAYMENT_PROVIDER: z.enum(['none', 'fake', 'stripe']).default('none'),
    STRIPE_SECRET_KEY: z.string().min(1).optional(),
    STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
    // Another Stripe API base (stripe-mock, a local test double); Stripe's own when unset.
    STRIPE_API_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
    PAYMENT_PROVIDER_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
    PAYMENT_BREAKER_RESET_MS: z.coerce.number().int().positive().default(30_000),
    PAYMENT_BREAKER_ERROR_PERCENT: z.coerce.number().int().min(1).max(100).default(50),
    PAYMENT_BREAKER_MIN_CALLS: z.coerce.number().int().min(1).default(5),
    // The fake provider: when a `pm_card_processing` payment succeeds by itself (0: never), and the
    // share of webhooks it delivers twice.
    FAKE_PAYMENT_SETTLE_MS: z.coerce.number().int().min(0).default(3000),
    FAKE_PAYMENT_DUPLICATE_RATE: z.coerce.number().min(0).max(1).default(0.1),

    // --- Ticket codes (src/tickets/keys.ts) ---
    // The Ed25519 key that signs ticket codes: a private JWK, or a JWK Set whose first key signs
    // and whose other keys (retired ones, public parts suffice) still verify: rotation keeps old
    // tickets valid. TICKET_SIGNING_KEY_FILE names a file holding the same. Required in production.
    TICKET_SIGNING_KEY: z.string().optional(),
    // Outside production, with no key set, one is generated and kept here, so a restart does not
    // void every ticket issued before it. Tests (NODE_ENV=test) use a key of their own per app.
    TICKET_DEV_KEY_FILE: z.string().default('.data/ticket-signing-key.dev.json'),
  })
  .superRefine((env, ctx) => {
    // Payments fail closed: a provider that cannot verify webhooks or charge must not start.
    if (env.PAYMENT_PROVIDER === 'stripe') {
      for (const name of ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'] as const) {
        if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'is required with PAYMENT_PROVIDER=stripe' });
      }
    }
    if (env.NODE_ENV === 'production' && env.PAYMENT_PROVIDER === 'fake') {
      ctx.addIssue({ code: 'custom', path: ['PAYMENT_PROVIDER'], message: '`fake` is for development and tests; production refuses it' });
    }
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
    if (!env.TICKET_SIGNING_KEY) {
      // A generated key would void every ticket on the next deploy, and differ per instance.
      ctx.addIssue({ code: 'custom', path: ['TICKET_SIGNING_KEY'], message: 'is required in production (or TICKET_SIGNING_KEY_FILE)' });
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
  if (!cleaned.TICKET_SIGNING_KEY && cleaned.TICKET_SIGNING_KEY_FILE) {
    try {
      cleaned.TICKET_SIGNING_KEY = readFileSync(cleaned.TICKET_SIGNING_KEY_FILE, 'utf8').trim();
    } catch (err) {
      throw new ConfigError([
        `TICKET_SIGNING_KEY_FILE: cannot read ${cleaned.TICKET_SIGNING_KEY_FILE} (${(err as NodeJS.ErrnoException).code})`,
      ]);
    }
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'env'}: ${i.message}`));
  }
  return parsed.data;
}
