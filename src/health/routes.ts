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
// Reported when a payment provider runs, never a reason to be unready: with the breaker open the
// service still sells and reads.
const paymentsDetail = z.object({ provider: z.enum(['fake', 'stripe']), breaker: z.enum(['closed', 'open', 'half-open']) });

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
          200: z.object({ status: z.literal('ready'), checks: z.record(z.string(), dependencyStatus), payments: paymentsDetail.optional() }),
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
      const payments = app.payments ? { provider: app.payments.provider.name, breaker: app.payments.breaker.state() } : undefined;
      const down = Object.entries({ mongodb, redis }).filter(([, s]) => s === 'down').map(([name]) => name);
      if (down.length > 0) {
        throw new AppError(503, 'SERVICE_UNAVAILABLE', `Not ready: ${down.join(', ')} down`, {
          extra: { down, checks: { mongodb, redis }, ...(payments ? { payments } : {}) },
          headers: { 'retry-after': '5' },
        });
      }
      return { status: 'ready' as const, checks: { mongodb, redis }, ...(payments ? { payments } : {}) };
    },
  );
}
