import { z } from 'zod';
import { objectId, pagination } from '../lib/http.js';
import { ticketSchema } from '../tickets/schemas.js';
import type { ScanResult } from './service.js';

// A code is ~270 characters; anything far longer is not one of ours.
export const MAX_CODE_LENGTH = 1024;
const code = z.string().min(1).max(MAX_CODE_LENGTH).describe('The signed ticket code, as read from the QR image');
const scannedAt = z.iso
  .datetime({ offset: true })
  .transform((s) => new Date(s))
  .describe('When the scanner read the code (ISO 8601); at most 5 minutes ahead of the server clock');

export const MAX_BATCH_SCANS = 500;
/**
 * The batch route's own body limit: 500 scans of ~270-character codes are ~170 KiB, past the
 * API's 64 KiB default, so this one route allows what its largest valid body needs.
 */
export const BATCH_BODY_LIMIT_BYTES = MAX_BATCH_SCANS * (MAX_CODE_LENGTH + 128);

export const checkInBody = z.object({ code, scannedAt: scannedAt.optional() }).strict();
export const batchBody = z
  .object({ scans: z.array(z.object({ code, scannedAt }).strict()).min(1).max(MAX_BATCH_SCANS) })
  .strict();

// Loose: the validated object replaces request.headers, so every other header must pass through.
export const optionalIdempotencyHeader = z.looseObject({
  'idempotency-key': z
    .string()
    .optional()
    .describe(
      'Optional. When sent (up to 255 visible ASCII characters), a repeat of the same request answers ' +
        'the first answer again with Idempotent-Replayed: true; the same key with another body is 422.',
    ),
});

export const staffBody = z.object({ userId: objectId }).strict();
export const staffParams = z.object({ id: objectId, userId: objectId }).strict();
export const staffListQuery = z.object(pagination).strict();

export const checkInAnswer = z.object({ ticket: ticketSchema, checkedInAt: z.string() });

export const scanResultSchema = z.object({
  index: z.number().int().describe('Position of the scan in the request'),
  status: z.number().int().describe('What the single check-in would have answered: 200, 409, 410 or 422'),
  code: z.string().nullable().describe('null on 200; ALREADY_CHECKED_IN, TICKET_VOID, WRONG_EVENT or INVALID_TICKET_CODE'),
  detail: z.string().nullable(),
  ticketId: z.string().nullable(),
  checkedInAt: z.string().nullable().describe("The ticket's recorded (earliest) check-in time"),
  ticket: ticketSchema.nullable(),
});
export const batchAnswer = z.object({ results: z.array(scanResultSchema) });

export const checkInKeyAnswer = z.object({
  alg: z.literal('EdDSA'),
  publicKey: z
    .object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string(), alg: z.string(), use: z.string() })
    .describe('The JWK that signs new codes'),
  keys: z
    .array(z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string(), alg: z.string(), use: z.string() }))
    .describe('Every key whose codes are still valid (after a rotation, older keys follow the current one); pick by the code\'s kid'),
});

export const statsAnswer = z.object({
  checkedIn: z.number().int(),
  tickets: z.number().int(),
  byTicketType: z.array(z.object({ ticketTypeId: z.string().nullable(), checkedIn: z.number().int(), tickets: z.number().int() })),
});

export const staffMemberSchema = z.object({
  eventId: z.string(),
  userId: z.string(),
  user: z.object({ id: z.string(), email: z.string(), name: z.string() }),
  addedBy: z.string(),
  createdAt: z.string(),
});

export const toScanResultView = (r: ScanResult) => ({
  ...r,
  checkedInAt: r.checkedInAt ? r.checkedInAt.toISOString() : null,
});
