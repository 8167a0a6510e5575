import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { Connection } from 'mongoose';
import type { DestinationStream } from 'pino';
import type { Config } from './config.js';
import authGuard from './auth/guard.js';
import authRoutes from './auth/routes.js';
import bookingRoutes from './bookings/routes.js';
import checkInRoutes from './check-in/routes.js';
import couponRoutes from './coupons/routes.js';
import eventRoutes from './events/routes.js';
import healthRoutes from './health/routes.js';
import seatRoutes from './seats/routes.js';
import { seatEventsOfVenue } from './seats/venue-growth.js';
import ticketTypeRoutes from './ticket-types/routes.js';
import venueRoutes from './venues/routes.js';
import waitlistRoutes from './waitlist/routes.js';
import { type Clock, systemClock } from './lib/clock.js';
import { refuseUnknownQueryParameters } from './lib/http.js';
import { deferredChildLoggerFactory, loggerOptions } from './lib/logger.js';
import core from './plugins/core.js';
import database from './plugins/database.js';
import docs from './plugins/docs.js';
import metrics from './plugins/metrics.js';
import outbox from './outbox/plugin.js';
import payments from './payments/plugin.js';
import paymentRoutes from './payments/routes.js';
import paymentWebhookRoutes from './payments/webhook-routes.js';
import errors, { sendProblem, toAppError } from './plugins/errors.js';
import { acceptOnlyJson } from './plugins/json-bodies.js';
import rateLimits from './plugins/rate-limit.js';
import redis from './plugins/redis.js';
import requestContext, { REQUEST_ID_LOG_LABEL, requestIdFrom, writeRequestLine } from './plugins/request-context.js';
import securityHeaders from './plugins/security-headers.js';
import webhookRoutes from './webhooks/routes.js';
import ticketKeys from './tickets/plugin.js';
import ticketRoutes from './tickets/routes.js';

export const BODY_LIMIT_BYTES = 64 * 1024;

export interface AppDependencies {
  clock?: Clock;
  /** Reused connections (serverless containers, tests); otherwise the app opens its own. */
  connection?: Connection;
  redisClient?: Redis;
  /** Pino destination override (tests capture log lines). */
  logStream?: DestinationStream;
}

/** Builds the whole app from small plugins: external ones first, then ours, then feature routes. */
export async function buildApp(config: Config, deps: AppDependencies = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config, deps.logStream),
    genReqId: requestIdFrom,
    // Our own onResponse hook writes the one line per request (plugins/request-context.ts).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: REQUEST_ID_LOG_LABEL }),
    childLoggerFactory: deferredChildLoggerFactory,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY,
    // Parse JSON into plain objects without prototype tricks (`__proto__`, `constructor`).
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: {
      // `/api/v1/events/` is `/api/v1/events`, not `/:id` with an empty id (API.md paths have no slash).
      ignoreTrailingSlash: true,
      // The router's default (100) answered an over-long malformed id with 414 before validation
      // could answer 400 (API.md Conventions). Ids are checked by an anchored regex, so length costs
      // nothing; only a parameter past 8 KiB, a URL no client builds, is still 414 URI Too Long.
      maxParamLength: 8 * 1024,
    },
    // Malformed URLs and over-long path parameters answer problem+json like everything else.
    frameworkErrors: (error, request, reply) => {
      sendProblem(reply, toAppError(error));
      writeRequestLine(request.log, request, reply);
    },
  }).withTypeProvider<ZodTypeProvider>();

  acceptOnlyJson(app);

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(core, { config, clock: deps.clock ?? systemClock });
  await app.register(errors);
  await app.register(requestContext);
  await app.register(securityHeaders);
  await app.register(cors, {
    origin: config.CORS_ORIGINS.length > 0 ? config.CORS_ORIGINS : false,
    exposedHeaders: ['X-Request-Id', 'ETag', 'Retry-After', 'Idempotent-Replayed', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'],
  });
  if (config.DOCS_ENABLED) await app.register(docs);
  await app.register(database, { connection: deps.connection });
  await app.register(redis, { client: deps.redisClient });
  await app.register(rateLimits);
  await app.register(metrics);
  // After metrics (it adds the outbox backlog to /metrics), before the routes that enqueue.
  await app.register(outbox);
  // Before payments: a succeeded payment confirms a booking with its signed tickets.
  await app.register(ticketKeys);
  await app.register(payments);

  await app.register(healthRoutes);
  await app.register(authGuard);
  await app.register(
    async (api) => {
      // Every route of the API, in every feature plugin below.
      refuseUnknownQueryParameters(api);
      await api.register(authRoutes);
      await api.register(eventRoutes, { prefix: '/events' });
      await api.register(ticketTypeRoutes, { prefix: '/events' });
      await api.register(couponRoutes, { prefix: '/events' });
      await api.register(waitlistRoutes, { prefix: '/events' });
      await api.register(bookingRoutes, { prefix: '/bookings' });
      await api.register(webhookRoutes, { prefix: '/webhooks' });
      await api.register(paymentRoutes, { prefix: '/bookings' });
      await api.register(paymentWebhookRoutes, { prefix: '/payments/webhooks' });
      await api.register(ticketRoutes, { prefix: '/tickets' });
      await api.register(checkInRoutes, { prefix: '/events' });
      await api.register(seatRoutes, { prefix: '/events' });
      // A venue that gains seats re-seats the events that use it (src/seats/venue-growth.ts).
      await api.register(venueRoutes, { prefix: '/venues', venueChanged: (venueId) => seatEventsOfVenue(api, venueId) });
    },
    { prefix: '/api/v1' },
  );

  return app;
}
