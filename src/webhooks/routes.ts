import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { signedInActor } from '../auth/guard.js';
import { envelope, idParams, ok, paged, pagedEnvelope, problemSchema } from '../lib/http.js';
import {
  createdWebhookSchema,
  createWebhookBody,
  deliveriesQuery,
  deliveryParams,
  deliverySchema,
  listQuery,
  webhookSchema,
} from './schemas.js';
import { createWebhook, deleteWebhook, listDeliveries, listWebhooks, retryDelivery, type WebhookDeps } from './service.js';

const tags = ['webhooks'];
const security = [{ bearerAuth: [] }];
const problem = problemSchema.loose();
const problems = { 400: problem, 401: problem, 403: problem, 404: problem };

/** Organizer webhooks: /webhooks/* (API.md "Notifications and webhooks"). Rules in service.ts. */
export default async function webhookRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  // Customers have no events, so no webhooks; the routes are the organizers' and admins'.
  const manage = app.requireRole('organizer', 'admin');
  const deps: WebhookDeps = {
    models: app.models,
    clock: app.clock,
    allowPrivate: app.config.WEBHOOKS_ALLOW_PRIVATE,
    retryMs: app.config.OUTBOX_RETRY_HOURS * 3_600_000,
  };

  app.post(
    '',
    {
      onRequest: manage,
      schema: {
        tags,
        security,
        summary: 'Register a webhook endpoint (the signing secret is in this answer only)',
        body: createWebhookBody,
        response: { 201: envelope(createdWebhookSchema), ...problems },
      },
    },
    async (request, reply) => reply.code(201).send(ok(await createWebhook(deps, signedInActor(request), request.body))),
  );

  app.get(
    '',
    {
      onRequest: manage,
      schema: { tags, security, summary: "The caller's webhook endpoints (an admin's: everyone's)", querystring: listQuery, response: { 200: pagedEnvelope(webhookSchema), ...problems } },
    },
    async (request) => {
      const { page, limit } = request.query;
      const { items, total } = await listWebhooks(deps, signedInActor(request), page, limit);
      return paged(items, page, limit, total);
    },
  );

  app.delete(
    '/:id',
    {
      onRequest: manage,
      schema: { tags, security, summary: 'Delete a webhook endpoint', params: idParams, response: { 204: z.null().describe('Deleted'), ...problems } },
    },
    async (request, reply) => {
      await deleteWebhook(deps, signedInActor(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/:id/deliveries',
    {
      onRequest: manage,
      schema: {
        tags,
        security,
        summary: "The endpoint's deliveries, newest first",
        params: idParams,
        querystring: deliveriesQuery,
        response: { 200: pagedEnvelope(deliverySchema), ...problems },
      },
    },
    async (request) => {
      const { page, limit } = request.query;
      const { items, total } = await listDeliveries(deps, signedInActor(request), request.params.id, request.query);
      return paged(items, page, limit, total);
    },
  );

  app.post(
    '/:id/deliveries/:deliveryId/retry',
    {
      onRequest: manage,
      schema: {
        tags,
        security,
        summary: 'Send a delivery again now (same webhook-id), with a fresh retry window',
        params: deliveryParams,
        response: { 202: envelope(deliverySchema), ...problems },
      },
    },
    async (request, reply) => {
      const { id, deliveryId } = request.params;
      return reply.code(202).send(ok(await retryDelivery(deps, signedInActor(request), id, deliveryId)));
    },
  );
}
