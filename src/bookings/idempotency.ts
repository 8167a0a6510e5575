import { hash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, unauthenticated } from '../lib/errors.js';
import { hooksOf } from '../lib/http.js';
import { requestFingerprint } from './fingerprint.js';
import { keyReused, requestInProgress } from './problems.js';
import { type FinishedAnswer, ReplayCache } from './replay-cache.js';

/**
 * Idempotency-Key handling for POST routes (API.md Idempotency; DESIGN.md 3, layer 2).
 * A route opts in with `config: { idempotent: true }` and must authenticate in an onRequest hook:
 * this plugin appends its claim to the route's preHandlers, so it runs after the auth guard and
 * after body validation.
 *
 * Which answers are remembered:
 * - Anything rejected before the claim is not: a body that fails the schema, a missing or bad key,
 *   a missing token. The same key may be sent again with a corrected request.
 * - 400 answers after the claim (the event-specific quantity limit) are not either: they are input
 *   validation too, nothing ran, and the caller may fix the quantity and reuse the key.
 * - 5xx answers release the claim so the key may be retried.
 * - Every other answer (2xx, 403, 404, 409, 410, 422) is stored with the request's fingerprint and
 *   replayed, status and body identical, for IDEMPOTENCY_TTL_SECONDS.
 * When the store (Redis) fails, the request goes on without this layer: the booking's unique
 * (userId, idempotencyKey) index (layer 3) still guarantees that nothing is booked twice.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Opt a route into Idempotency-Key handling: `true` requires the key (bookings); `'optional'`
     * honours it when sent and lets requests without one through (check-ins, API.md Conventions).
     */
    idempotent?: boolean | 'optional';
  }
  interface FastifyRequest {
    /** Set on idempotent routes once the key is valid; services record it (layer 3). */
    idempotency?: IdempotencyContext;
  }
}

export interface IdempotencyContext {
  key: string;
  fingerprint: string;
  /** The store key this request claimed; cleared once its answer is stored or released. */
  claim?: string;
}

const MAX_KEY_LENGTH = 255;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;
/** Retry-After for a repeat that meets a running request: requests take milliseconds, not minutes. */
const IN_PROGRESS_RETRY_AFTER_SECONDS = 1;

const keyRequired = () =>
  new AppError(400, 'IDEMPOTENCY_KEY_REQUIRED', 'This request needs an Idempotency-Key header', {
    errors: [{ path: 'headers.idempotency-key', message: 'is required' }],
  });
const keyInvalid = (why: string) =>
  new AppError(400, 'IDEMPOTENCY_KEY_INVALID', `The Idempotency-Key header is not valid: ${why}`, {
    errors: [{ path: 'headers.idempotency-key', message: why }],
  });

/** An RFC 8941 sf-string (`"..."` with `\"` and `\\` escapes) to its value; null if malformed. */
function unquoteStructuredString(value: string): string | null {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return null;
  let out = '';
  const end = value.length - 1;
  for (let i = 1; i < end; i++) {
    const c = value[i];
    if (c === '\\') {
      const next = value[i + 1];
      if (i + 1 >= end || (next !== '"' && next !== '\\')) return null;
      out += next;
      i++;
    } else if (c === '"' || c < ' ' || c > '~') {
      return null;
    } else {
      out += c;
    }
  }
  return out;
}

/** The key a header carries, bare or as a structured-field string; throws the API's 400s. */
export function parseIdempotencyKey(header: string | string[] | undefined): string {
  if (Array.isArray(header)) {
    if (header.length > 1) throw keyInvalid('send exactly one Idempotency-Key header');
    header = header[0];
  }
  const raw = (header ?? '').trim();
  if (raw === '') throw keyRequired();
  let key = raw;
  if (raw.startsWith('"')) {
    const unquoted = unquoteStructuredString(raw);
    if (unquoted === null) throw keyInvalid('malformed structured-field string');
    key = unquoted;
  }
  if (key === '') throw keyRequired();
  if (key.length > MAX_KEY_LENGTH) throw keyInvalid(`longer than ${MAX_KEY_LENGTH} characters`);
  if (!VISIBLE_ASCII.test(key)) throw keyInvalid('only visible ASCII characters are allowed');
  return key;
}

// `until` (wall-clock ms of the record's expiry) is absent from records written before it existed.
type StoredRecord =
  | { state: 'running'; fingerprint: string }
  | ({ state: 'done' } & Omit<FinishedAnswer, 'until'> & { until?: number });

