import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { AppError } from '../lib/errors.js';
import { hooksOf } from '../lib/http.js';
import { type TransactionStats, transactionStats } from '../lib/transaction.js';

/**
 * GET /metrics: Prometheus text exposition (API.md Conventions puts it outside /api/v1).
 *
 * Two registries are scraped together:
 * - one per process for what belongs to the process: prom-client's default metrics (CPU, memory,
 *   event-loop lag, GC) and the booking transaction counters of lib/transaction.ts, which are
 *   module-level. The default collectors start process-wide observers (a GC PerformanceObserver,
 *   an event-loop delay monitor) that prom-client cannot stop, so they must be started once per
 *   process, not once per app: tests build hundreds of apps in one process.
 * - one per app for what each app sees: request durations and booking outcomes. Per app so that
 *   two apps in one process neither collide on metric names nor count each other's requests.
 *
 * Per-request cost: one histogram observe in a global onResponse hook. The booking counters hang
 * on the two booking POST routes only (route-level hooks added in onRoute), so no other request
 * pays for them.
 */

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's registry, for features that add metrics of their own (outbox backlog, payments' breaker); unset when disabled. */
    metricsRegistry?: Registry;
  }
}

let processRegistry: Registry | undefined;

const TRANSACTION_COUNTERS: ReadonlyArray<[keyof TransactionStats, string, string]> = [
  ['transactions', 'ticketing_booking_transactions_total', 'Booking transactions asked for (one per booking decision, confirm or cancel)'],
  ['attempts', 'ticketing_booking_transaction_attempts_total', 'Booking transaction bodies started (first tries plus retries)'],
  ['conflicts', 'ticketing_booking_transaction_conflict_retries_total', 'Booking transaction attempts retried after a write conflict or other transient error'],
  ['commitRetries', 'ticketing_booking_transaction_commit_retries_total', 'Commits re-sent after an unknown commit result'],
  ['exhausted', 'ticketing_booking_transactions_exhausted_total', 'Booking transactions given up at their deadline (answered 503)'],
];

function processMetrics(): Registry {
  if (processRegistry) return processRegistry;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const [field, name, help] of TRANSACTION_COUNTERS) {
    // Read at scrape time: lib/transaction.ts keeps plain numbers and never learns about metrics.
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(transactionStats[field]);
      },
    });
  }
  processRegistry = registry;
  return registry;
}

// From 1 ms (cached reads, replays) to 10 s (past BOOKING_TX_TIMEOUT_MS, so 503s land in a bucket).
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const OUTCOMES = ['held', 'confirmed', 'sold_out', 'unavailable'] as const;
type Outcome = (typeof OUTCOMES)[number];

/** The booking POST routes whose answers are counted, by route pattern. */
const BOOKING_ROUTES = /^\/api\/v1\/bookings(\/:[^/]+\/confirm)?$/;

function isPost(route: RouteOptions): boolean {
  return Array.isArray(route.method) ? route.method.includes('POST') : route.method === 'POST';
}

/**
 * What a booking answer means, read from the payload before it is serialized. Replays are sent
 * as stored strings and never get here; the route's own layer-3 replays carry the replay header
 * and are skipped by the caller, so each decision is counted once.
 */
function outcomeOf(status: number, payload: unknown): Outcome | undefined {
  if (status === 503) return 'unavailable';
  if (typeof payload !== 'object' || payload === null) return undefined;
  const body = payload as { success?: unknown; code?: unknown; data?: { status?: unknown } };
  if (body.success === true) {
    // 201 pending: a hold on a paid event. 201 confirmed (free event) or 200 confirmed (a hold paid).
    if (body.data?.status === 'pending') return 'held';
    if (body.data?.status === 'confirmed') return 'confirmed';
    return undefined;
  }
  return body.code === 'SOLD_OUT' ? 'sold_out' : undefined;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i;

/** Quieter than info, unless the app already logs less than that (then the route adds nothing). */
function scrapeLogLevel(appLevel: string): 'warn' | undefined {
  return ['info', 'debug', 'trace'].includes(appLevel) ? 'warn' : undefined;
}

async function metrics(app: FastifyInstance): Promise<void> {
  const { METRICS_ENABLED, METRICS_TOKEN } = app.config;
  // Disabled: no route (GET /metrics is a 404 like any unknown path), no hooks, no collectors.
  if (!METRICS_ENABLED) return;

  const shared = processMetrics();
  const registry = new Registry();
  app.decorate('metricsRegistry', registry);

  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response sent, by method, route pattern and status code',
    // The route pattern, never the raw URL: ids would make every booking a new series.
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const outcomes = new Counter({
    name: 'ticketing_booking_outcomes_total',
    help: 'Booking decisions by outcome: held (paid event), confirmed (tickets issued), sold_out, unavailable (503)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const replays = new Counter({
    name: 'ticketing_idempotency_replays_total',
    help: 'Answers replayed for a repeated Idempotency-Key (Idempotent-Replayed: true), by route pattern',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  // Every outcome appears from the first scrape, so rate() works before the first sale.
  for (const outcome of OUTCOMES) outcomes.inc({ outcome }, 0);

  app.addHook('onResponse', (request, reply, done) => {
    // Same route label as the request log line; 'not-found' covers every unmatched URL.
    duration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'not-found', status_code: reply.statusCode },
      reply.elapsedTime / 1000,
    );
    done();
  });

  app.addHook('onRoute', (route) => {
    if (!isPost(route) || !BOOKING_ROUTES.test(route.url)) return;

    const countOutcome = (_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: Error | null, payload?: unknown) => void) => {
      if (reply.getHeader('idempotent-replayed') === undefined) {
        const outcome = outcomeOf(reply.statusCode, payload);
        if (outcome) outcomes.inc({ outcome });
      }
      done(null, payload);
    };
    const countReplay = (_request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      if (reply.getHeader('idempotent-replayed') === 'true') replays.inc({ route: route.url });
      done();
    };
    route.preSerialization = [...hooksOf(route.preSerialization), countOutcome];
    route.onResponse = [...hooksOf(route.onResponse), countReplay];
  });

  const expectedToken = METRICS_TOKEN ? sha256(METRICS_TOKEN) : undefined;
  /** Compares digests: equal lengths for timingSafeEqual, and nothing learned from the token's length. */
  const authorized = (header: string | undefined): boolean => {
    if (!expectedToken) return true;
    const match = typeof header === 'string' ? BEARER.exec(header) : null;
    return match !== null && timingSafeEqual(sha256(match[1]), expectedToken);
  };

  app.get(
    '/metrics',
    {
      // Scrapes come every few seconds; the per-request info line would drown the log.
      logLevel: scrapeLogLevel(app.log.level),
      // Not in the OpenAPI document: it describes the JSON API of API.md, and this is an operator's
      // text/plain endpoint for Prometheus (README documents it).
      schema: { hide: true },
    },
    async (request, reply) => {
      if (!authorized(request.headers.authorization)) {
        throw new AppError(401, 'UNAUTHENTICATED', 'A valid metrics token is required', {
          headers: { 'www-authenticate': 'Bearer realm="metrics"' },
        });
      }
      const text = (await shared.metrics()) + (await registry.metrics());
      return reply.type(registry.contentType).send(text);
    },
  );
}

export default fp(metrics, { name: 'metrics', dependencies: ['config'] });
