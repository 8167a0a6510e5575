import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { forbidden, unauthenticated } from '../lib/errors.js';
import { liveSessionRole } from './sessions.js';
import { cachedAccessTokenVerifier } from './tokens.js';
import type { Role } from './user.model.js';

export interface RequestAuth {
  userId: string;
  role: Role;
  sessionId: string;
}

/** The caller of a route behind `authenticate`, as the services take it; 401 if there is none. */
export function signedInActor(request: FastifyRequest): { userId: string; role: Role } {
  if (!request.auth) throw unauthenticated();
  return { userId: request.auth.userId, role: request.auth.role };
}

// Routes attach these as onRequest hooks: who the caller is, and whether the role may use the
// route, is decided before the body is even parsed, so an anonymous or wrong-role caller gets
// 401/403 whatever it sends, and never learns the route's input schema from a 400.
declare module 'fastify' {
  interface FastifyInstance {
    /** 401 UNAUTHENTICATED unless a valid access token of a live session is presented. */
    authenticate: onRequestAsyncHookHandler;
    /** No Authorization header: anonymous. A header with a bad token: 401. */
    authenticateOptional: onRequestAsyncHookHandler;
    /** Authenticates, then 403 FORBIDDEN unless the caller has one of the roles. */
    requireRole: (...roles: Role[]) => onRequestAsyncHookHandler;
  }
  interface FastifyRequest {
    auth?: RequestAuth;
  }
}

// Token characters of RFC 6750 (b64token); anything else is malformed before we even verify.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** Authentication guard: verifies access tokens (HS256, app clock, live session) and roles. */
async function guard(app: FastifyInstance): Promise<void> {
  await app.register(fastifyJwt, {
    secret: app.config.JWT_SECRET,
    // exp is derived from the iat we put in (taken from app.clock), see tokens.ts.
    sign: { algorithm: 'HS256', expiresIn: app.config.ACCESS_TOKEN_TTL_SECONDS },
    // Pinned: tokens with alg "none" or any other algorithm are refused.
    verify: { algorithms: ['HS256'], requiredClaims: ['exp', 'sub', 'sid', 'typ', 'role'] },
  });

  app.decorateRequest('auth', undefined);
  if (!app.hasRequestDecorator('userId')) app.decorateRequest('userId', undefined);

  const verifyAccessToken = cachedAccessTokenVerifier(app.jwt);

  async function authenticateRequest(request: FastifyRequest): Promise<RequestAuth> {
    if (request.auth) return request.auth;
    const header = request.headers.authorization;
    if (!header) throw unauthenticated('Send an access token: Authorization: Bearer <token>');
    const match = BEARER.exec(header);
    if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>"');
    const claims = verifyAccessToken(match[1] as string, app.clock.now());
    // The role comes from the session check, not the token: a role change applies at once.
    const role = await liveSessionRole(app, claims.sid, claims.sub);
    if (!role) throw unauthenticated('The session has ended; log in again');
    const auth: RequestAuth = { userId: claims.sub, role, sessionId: claims.sid };
    request.auth = auth;
    request.userId = auth.userId;
    return auth;
  }

  const authenticate: onRequestAsyncHookHandler = async (request) => {
    await authenticateRequest(request);
  };

  const authenticateOptional: onRequestAsyncHookHandler = async (request) => {
    if (request.headers.authorization === undefined) return;
    await authenticateRequest(request);
  };

  const requireRole = (...roles: Role[]): onRequestAsyncHookHandler => {
    const allowed = new Set<Role>(roles);
    return async (request) => {
      const auth = await authenticateRequest(request);
      if (!allowed.has(auth.role)) throw forbidden();
    };
  };

  app.decorate('authenticate', authenticate);
  app.decorate('authenticateOptional', authenticateOptional);
  app.decorate('requireRole', requireRole);
}

export default fp(guard, { name: 'auth-guard', dependencies: ['config', 'database', 'redis'] });
