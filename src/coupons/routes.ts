import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Actor } from '../events/access.js';
import { envelope, idParams, ok, paged, pagedEnvelope, problemSchema } from '../lib/http.js';
import { couponParams, couponSchema, createCouponBody, listCouponsQuery, updateCouponBody } from './schemas.js';
import { createCoupon, listCoupons, updateCoupon } from './service.js';

const problem = problemSchema.loose();
const security = [{ bearerAuth: [] }];
const tags = ['coupons'];
const problems = { 400: problem, 401: problem, 403: problem, 404: problem };

const actorOf = (request: FastifyRequest): Actor | undefined =>
  request.auth ? { userId: request.auth.userId, role: request.auth.role } : undefined;

/** Coupons: /events/:id/coupons (its organizer and admins). Thin: the rules live in service.ts. */
export default async function couponRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const manage = app.requireRole('organizer', 'admin');

  app.post(
    '/:id/coupons',
    {
      onRequest: manage,
      schema: {
        tags,
        security,
        summary: 'Create a coupon: percentOff or amountOff, optional limits, dates and covered ticket types',
        params: idParams,
        body: createCouponBody,
        response: { 201: envelope(couponSchema), ...problems, 409: problem },
      },
    },
    async (request, reply) => reply.code(201).send(ok(await createCoupon(app, request.params.id, actorOf(request), request.body))),
  );

  app.get(
    '/:id/coupons',
    {
      onRequest: manage,
      schema: {
        tags,
        security,
        summary: "An event's coupons, oldest first, each with its redemptions (confirmed bookings plus unexpired holds)",
        params: idParams,
        querystring: listCouponsQuery,
        response: { 200: pagedEnvelope(couponSchema), ...problems },
      },
    },
    async (request) => {
      const { page, limit } = request.query;
      const { items, total } = await listCoupons(app, request.params.id, actorOf(request), page, limit);
      return paged(items, page, limit, total);
    },
  );

  app.patch(
    '/:id/coupons/:couponId',
    {
      onRequest: manage,
      schema: {
        tags,
        security,
        summary: 'Change a coupon; active: false stops new redemptions at once',
        params: couponParams,
        body: updateCouponBody,
        response: { 200: envelope(couponSchema), ...problems, 503: problem },
      },
    },
    async (request) => ok(await updateCoupon(app, request.params.id, request.params.couponId, actorOf(request), request.body)),
  );
}
