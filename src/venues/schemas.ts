import { z } from 'zod';
import { pagination, safeText } from '../lib/http.js';
import { normalizePlan, PLAN_ID, type Plan } from './plan.js';

/**
 * Input and output shapes of the venue routes (API.md Venues). The structural limits are zod's;
 * the rules over the whole plan (unique ids and labels, the seat total, default ids) run in
 * plan.ts as the last step of validation, so every broken rule is a 400 VALIDATION_FAILED naming
 * its path, and a handler only ever sees a complete plan with every id filled in.
 */

/**
 * A venue's plan is the biggest body the API takes: 20,000 seats with 64-character ids come to
 * about 1.9 MB, far past the app-wide 64 KiB (app.ts), so the two routes that take one allow 2 MiB.
 */
export const PLAN_BODY_LIMIT_BYTES = 2 * 1024 * 1024;

export const MAX_SECTIONS = 100;
export const MAX_ROWS_PER_SECTION = 500;
export const MAX_SEATS_PER_ROW = 500;

const planId = z.string().regex(PLAN_ID, 'must be 1-64 letters, digits, "_", ".", ":" or "-"');
/** Row and seat labels as printed on a ticket ("A", "12", "Box 3"). */
const label = safeText(1, 32);

const seatInput = z.object({ id: planId.optional(), label }).strict();
const rowInput = z.object({ label, seats: z.array(seatInput).min(1).max(MAX_SEATS_PER_ROW) }).strict();
const sectionInput = z
  .object({ id: planId.optional(), name: safeText(1, 100), rows: z.array(rowInput).min(1).max(MAX_ROWS_PER_SECTION) })
  .strict();

/** The whole plan, checked as one (plan.ts) and turned into what is stored, with its capacity. */
const sectionsInput = z
  .array(sectionInput)
  .min(1)
  .max(MAX_SECTIONS)
  .transform((sections, ctx): Plan => {
    const result = normalizePlan(sections);
    if (result.ok) return result.plan;
    for (const problem of result.problems) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message, input: sections });
    return z.NEVER;
  });

const venueName = safeText(1, 200);
const address = safeText(0, 500);

export const createVenueBody = z.object({ name: venueName, address: address.optional(), sections: sectionsInput }).strict();
export type CreateVenueInput = z.output<typeof createVenueBody>;

/** `sections`, when sent, replaces the whole plan. */
export const updateVenueBody = z
  .object({ name: venueName, address, sections: sectionsInput })
  .partial()
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'send at least one field to change' });
export type UpdateVenueInput = z.output<typeof updateVenueBody>;

export const listVenuesQuery = z.object({ ...pagination }).strict();

const seatSchema = z.object({ id: z.string(), label: z.string() });
const rowSchema = z.object({ label: z.string(), seats: z.array(seatSchema) });
const sectionSchema = z.object({ id: z.string(), name: z.string(), rows: z.array(rowSchema) });

export const venueSchema = z.object({
  id: z.string(),
  name: z.string(),
  address: z.string(),
  sections: z.array(sectionSchema),
  /** Derived: the number of seats in `sections`. */
  capacity: z.number().int(),
  organizerId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type VenueDto = z.infer<typeof venueSchema>;
