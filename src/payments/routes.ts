import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { signedInActor } from '../auth/guard.js';
import idempotency from '../bookings/idempotency.js';
import { envelope, idParams, ok, paged, pagedEnvelope } from '../lib/http.js';
import { createPaymentBody, listPaymentsQuery, paymentProblem, paymentSchema, toPaymentView } from './schemas.js';
import { createPayment, listPayments, type PaymentStamp } from './service.js';
import type { PaymentsDeps } from './types.js';

const tags = ['payments'];
const security = [{ bearerAuth: [] }];
// As on the booking POSTs: optional in the schema so the idempotency plugin answers a missing key
// with IDEMPOTENCY_KEY_REQUIRED; plugins/docs.ts documents it as required.
const idempotencyHeader = z.looseObject({
  'idempotency-key': z.string().optional().describe('Required: the same key never creates a second payment (or charge)'),
});
const problems = { 400: paymentProblem, 401: paymentProblem, 403: paymentProblem, 404: paymentProblem };

function stampOf(request: FastifyRequest): PaymentStamp {
  const ctx = request.idempotency;
  // The idempotency plugin sets it, or answers 400 before the handler runs: never missing here.
  if (!ctx) throw new Error('payment route without its idempotency context');
  return { key: ctx.key, fingerprint: ctx.fingerprint };
}

/** With PAYMENT_PROVIDER=none the routes still exist (the contract has them) and say so. */
function depsOf(app: FastifyInstance): PaymentsDeps {
  if (app.payments) return app.payments.deps;
  return {
    db: app.db,
    models: app.models,
    clock: app.clock,
    log: app.log,
    ticketKeys: app.ticketKeys,
    outbox: app.outbox,
    provider: null,
    // Never used without a provider (createPayment refuses first); a pass-through keeps the type whole.
    breaker: { run: (call) => call(), state: () => 'closed', close: () => undefined },
    txTimeoutMs: app.config.BOOKING_TX_TIMEOUT_MS,
    salesChanged: async () => undefined,
    refundQueued: () => undefined,
  };
}

/** /bookings/:id/payments (API.md Payments). Thin: the rules live in service.ts and settle.ts. */
export default async function paymentRoutes(app: FastifyInstance): Promise<void> {
  await app.register(idempotency);
  const api = app.withTypeProvider<ZodTypeProvider>();
  const deps = depsOf(app);

  api.post(
    '/:id/payments',
    {
      config: { idempotent: true },
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: "Start paying for a pending hold through the payment provider, for the booking's totalPrice",
        description:
          'The provider is called with an idempotency key of ours, so retrying with the same Idempotency-Key never ' +
          'charges twice. The booking is confirmed by the payment once it succeeds (at once, or by its webhook). ' +
          '503 PAYMENT_PROVIDER_UNAVAILABLE with Retry-After while the provider fails: nothing changed, the hold is kept.',
        headers: idempotencyHeader,
        params: idParams,
        body: createPaymentBody,
        response: {
          201: envelope(paymentSchema),
          ...problems,
          409: paymentProblem,
          410: paymentProblem,
          422: paymentProblem,
          503: paymentProblem,
        },
      },
    },
    async (request, reply) => {
      const outcome = await createPayment(deps, signedInActor(request), request.params.id, request.body ?? {}, stampOf(request));
      if (outcome.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(201).send(ok(toPaymentView(outcome.payment, true)));
    },
  );

  api.get(
    '/:id/payments',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: "A booking's payments, newest first (its owner, the event organizer, admins)",
        params: idParams,
        querystring: listPaymentsQuery,
        response: { 200: pagedEnvelope(paymentSchema), ...problems },
      },
    },
    async (request) => {
      const { page, limit } = request.query;
      const { items, total, owner } = await listPayments(deps, signedInActor(request), request.params.id, page, limit);
      return paged(
        items.map((p) => toPaymentView(p, owner)),
        page,
        limit,
        total,
      );
    },
  );
}
