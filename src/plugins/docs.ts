import { STATUS_CODES } from 'node:http';
import swagger, { type SwaggerTransform, type SwaggerTransformObject } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemSchema, type RouteResponseHeader } from '../lib/http.js';

/**
 * OpenAPI 3 document built from the routes' own zod schemas; UI at /docs, JSON at /docs/json.
 *
 * The routes declare what they validate and serialize. What the whole API does around them, and
 * what API.md binds, is added here, so no route can forget it:
 * - problems (4xx/5xx) are `application/problem+json`, as plugins/errors.ts sends them;
 * - 429 on every route (plugins/rate-limit.ts limits all of them), 413/415 on every route that
 *   reads a body (plugins/json-bodies.ts), 503 on every route that needs MongoDB;
 * - the response headers: X-Request-Id everywhere, RateLimit-* on successes and 429, Retry-After,
 *   Idempotent-Replayed on idempotent routes, and the ones a route names in `schema.responseHeaders`;
 * - Idempotency-Key as a required header (see `requireIdempotencyKey`);
 * - 204 answers without a body, and bodies a route may leave out as not required.
 * The runtime is untouched: Fastify still serializes each answer with the route's zod schema.
 */

type Json = Record<string, unknown>;

const JSON_TYPE = 'application/json';
const PROBLEM_JSON = 'application/problem+json';

/** The body of any problem a route does not document itself (they may carry extra members). */
const GENERIC_PROBLEM: Json = z.toJSONSchema(problemSchema.loose(), { target: 'openapi-3.0', io: 'output' });

type HeaderName =
  | RouteResponseHeader
  | 'X-Request-Id'
  | 'RateLimit-Limit'
  | 'RateLimit-Remaining'
  | 'RateLimit-Reset'
  | 'Retry-After'
  | 'Idempotent-Replayed';

const integerHeader = (description: string): Json => ({ type: 'integer', description });
const HEADERS: Record<HeaderName, Json> = {
  'X-Request-Id': {
    type: 'string',
    description: "The caller's X-Request-Id (or X-Correlation-ID) when it is 1-128 visible ASCII characters, a fresh id otherwise",
  },
  'RateLimit-Limit': integerHeader('Requests this client IP may make per window on this route'),
  'RateLimit-Remaining': integerHeader('Requests left in the current window'),
  'RateLimit-Reset': integerHeader('Seconds until the window starts again'),
  'Retry-After': integerHeader('Seconds to wait before trying again'),
  'Idempotent-Replayed': {
    type: 'string',
    enum: ['true'],
    description: 'Sent when this is the stored answer to an earlier request with the same Idempotency-Key',
  },
  ETag: { type: 'string', description: "The event's version; send it in If-Match to change the event only if it is unchanged" },
  Location: { type: 'string', description: 'URL of the created resource' },
};

const RATE_LIMIT_HEADERS: HeaderName[] = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'];
/**
 * The answers of an idempotent route that are stored and replayed (bookings/idempotency.ts): not
 * 400 (input), 401, 413, 415, 429 (all refused before the key is claimed), nor 5xx (released).
 */
const REPLAYED = new Set([200, 201, 403, 404, 409, 410, 422]);
/** /health answers without asking anything; every other documented route reads MongoDB. */
const NEEDS_DATABASE = (url: string) => url.startsWith('/api/') || url === '/health/ready';
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const isJson = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

interface RouteFacts {
  url: string;
  idempotent: boolean;
  readsBody: boolean;
  routeHeaders: NonNullable<FastifySchema['responseHeaders']>;
  mediaTypes: NonNullable<FastifySchema['responseMediaTypes']>;
}

function headersFor(status: number, facts: RouteFacts): Json {
  const names: HeaderName[] = ['X-Request-Id'];
  if (status < 300 || status === 429) names.push(...RATE_LIMIT_HEADERS);
  // 409 IDEMPOTENCY_REQUEST_IN_PROGRESS carries Retry-After; 429 and 503 always do.
  if (status === 429 || status === 503 || (status === 409 && facts.idempotent)) names.push('Retry-After');
  if (facts.idempotent && REPLAYED.has(status)) names.push('Idempotent-Replayed');
  names.push(...(facts.routeHeaders[status] ?? []));
  const headers: Json = Object.fromEntries(names.map((name) => [name, { ...HEADERS[name] }]));
  if (status === 409 && facts.idempotent) {
    headers['Retry-After'] = integerHeader('With IDEMPOTENCY_REQUEST_IN_PROGRESS only: seconds before the repeat may be sent again');
  }
  return headers;
}

