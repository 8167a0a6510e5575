import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { notFound } from '../lib/errors.js';
import { ok, envelope } from '../lib/http.js';
import { InvalidSignatureError } from './provider.js';
import { invalidSignature } from './problems.js';
import { paymentProblem, webhookAnswer, webhookBody, webhookParams } from './schemas.js';
import { applyProviderEvent } from './settle.js';

/**
 * POST /payments/webhooks/:provider. The signature covers the exact bytes the provider sent, so
 * this plugin (and only it: content-type parsers are encapsulated) keeps the JSON body raw; the
 * provider verifies it and parses it. The body schema documents the event for OpenAPI; the
 * signature check is its validation.
 */
const rawBodyValidator: FastifySchemaCompiler<unknown> = (route) =>
  route.httpPart === 'body' ? (data: unknown) => ({ value: data }) : (validatorCompiler as FastifySchemaCompiler<unknown>)(route);

export default async function webhookRoutes(app: FastifyInstance): Promise<void> {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.withTypeProvider<ZodTypeProvider>().post(
    '/:provider',
    {
      validatorCompiler: rawBodyValidator,
      schema: {
        tags: ['payments'],
        summary: "The payment provider's webhook: verified over the raw body, applied exactly once",
        description:
          'For Stripe the `Stripe-Signature` header (5 minutes tolerance); the built-in fake provider signs the same ' +
          'way in `Fake-Signature`. An event delivered again changes nothing and answers 200; types that are not ' +
          'acted on answer 200 `ignored`.',
        params: webhookParams,
        body: webhookBody,
        response: { 200: envelope(webhookAnswer), 400: paymentProblem, 404: paymentProblem },
      },
    },
    async (request) => {
      const runtime = app.payments;
      if (!runtime || runtime.provider.name !== request.params.provider) throw notFound('Payment provider');
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      let event;
      try {
        event = runtime.provider.verifyWebhook(raw, request.headers);
      } catch (err) {
        if (err instanceof InvalidSignatureError) throw invalidSignature(err.message);
        throw err;
      }
      const outcome = await applyProviderEvent(runtime.deps, event);
      request.log.info({ providerEvent: event.id, outcome }, 'payment webhook');
      return ok({ received: true as const, outcome });
    },
  );
}
