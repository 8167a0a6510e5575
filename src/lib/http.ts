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
export const pagedEnvelope = <T extends z.ZodType>(item: T) =>
  z.object({
    success: z.literal(true),
    data: z.array(item),
    meta: z.object({ page: z.number(), limit: z.number(), total: z.number(), totalPages: z.number() }),
  });

export const objectId = z.string().regex(/^[a-f0-9]{24}$/i, 'must be a 24-character hexadecimal id');
export const idParams = z.object({ id: objectId }).strict();

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