/**
 * One response in the shape @fastify/swagger takes as it is: `content` keyed by media type, and
 * `headers`. A `type: 'null'` entry is a response without a body (204).
 */
function documentResponse(status: number, body: Json | undefined, facts: RouteFacts): Json {
  const description = (typeof body?.description === 'string' && body.description) || STATUS_CODES[status] || 'Answer';
  const headers = headersFor(status, facts);
  if (status === 204 || body === undefined) return { type: 'null', description, headers };
  const binary = facts.mediaTypes[status];
  if (binary) {
    return { description, headers, content: Object.fromEntries(binary.map((t) => [t, { schema: { type: 'string', format: 'binary' } }])) };
  }
  const mediaType = status >= 400 ? PROBLEM_JSON : JSON_TYPE;
  return { description, headers, content: { [mediaType]: { schema: body } } };
}

/** The extra statuses every route of its kind can answer, whatever its own schema lists. */
function addedStatuses(facts: RouteFacts): number[] {
  return [
    429,
    ...(facts.readsBody ? [413, 415] : []),
    ...(NEEDS_DATABASE(facts.url) ? [503] : []),
  ];
}

/**
 * The idempotency plugin answers a missing or empty key with 400 IDEMPOTENCY_KEY_REQUIRED (API.md
 * Idempotency), so the route's header schema must let a missing key through validation, which
 * would answer a generic VALIDATION_FAILED first. The document still says what the API requires.
 */
function requireIdempotencyKey(headers: unknown): unknown {
  if (!isJson(headers)) return headers;
  const required = Array.isArray(headers.required) ? headers.required : [];
  return { ...headers, required: [...new Set([...required, 'idempotency-key'])] };
}

const transform: SwaggerTransform = (input) => {
  const converted = jsonSchemaTransform(input);
  // A route without any schema is documented too (as answering 200 and the statuses every route can).
  const schema = (converted.schema ?? {}) as FastifySchema & Json;
  if (schema.hide) return converted;

  const route: RouteOptions = input.route;
  const { responseHeaders, responseMediaTypes, ...documented } = schema;
  const facts: RouteFacts = {
    url: converted.url,
    idempotent: route.config?.idempotent === true || route.config?.idempotent === 'optional',
    readsBody: documented.body !== undefined && [route.method].flat().some((m) => BODY_METHODS.has(m)),
    routeHeaders: responseHeaders ?? {},
    mediaTypes: responseMediaTypes ?? {},
  };

  const own = isJson(documented.response) ? documented.response : {};
  const responses: Json = {};
  const statuses = new Set([...Object.keys(own).map(Number), ...addedStatuses(facts)]);
  // A route without any documented success still gets one, so the extra statuses do not stand alone.
  if (![...statuses].some((s) => s < 300)) statuses.add(200);
  for (const status of [...statuses].sort((a, b) => a - b)) {
    const body = own[status];
    const fallback = status >= 400 ? GENERIC_PROBLEM : undefined;
    responses[status] = documentResponse(status, isJson(body) ? body : fallback, facts);
  }

  // A route that honours the key only when sent ('optional') documents it as optional.
  const headers = route.config?.idempotent === true ? requireIdempotencyKey(documented.headers) : documented.headers;
  return { url: converted.url, schema: { ...documented, headers, response: responses } };
};

/**
 * @fastify/swagger marks every request body `required`. A body schema that accepts null (routes
 * that take none or an optional one: logout, publish, confirm, ...) may be left out entirely.
 */
const transformObject: SwaggerTransformObject = (input) => {
  const document = 'openapiObject' in input ? input.openapiObject : input.swaggerObject;
  for (const pathItem of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(pathItem ?? {})) {
      if (!isJson(operation) || !isJson(operation.requestBody)) continue;
      const content = operation.requestBody.content;
      const media = isJson(content) ? content[JSON_TYPE] : undefined;
      if (isJson(media) && isJson(media.schema) && media.schema.nullable === true) operation.requestBody.required = false;
    }
  }
  return document;
};

async function docs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Ticketing API',
        description: 'Sells tickets without overselling; every purchase is safe to retry with an Idempotency-Key.',
        version: '1.0.0',
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    transform,
    transformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

export default fp(docs, { name: 'docs' });
