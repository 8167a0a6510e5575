import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idParams, ok, problemSchema } from '../lib/http.js';
import { ensureAdmin } from './admin.js';
import { dummyHash } from './passwords.js';
import { loginBody, refreshBody, registerBody, roleBody, sessionTokensEnvelope, userEnvelope } from './schemas.js';
import { changeRole, getUser, login, logout, refresh, register } from './service.js';

const bearer = [{ bearerAuth: [] }];
const problems = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, problemSchema]));

// Token answers must never be stored by a browser or a proxy (RFC 6749 5.1).
const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

/** Accounts: /auth/* and /users/* (API.md Accounts). */
export default async function authRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  // Made now so the first login for an unknown email is not slower than the rest.
  void dummyHash(app.config.BCRYPT_COST);

  app.addHook('onReady', async () => {
    const { ADMIN_EMAIL, ADMIN_PASSWORD, BCRYPT_COST } = app.config;
    if (!ADMIN_EMAIL) return;
    const result = await ensureAdmin(app.models.User, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD }, BCRYPT_COST);
    app.log.info({ email: ADMIN_EMAIL, result }, 'start-up admin account checked');
  });

  app.post(
    '/auth/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create a customer account and log it in',
        body: registerBody,
        response: { 201: sessionTokensEnvelope, ...problems(400, 409) },
      },
    },
    async (request, reply) => {
      const tokens = await register(app, request.body);
      return noStore(reply).status(201).send(ok(tokens));
    },
  );

  app.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in; opens a session',
        description: 'After LOGIN_MAX_FAILURES failures in a row the account is locked: 429 ACCOUNT_LOCKED with Retry-After.',
        body: loginBody,
        response: { 200: sessionTokensEnvelope, ...problems(400, 401, 429) },
      },
    },
    async (request, reply) => noStore(reply).send(ok(await login(app, request.body))),
  );

  app.post(
    '/auth/refresh',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for a new pair; the presented one is spent',
        description: 'Presenting a spent refresh token again is 401 REFRESH_TOKEN_REUSED and revokes the session.',
        body: refreshBody,
        response: { 200: sessionTokensEnvelope, ...problems(400, 401) },
      },
    },
    async (request, reply) => noStore(reply).send(ok(await refresh(app, request.body.refreshToken))),
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'End the current session (its access and refresh tokens stop working)',
        security: bearer,
        response: { 204: z.null().describe('Logged out'), ...problems(401) },
      },
      onRequest: app.authenticate,
    },
    async (request, reply) => {
      await logout(app, request.auth!.sessionId);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/users/me',
    {
      schema: { tags: ['users'], summary: 'The caller', security: bearer, response: { 200: userEnvelope, ...problems(401, 404) } },
      onRequest: app.authenticate,
    },
    async (request) => ok(await getUser(app, request.auth!.userId)),
  );

  app.patch(
    '/users/:id/role',
    {
      schema: {
        tags: ['users'],
        summary: "Change a user's role (admin); it applies at once to every token the user holds",
        security: bearer,
        params: idParams,
        body: roleBody,
        response: { 200: userEnvelope, ...problems(400, 401, 403, 404, 409) },
      },
      onRequest: app.requireRole('admin'),
    },
    async (request) => ok(await changeRole(app, request.params.id, request.body.role)),
  );
}
