import { nanoid } from 'nanoid';
import type { SectionFields } from './venue.model.js';

/**
 * Seating plans as plain data: filling in the ids a client left out, the uniqueness rules of
 * API.md Venues, and how two plans of one venue differ. No I/O, so the rules are easy to test and
 * the zod schema (schemas.ts) can run them as part of validation.
 */

/** Every venue holds at most this many seats (the 2 MiB body limit of the venue routes fits it). */
export const MAX_SEATS = 20_000;
/** Ids a client may choose for a section or a seat: short, and safe in a URL or a header. */
export const PLAN_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
/** One answer names at most this many problems of a plan; a plan that breaks more is fixed in rounds. */
export const MAX_PLAN_PROBLEMS = 100;

export interface SeatInput {
  id?: string;
  label: string;
}
export interface RowInput {
  label: string;
  seats: SeatInput[];
}
export interface SectionInput {
  id?: string;
  name: string;
  rows: RowInput[];
}

/** Where in the `sections` array a problem is, and what it is. */
export interface PlanProblem {
  path: (string | number)[];
  message: string;
}

export interface Plan {
  sections: SectionFields[];
  capacity: number;
}

export type PlanResult = { ok: true; plan: Plan } | { ok: false; problems: PlanProblem[] };

const seatCount = (sections: readonly { rows: readonly { seats: readonly unknown[] }[] }[]) =>
  sections.reduce((sum, s) => sum + s.rows.reduce((n, r) => n + r.seats.length, 0), 0);

const where = (path: (string | number)[]) => ['sections', ...path].join('.');

/**
 * The stored plan for what a client sent: every section and seat gets an id, and the plan is
 * checked as a whole. A section without an id gets a fresh random one (`newSectionId`); a seat
 * without one gets `<sectionId>-<rowLabel>-<seatLabel>`, which must then be a valid id and unique
 * like any other. Order is kept exactly: it is the physical layout (API.md Venues).
 */
export function normalizePlan(input: readonly SectionInput[], newSectionId: () => string = () => nanoid(8)): PlanResult {
  const capacity = seatCount(input);
  // Checked first: the per-seat rules would only repeat themselves over a plan this size.
  if (capacity > MAX_SEATS) return { ok: false, problems: [{ path: [], message: `holds ${capacity} seats; a venue holds at most ${MAX_SEATS}` }] };

  const problems: PlanProblem[] = [];
  const report = (path: (string | number)[], message: string) => {
    if (problems.length < MAX_PLAN_PROBLEMS) problems.push({ path, message });
  };

  // Section ids: the given ones first, so a generated id can never take one a client chose.
  const sectionAt = new Map<string, number>();
  input.forEach((section, i) => {
    if (section.id === undefined) return;
    const first = sectionAt.get(section.id);
    if (first !== undefined) report([i, 'id'], `duplicates the id of ${where([first])}`);
    else sectionAt.set(section.id, i);
  });
  const sectionIds = input.map((section) => {
    if (section.id !== undefined) return section.id;
    let id = newSectionId();
    while (sectionAt.has(id)) id = newSectionId();
    sectionAt.set(id, -1);
    return id;
  });

  // Seat ids are unique across the whole venue; the value is where the id was first seen.
  const seatAt = new Map<string, (string | number)[]>();
  const sections: SectionFields[] = input.map((section, i) => {
    const sectionId = sectionIds[i] as string;
    const rowAt = new Map<string, number>();
    const rows = section.rows.map((row, j) => {
      const firstRow = rowAt.get(row.label);
      if (firstRow !== undefined) report([i, 'rows', j, 'label'], `repeats the label of ${where([i, 'rows', firstRow])}`);
      else rowAt.set(row.label, j);

      const labelAt = new Map<string, number>();
      const seats = row.seats.map((seat, k) => {
        const path = [i, 'rows', j, 'seats', k];
        const firstLabel = labelAt.get(seat.label);
        if (firstLabel !== undefined) report([...path, 'label'], `repeats the label of ${where([i, 'rows', j, 'seats', firstLabel])}`);
        else labelAt.set(seat.label, k);

        const id = seat.id ?? `${sectionId}-${row.label}-${seat.label}`;
        if (seat.id === undefined && !PLAN_ID.test(id)) {
          report([...path, 'id'], `is needed: the default id "${id}" is not 1-64 letters, digits, "_", ".", ":" or "-"`);
        }
        const firstSeat = seatAt.get(id);
        if (firstSeat) report([...path, 'id'], `"${id}" is already the id of ${where(firstSeat)}`);
        else seatAt.set(id, path);
        return { id, label: seat.label };
      });
      return { label: row.label, seats };
    });
    return { id: sectionId, name: section.name, rows };
  });

  return problems.length > 0 ? { ok: false, problems } : { ok: true, plan: { sections, capacity } };
}

/** Each seat id of a plan with the id of its section. */
function sectionOfSeat(sections: readonly SectionFields[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const section of sections) for (const row of section.rows) for (const seat of row.seats) map.set(seat.id, section.id);
  return map;
}

/** How a new plan differs from the stored one, in what matters for events already using it. */
export interface PlanChange {
  /** Seats of the old plan missing from the new one, or moved to another section, in plan order. */
  lost: string[];
  /** Whether the new plan has a seat id the old one lacked. */
  gained: boolean;
}

export function comparePlans(before: readonly SectionFields[], after: readonly SectionFields[]): PlanChange {
  const old = sectionOfSeat(before);
  const next = sectionOfSeat(after);
  const lost = [...old].filter(([seatId, sectionId]) => next.get(seatId) !== sectionId).map(([seatId]) => seatId);
  const gained = [...next.keys()].some((seatId) => !old.has(seatId));
  return { lost, gained };
}