/** Bodies of answers replayed once, kept in each process (replay-cache.ts): a few thousand bookings. */
const REPLAY_CACHE_BYTES = 16 * 1024 * 1024;

function readRecord(text: string): StoredRecord | null {
  try {
    const record = JSON.parse(text) as StoredRecord;
    return typeof record?.fingerprint === 'string' ? record : null;
  } catch {
    return null;
  }
}

/** Keys belong to a user (two users' identical keys never meet); hashed so any key makes a tidy store key. */
export function storeKeyFor(userId: string, key: string): string {
  return `idem:${userId}:${hash('sha256', key, 'hex')}`;
}

async function idempotency(app: FastifyInstance): Promise<void> {
  const lockMs = app.config.IDEMPOTENCY_LOCK_SECONDS * 1000;
  const keepMs = app.config.IDEMPOTENCY_TTL_SECONDS * 1000;
  const replays = new ReplayCache(REPLAY_CACHE_BYTES);

  const storeUnavailable = (request: FastifyRequest, err: unknown) =>
    request.log.warn(
      { err: (err as Error).message },
      'idempotency store unavailable; relying on the booking key index (layer 3)',
    );

  async function claim(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (!request.auth) throw unauthenticated();
    const header = request.headers['idempotency-key'];
    if (request.routeOptions.config.idempotent === 'optional' && (header === undefined || header === '')) return undefined;
    const key = parseIdempotencyKey(header);
    // `/bookings` and `/bookings/` are the same route, so they are the same path here too.
    const path = request.url.split('?')[0].replace(/\/+$/, '') || '/';
    const fingerprint = requestFingerprint(request.method, path, request.body);
    const ctx: IdempotencyContext = { key, fingerprint };
    request.idempotency = ctx;
    const storeKey = storeKeyFor(request.auth.userId, key);
    // Wall clock, not app.clock: the store's TTL runs on real time.
    const known = replays.get(storeKey, Date.now());
    if (known) return replay(reply, known, fingerprint);
    const running = JSON.stringify({ state: 'running', fingerprint } satisfies StoredRecord);

    let stored: string | null;
    try {
      // One round trip claims the key or reads its record. The claim expires by itself, so a
      // process that dies mid-request does not block the key for longer than the lock.
      stored = await app.kv.setIfAbsentOrGet(storeKey, running, lockMs);
    } catch (err) {
      storeUnavailable(request, err);
      return undefined;
    }
    if (stored === null) {
      ctx.claim = storeKey;
      return undefined;
    }
    const record = readRecord(stored);
    if (!record) {
      request.log.warn({ storeKey }, 'unreadable idempotency record; relying on the booking key index');
      return undefined;
    }
    if (record.state === 'running') {
      if (record.fingerprint !== fingerprint) throw keyReused();
      throw requestInProgress(IN_PROGRESS_RETRY_AFTER_SECONDS);
    }
    const { until, ...answer } = record;
    if (until !== undefined) replays.remember(storeKey, { ...answer, until }, Date.now());
    return replay(reply, answer, fingerprint);
  }

  function replay(reply: FastifyReply, answer: Omit<FinishedAnswer, 'until'>, fingerprint: string): FastifyReply {
    if (answer.fingerprint !== fingerprint) throw keyReused();
    return reply
      .code(answer.status)
      .header('content-type', answer.contentType)
      .header('idempotent-replayed', 'true')
      .send(answer.body);
  }

  async function remember(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    const ctx = request.idempotency;
    if (!ctx?.claim) return payload;
    const storeKey = ctx.claim;
    ctx.claim = undefined;
    const status = reply.statusCode;
    try {
      if (status >= 500 || status === 400 || typeof payload !== 'string') {
        await app.kv.delete(storeKey);
      } else {
        const record: StoredRecord = {
          state: 'done',
          fingerprint: ctx.fingerprint,
          status,
          contentType: String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8'),
          body: payload,
          until: Date.now() + keepMs,
        };
        // Stored before the answer leaves, so a client that retries at once gets the replay.
        await app.kv.set(storeKey, JSON.stringify(record), keepMs);
      }
    } catch (err) {
      // The claim then runs out after IDEMPOTENCY_LOCK_SECONDS; layer 3 covers the retry.
      storeUnavailable(request, err);
    }
    return payload;
  }

  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.config?.idempotent) return;
    route.preHandler = [...hooksOf(route.preHandler), claim];
    route.onSend = [...hooksOf(route.onSend), remember];
  });
}

export default fp(idempotency, { name: 'idempotency', dependencies: ['config', 'redis'] });
