import type { Redis } from 'ioredis';

/**
 * The small slice of Redis the service needs (idempotency records, read caches, auth caches),
 * with an in-memory twin for single-instance mode when no REDIS_URL is configured.
 * Callers treat every method as fallible: Redis may be down, and nothing may depend on it for
 * correctness (DESIGN.md 3, 4, 6).
 */
export interface KeyValueStore {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Atomic claim: true when the key did not exist and now holds `value`. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /**
   * The same claim in one round trip that also reads what is there: null when this call set the
   * key, otherwise the value that was already stored (and is left unchanged). Needs Redis 7.
   */
  setIfAbsentOrGet(key: string, value: string, ttlMs: number): Promise<string | null>;
  delete(...keys: string[]): Promise<void>;
}

export function redisStore(redis: Redis): KeyValueStore {
  return {
    kind: 'redis',
    get: (key) => redis.get(key),
    async set(key, value, ttlMs) {
      await redis.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs)));
    },
    async setIfAbsent(key, value, ttlMs) {
      return (await redis.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
    },
    setIfAbsentOrGet: (key, value, ttlMs) => redis.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX', 'GET'),
    async delete(...keys) {
      if (keys.length) await redis.del(...keys);
    },
  };
}

export function memoryStore(now: () => number = Date.now): KeyValueStore {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };
  // Expired entries are also dropped on a timer so an idle process does not keep them forever.
  const sweep = setInterval(() => {
    for (const key of entries.keys()) live(key);
  }, 60_000);
  sweep.unref();

  return {
    kind: 'memory',
    get: async (key) => live(key)?.value ?? null,
    async set(key, value, ttlMs) {
      entries.set(key, { value, expiresAt: now() + ttlMs });
    },
    async setIfAbsent(key, value, ttlMs) {
      if (live(key)) return false;
      entries.set(key, { value, expiresAt: now() + ttlMs });
      return true;
    },
    async setIfAbsentOrGet(key, value, ttlMs) {
      const existing = live(key);
      if (existing) return existing.value;
      entries.set(key, { value, expiresAt: now() + ttlMs });
      return null;
    },
    async delete(...keys) {
      for (const key of keys) entries.delete(key);
    },
  };
}
