import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';

/** Success envelope of API.md Conventions. */
export const ok = <T>(data: T) => ({ success: true as const, data });

export interface PageMeta {
  page: number;
  limit: number;
  total: number;
  totalPages: number;
}

export const paged = <T>(data: T[], page: number, limit: number, total: number) => ({
  success: true as const,
  data,
  meta: { page, limit, total, totalPages: Math.ceil(total / limit) } satisfies PageMeta,
});

export const envelope = <T extends z.ZodType>(data: T) => z.object({ success: z.literal(true), data });

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * An answer serialized ahead of time, exactly as the zod type provider serializes a route's
 * response (the schema validates and strips unknown keys, then JSON.stringify), for answers that
 * are cached and sent as ready strings. Fastify does not serialize a string again, so what leaves
 * the service is still only what the schema lets through.
 */
export function serializeAnswer<T extends z.ZodType>(schema: T, value: z.input<T>): string {
  const result = schema.safeParse(value);
  if (!result.success) throw new Error(`answer does not match its response schema: ${result.error.message}`);
  return JSON.stringify(result.data);
}

/** Sends an answer of serializeAnswer as it is. */
export const sendSerialized = (reply: FastifyReply, body: string): FastifyReply =>
  reply.type(JSON_CONTENT_TYPE).send(body);
export const pagedEnvelope = <T extends z.ZodType>(item: T) =>
  z.object({
    success: z.literal(true),
    data: z.array(item),
    meta: z.object({ page: z.number(), limit: z.number(), total: z.number(), totalPages: z.number() }),
  });

export const objectId = z.string().regex(/^[a-f0-9]{24}$/i, 'must be a 24-character hexadecimal id');
export const idParams = z.object({ id: objectId }).strict();

/** A route option that holds one hook or several (onRoute hooks append to these). */
export const hooksOf = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** What a route without query parameters accepts: none. */
export const noQuery = z.object({}).strict();

/**
 * Unknown query parameters are refused (400 VALIDATION_FAILED naming each one), as unknown body
 * fields are (API.md Conventions), so a misspelt filter never silently lists everything. Routes with
 * parameters declare strict schemas; this gives every other route of the scope it is called in `noQuery`.
 */
export function refuseUnknownQueryParameters(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.schema?.querystring) return;
    route.schema = { ...route.schema, querystring: noQuery };
  });
}

/** Response headers a route sends on some answers of its own (the rest plugins/docs.ts knows). */
export type RouteResponseHeader = 'ETag' | 'Location';

declare module 'fastify' {
  interface FastifySchema {
    /** For the OpenAPI document only (plugins/docs.ts): the headers each status of the route carries. */
    responseHeaders?: Readonly<Partial<Record<number, readonly RouteResponseHeader[]>>>;
    /** For the OpenAPI document only: statuses whose body is not JSON, with the media types sent. */
    responseMediaTypes?: Readonly<Partial<Record<number, readonly string[]>>>;
  }
}

export const pagination = {
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  limit: z.coerce.number().int().min(1).max(100).default(20),
};

/** Problem+json documented for OpenAPI; the body itself is built by plugins/errors.ts. */
export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
  code: z.string(),
  requestId: z.string(),
  success: z.literal(false),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

// Lone UTF-16 surrogates cannot be stored as UTF-8 (they turn into U+FFFD), so what we answered
// and what we stored would differ; control characters have no business in names and prose.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

export const isWellFormedText = (s: string): boolean => !LONE_SURROGATE.test(s);
export const hasNoControlCharacters = (s: string): boolean => !CONTROL_CHARACTER.test(s);

/** Free text (names, venues, descriptions): well-formed Unicode without control characters. */
export const safeText = (min: number, max: number) =>
  z
    .string()
    .trim()
    .min(min)
    .max(max)
    .refine(isWellFormedText, 'must not contain unpaired UTF-16 surrogates')
    .refine(hasNoControlCharacters, 'must not contain control characters');
