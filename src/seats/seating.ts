import type { Types } from 'mongoose';
import type { EventFields, TicketTypeFields } from '../events/event.model.js';
import { AppError } from '../lib/errors.js';
import type { Models } from '../models.js';
import type { VenueFields } from '../venues/venue.model.js';

/**
 * What reserved seating means for an event's own fields (API.md Venues and seats): each ticket type
 * of a seated event sells the seats of the sections it names, no section is sold by two types, a
 * type's capacity is the number of its seats and the event's totalTickets the number of seats all
 * its types offer. These figures are recomputed here whenever types or the venue change, so the
 * sales ledger (src/bookings/ledger.ts) counts seats exactly like tickets.
 */

type Plan = Pick<VenueFields, '_id' | 'sections' | 'capacity'>;
type SeatedType = Pick<TicketTypeFields, '_id' | 'name' | 'sectionIds'>;

const invalid = (path: string, message: string) => new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', { errors: [{ path, message }] });

export async function venueFor(models: Pick<Models, 'Venue'>, venueId: Types.ObjectId | string, path = 'venueId'): Promise<Plan> {
  const venue = await models.Venue.findById(venueId, { sections: 1, capacity: 1 }).lean<Plan>();
  if (!venue) throw invalid(path, 'no venue with this id');
  return venue;
}

/** Checks one type's sections against the venue and the event's other types. */
export function checkSections(venue: Plan, types: SeatedType[], typeId: Types.ObjectId | null, sectionIds: string[]): void {
  if (sectionIds.length === 0) throw invalid('sectionIds', 'a ticket type of a seated event sells at least one section');
  const known = new Set(venue.sections.map((s) => s.id));
  const unknown = sectionIds.filter((id) => !known.has(id));
  if (unknown.length > 0) throw invalid('sectionIds', `not sections of the event's venue: ${unknown.join(', ')}`);
  if (new Set(sectionIds).size !== sectionIds.length) throw invalid('sectionIds', 'each section may appear once');
  for (const other of types) {
    if (typeId && other._id.equals(typeId)) continue;
    const shared = sectionIds.filter((id) => (other.sectionIds ?? []).includes(id));
    if (shared.length > 0) {
      throw new AppError(409, 'INVALID_STATE', `Section ${shared.join(', ')} is already sold as "${other.name}"; a section belongs to one ticket type`);
    }
  }
}

/** Seats of these sections that are sold or held in the claimed snapshot (a section may not be dropped then). */
export function claimedSeatsIn(venue: Plan, event: Pick<EventFields, 'seatClaims'>, sectionIds: string[], now: Date): string[] {
  const inSections = new Set<string>();
  for (const s of venue.sections) if (sectionIds.includes(s.id)) for (const r of s.rows) for (const seat of r.seats) inSections.add(seat.id);
  return (event.seatClaims ?? [])
    .filter((c) => inSections.has(c.seatId) && (c.expiresAt === null || new Date(c.expiresAt).getTime() > now.getTime()))
    .map((c) => c.seatId);
}
