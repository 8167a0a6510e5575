import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../lib/errors.js';

const TIMEOUT_MS = 1500;

function withTimeout<T>(work: Promise<T>): Promise<T> {
  return Promise.race([
    work,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), TIMEOUT_MS).unref()),
  ]);
}

const dependencyStatus = z.enum(['up', 'down', 'not-configured']);
// Reported, never a reason to be unready: with the breaker open the service still sells and reads.
const paymentsDetail = z.object({
  provider: z.enum(['none', 'fake', 'stripe']),
  breaker: z.enum(['closed', 'open', 'half-open', 'not-configured']),
});

/** Liveness answers while the process is up; readiness asks each dependency (API.md Health). */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/health',
    { schema: { tags: ['health'], response: { 200: z.object({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        response: {
          200: z.object({ status: z.literal('ready'), checks: z.record(z.string(), dependencyStatus), payments: paymentsDetail }),
        },
      },
    },
    async () => {
      const mongodb = await withTimeout(app.db.db!.admin().ping()).then(
        () => 'up' as const,
        () => 'down' as const,
      );
      const redis = app.redis
        ? await withTimeout(app.redis.ping()).then(
            () => 'up' as const,
            () => 'down' as const,
          )
        : ('not-configured' as const);
      const payments = {
        provider: app.config.PAYMENT_PROVIDER,
        breaker: app.payments ? app.payments.breaker.state() : ('not-configured' as const),
      };
      const down = Object.entries({ mongodb, redis }).filter(([, s]) => s === 'down').map(([name]) => name);
      if (down.length > 0) {
        throw new AppError(503, 'SERVICE_UNAVAILABLE', `Not ready: ${down.join(', ')} down`, {
          extra: { down, checks: { mongodb, redis }, payments },
          headers: { 'retry-after': '5' },
        });
      }
      return { status: 'ready' as const, checks: { mongodb, redis }, payments };
    },
  );
}
