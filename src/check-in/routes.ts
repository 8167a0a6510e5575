import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { signedInActor } from '../auth/guard.js';
import { envelope, idParams, ok, paged, pagedEnvelope, problemSchema } from '../lib/http.js';
import idempotency from '../bookings/idempotency.js';
import { assertDoorAccess } from './access.js';
import {
  BATCH_BODY_LIMIT_BYTES,
  batchAnswer,
  batchBody,
  checkInAnswer,
  checkInBody,
  checkInKeyAnswer,
  optionalIdempotencyHeader,
  staffBody,
  staffListQuery,
  staffMemberSchema,
  staffParams,
  statsAnswer,
  toScanResultView,
} from './schemas.js';
import { type CheckInDeps, checkIn, checkInBatch, checkInStats, createCheckInDeps } from './service.js';
import { addStaff, listStaff, removeStaff, type StaffMember } from './staff.js';

const tags = ['check-in'];
const security = [{ bearerAuth: [] }];
const problems = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };
// ALREADY_CHECKED_IN carries the first scan's time; the serializer must keep it.
const checkInProblem = problemSchema.extend({}).loose();

const staffView = (m: StaffMember) => ({ ...m, createdAt: m.createdAt.toISOString() });

/** Door staff and check-in: /events/:id/{check-in-key,staff,check-ins} (API.md Tickets and check-in). */
export default async function checkInRoutes(app: FastifyInstance): Promise<void> {
  // Check-ins and staff additions honour Idempotency-Key when sent (API.md Conventions): a scanner
  // retrying after a lost answer gets its 200 back instead of a 409 for its own scan.
  await app.register(idempotency);
  const api = app.withTypeProvider<ZodTypeProvider>();
  const deps: CheckInDeps = createCheckInDeps({
    models: app.models,
    keys: app.ticketKeys,
    clock: app.clock,
    db: app.db,
    outbox: app.outbox,
    txTimeoutMs: app.config.BOOKING_TX_TIMEOUT_MS,
  });

  api.get(
    '/:id/check-in-key',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'The public key(s) that verify ticket codes offline (organizer, staff, admin)',
        params: idParams,
        response: { 200: envelope(checkInKeyAnswer), ...problems },
      },
    },
    async (request) => {
      await assertDoorAccess(app.models, signedInActor(request), request.params.id);
      const [publicKey] = app.ticketKeys.publicKeys;
      return ok({ alg: 'EdDSA' as const, publicKey, keys: app.ticketKeys.publicKeys });
    },
  );

  api.post(
    '/:id/staff',
    {
      config: { idempotent: 'optional' },
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Add a user as door staff of this event (organizer, admin); adding again answers 200',
        headers: optionalIdempotencyHeader,
        params: idParams,
        body: staffBody,
        response: { 201: envelope(staffMemberSchema), 200: envelope(staffMemberSchema), ...problems },
      },
    },
    async (request, reply) => {
      const { member, created } = await addStaff(app.models, signedInActor(request), request.params.id, request.body.userId, app.clock.now());
      return reply.code(created ? 201 : 200).send(ok(staffView(member)));
    },
  );

  api.get(
    '/:id/staff',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: "The event's door staff (organizer, admin)",
        params: idParams,
        querystring: staffListQuery,
        response: { 200: pagedEnvelope(staffMemberSchema), ...problems },
      },
    },
    async (request) => {
      const { page, limit } = request.query;
      const { items, total } = await listStaff(app.models, signedInActor(request), request.params.id, { page, limit });
      return paged(items.map(staffView), page, limit, total);
    },
  );

  api.delete(
    '/:id/staff/:userId',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Remove a user from the door staff of this event (organizer, admin)',
        params: staffParams,
        response: { 204: z.null().describe('Removed'), ...problems },
      },
    },
    async (request, reply) => {
      await removeStaff(app.models, signedInActor(request), request.params.id, request.params.userId);
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/:id/check-ins',
    {
      config: { idempotent: 'optional' },
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Check a ticket in: the first scan answers 200, every later one 409 ALREADY_CHECKED_IN',
        headers: optionalIdempotencyHeader,
        params: idParams,
        body: checkInBody,
        response: {
          200: envelope(checkInAnswer),
          ...problems,
          409: checkInProblem,
          410: problemSchema,
          422: problemSchema,
        },
      },
    },
    async (request) => {
      const answer = await checkIn(deps, signedInActor(request), request.params.id, request.body);
      return ok({ ticket: answer.ticket, checkedInAt: answer.checkedInAt.toISOString() });
    },
  );

  api.post(
    '/:id/check-ins/batch',
    {
      config: { idempotent: 'optional' },
      bodyLimit: BATCH_BODY_LIMIT_BYTES,
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Upload up to 500 offline scans; one result per scan, the earliest scannedAt of a ticket wins',
        headers: optionalIdempotencyHeader,
        params: idParams,
        body: batchBody,
        response: { 200: envelope(batchAnswer), ...problems },
      },
    },
    async (request) => {
      const results = await checkInBatch(deps, signedInActor(request), request.params.id, request.body.scans);
      return ok({ results: results.map(toScanResultView) });
    },
  );

  api.get(
    '/:id/check-ins/stats',
    {
      onRequest: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Check-in counts, overall and per ticket type, computed from the tickets',
        params: idParams,
        response: { 200: envelope(statsAnswer), ...problems },
      },
    },
    async (request) => ok(await checkInStats(deps, signedInActor(request), request.params.id)),
  );
}
