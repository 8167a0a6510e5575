import type { Types } from 'mongoose';
import type { EventFields, TicketTypeFields } from '../events/event.model.js';
import type { Models } from '../models.js';
import type { VenueFields } from '../venues/venue.model.js';

/**
 * A seated event's seats as a sale needs them: every seat of the sections its ticket types sell,
 * with its place (section, row, position in the row) and the type it is sold as. Built from the
 * venue's plan and the event's types; decisions about seats are made on it together with the
 * ledger's claims (src/bookings/ledger.ts), in the sales transaction.
 */

export interface PlannedSeat {
  id: string;
  label: string;
  sectionId: string;
  sectionName: string;
  rowLabel: string;
  /** Index of the row within its section: 0 is the best row (nearest the stage). */
  row: number;
  /** Position in the row: seats whose positions differ by one sit side by side. */
  position: number;
  typeId: Types.ObjectId;
}

/** One row of seats of one type, in order of preference, its seats in physical order. */
export interface PlannedRow {
  sectionId: string;
  row: number;
  seats: PlannedSeat[];
}

export interface SeatPlan {
  venueId: string;
  seats: Map<string, PlannedSeat>;
  /** Per type id: its rows, best first (the type's sections in its order, each front to back). */
  rowsByType: Map<string, PlannedRow[]>;
}

type SeatedTypes = Pick<TicketTypeFields, '_id' | 'sectionIds'>[];

/** The plan of an event on this venue. Seats of sections no type sells are not part of the sale. */
export function buildSeatPlan(venue: Pick<VenueFields, '_id' | 'sections'>, types: SeatedTypes): SeatPlan {
  const sections = new Map(venue.sections.map((s) => [s.id, s]));
  const seats = new Map<string, PlannedSeat>();
  const rowsByType = new Map<string, PlannedRow[]>();
  for (const type of types) {
    const rows: PlannedRow[] = [];
    for (const sectionId of type.sectionIds ?? []) {
      const section = sections.get(sectionId);
      if (!section) continue;
      section.rows.forEach((r, row) => {
        const planned = r.seats.map((s, position) => ({
          id: s.id,
          label: s.label,
          sectionId,
          sectionName: section.name,
          rowLabel: r.label,
          row,
          position,
          typeId: type._id,
        }));
        for (const seat of planned) seats.set(seat.id, seat);
        rows.push({ sectionId, row, seats: planned });
      });
    }
    rowsByType.set(String(type._id), rows);
  }
  return { venueId: String(venue._id), seats, rowsByType };
}

/** Seats of the given sections of a venue (what a type covering them may sell). */
export function seatsIn(venue: Pick<VenueFields, 'sections'>, sectionIds: readonly string[]): number {
  const wanted = new Set(sectionIds);
  let n = 0;
  for (const s of venue.sections) if (wanted.has(s.id)) for (const r of s.rows) n += r.seats.length;
  return n;
}

/** Whether the plan has exactly the seats the event's ledger counts per type (the cache is current). */
function matches(plan: SeatPlan, types: Pick<TicketTypeFields, '_id' | 'sectionIds' | 'capacity'>[]): boolean {
  return types.every((t) => {
    const rows = plan.rowsByType.get(String(t._id)) ?? [];
    const n = rows.reduce((sum, r) => sum + r.seats.length, 0);
    return (t.sectionIds ?? []).length === 0 || n === (t.capacity ?? 0);
  });
}

// Venues only gain seats while an event sells them, and a seat never changes section, so a plan read
// once stays right until the venue grows; growth shows as a mismatch with the event's capacities.
// Built plans are kept too, per venue and per the types' sections and capacities, so a sale of a
// 2,000-seat event does not rebuild 2,000 seats every transaction.
interface Known {
  venue: Pick<VenueFields, '_id' | 'sections'>;
  plans: Map<string, SeatPlan>;
}
const venues = new WeakMap<object, Map<string, Known>>();
/** Plans kept per venue (types of its events); a venue's events rarely have more shapes than this. */
const PLANS_PER_VENUE = 32;

type PlanTypes = Pick<TicketTypeFields, '_id' | 'sectionIds' | 'capacity'>[];
const shapeOf = (types: PlanTypes) => types.map((t) => `${String(t._id)}:${(t.sectionIds ?? []).join(',')}:${t.capacity ?? ''}`).join(';');

function planFor(known: Known, types: PlanTypes): SeatPlan {
  const shape = shapeOf(types);
  let plan = known.plans.get(shape);
  if (!plan) {
    plan = buildSeatPlan(known.venue, types);
    if (known.plans.size >= PLANS_PER_VENUE) known.plans.clear();
    known.plans.set(shape, plan);
  }
  return plan;
}

/**
 * The seat plan of a seated event, or null for an unseated one. Reads the venue once per process
 * and again only when its seats no longer match the capacities in the event's snapshot.
 */
export async function loadSeatPlan(
  models: Pick<Models, 'Venue'>,
  event: Pick<EventFields, 'venueId' | 'ticketTypes'>,
): Promise<SeatPlan | null> {
  if (!event.venueId) return null;
  let cache = venues.get(models.Venue);
  if (!cache) venues.set(models.Venue, (cache = new Map()));
  const id = String(event.venueId);
  const cached = cache.get(id);
  if (cached) {
    const plan = planFor(cached, event.ticketTypes);
    if (matches(plan, event.ticketTypes)) return plan;
  }
  const venue = await models.Venue.findById(event.venueId, { sections: 1 }).lean<Pick<VenueFields, '_id' | 'sections'>>();
  if (!venue) return null;
  const known: Known = { venue, plans: new Map() };
  cache.set(id, known);
  return planFor(known, event.ticketTypes);
}
