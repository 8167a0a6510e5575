import type { FastifyInstance } from 'fastify';
import { Types } from 'mongoose';
import type { Actor } from '../events/access.js';
import { AppError, forbidden, notFound, serviceUnavailable } from '../lib/errors.js';
import { comparePlans } from './plan.js';
import type { CreateVenueInput, UpdateVenueInput, VenueDto } from './schemas.js';
import type { VenueFields } from './venue.model.js';

/** What the venue services need from the app; a plain object in service tests. */
export type VenueDeps = Pick<FastifyInstance, 'models' | 'log' | 'clock'> & {
  /**
   * Told after a change of a venue's seat set is stored: seats added, or (on a venue no published
   * event uses) removed; app.ts wires it to re-count the capacity of the events seated there, drafts
   * included. A failure is logged, not answered: the change itself is done.
   */
  venueChanged(venueId: string): Promise<void>;
};

type StoredVenue = VenueFields & { revision?: number; createdAt?: Date; updatedAt?: Date };

const iso = (d: Date | undefined) => (d ? new Date(d).toISOString() : '');

export function toVenueDto(v: StoredVenue): VenueDto {
  return {
    id: String(v._id),
    name: v.name,
    address: v.address ?? '',
    sections: v.sections.map((s) => ({
      id: s.id,
      name: s.name,
      rows: s.rows.map((r) => ({ label: r.label, seats: r.seats.map((seat) => ({ id: seat.id, label: seat.label })) })),
    })),
    capacity: v.capacity,
    organizerId: String(v.organizerId),
    createdAt: iso(v.createdAt),
    updatedAt: iso(v.updatedAt ?? v.createdAt),
  };
}

/*
 * Both writes of a plan go through the driver, not Mongoose documents: the plan has already been
 * checked whole by its schema (schemas.ts, plan.ts) and is built here field by field, and
 * Mongoose's per-subdocument casting and validation of a 20,000-seat plan took seconds (about 3 s
 * to create one through Venue.create on the test machine, against about 0.2 s through the driver).
 */

export async function createVenue(deps: VenueDeps, actor: Actor, input: CreateVenueInput): Promise<VenueDto> {
  const now = deps.clock.now();
  const doc: StoredVenue = {
    _id: new Types.ObjectId(),
    name: input.name,
    address: input.address ?? '',
    sections: input.sections.sections,
    capacity: input.sections.capacity,
    organizerId: new Types.ObjectId(actor.userId),
    revision: 0,
    createdAt: now,
    updatedAt: now,
  };
  await deps.models.Venue.collection.insertOne(doc);
  return toVenueDto(doc);
}

/** Newest first; `_id` breaks ties so pages never overlap (the index of venue.model.ts). */
export async function listVenues(deps: VenueDeps, page: number, limit: number): Promise<{ items: VenueDto[]; total: number }> {
  const [venues, total] = await Promise.all([
    deps.models.Venue.find()
      .sort({ createdAt: -1, _id: -1 })
      .skip((page - 1) * limit)
      .limit(limit)
      .lean<StoredVenue[]>(),
    deps.models.Venue.countDocuments(),
  ]);
  return { items: venues.map(toVenueDto), total };
}

export async function getVenue(deps: VenueDeps, venueId: string): Promise<VenueDto> {
  const venue = await deps.models.Venue.findById(venueId).lean<StoredVenue>();
  if (!venue) throw notFound('Venue');
  return toVenueDto(venue);
}

/** Venues are public, so another organizer's venue is a 403, not hidden behind a 404. */
function assertManageable(actor: Actor, venue: StoredVenue): void {
  if (actor.role === 'admin' || String(venue.organizerId) === actor.userId) return;
  throw forbidden("Only the venue's organizer or an admin may change it");
}

const seatsInUse = (seats: string[]) =>
  new AppError(409, 'SEATS_IN_USE', 'A published event uses this venue: its plan may gain seats but not lose or move any', {
    extra: { seats },
  });

/** Another change landed between our read and our write this many times in a row: give up (503). */
const MAX_ATTEMPTS = 5;

/**
 * Changes a venue. While a published event uses it, the plan may only grow: a seat that is
 * missing from the new plan or sits in another section there is 409 SEATS_IN_USE naming it, and
 * nothing changes (tickets may already name that seat). The write is conditional on the revision
 * that was read, so the check always holds for the plan it replaces; a lost race is re-decided.
 */
export async function updateVenue(deps: VenueDeps, venueId: string, actor: Actor, input: UpdateVenueInput): Promise<VenueDto> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const venue = await deps.models.Venue.findById(venueId).lean<StoredVenue>();
    if (!venue) throw notFound('Venue');
    assertManageable(actor, venue);

    const set: Record<string, unknown> = { updatedAt: deps.clock.now() };
    if (input.name !== undefined) set.name = input.name;
    if (input.address !== undefined) set.address = input.address;
    let seatsChanged = false;
    if (input.sections !== undefined) {
      const change = comparePlans(venue.sections, input.sections.sections);
      if (change.lost.length > 0 && (await usedByPublishedEvent(deps, venue._id))) throw seatsInUse(change.lost);
      seatsChanged = change.gained || change.lost.length > 0;
      set.sections = input.sections.sections;
      set.capacity = input.sections.capacity;
    }

    const revision = venue.revision ?? 0;
    const updated = await deps.models.Venue.collection.findOneAndUpdate(
      { _id: venue._id, revision },
      { $set: { ...set, revision: revision + 1 } },
      { returnDocument: 'after' },
    );
    if (!updated) continue;

    if (seatsChanged) await notifyChanged(deps, venueId);
    // The driver types documents loosely; this one is the venue just written, in the stored shape.
    return toVenueDto(updated as unknown as StoredVenue);
  }
  throw serviceUnavailable('The venue is being changed by someone else right now; retry shortly');
}

/**
 * `venueId` on events comes with seated events; the query does not depend on the event schema
 * declaring it yet (strictQuery off), and the id is passed as an ObjectId so no cast is needed.
 */
async function usedByPublishedEvent(deps: VenueDeps, venueId: Types.ObjectId): Promise<boolean> {
  const found = await deps.models.Event.exists({ venueId, status: 'published' }).setOptions({ strictQuery: false });
  return found !== null;
}

async function notifyChanged(deps: VenueDeps, venueId: string): Promise<void> {
  try {
    await deps.venueChanged(venueId);
  } catch (err) {
    deps.log.error({ err, venueId }, 'venueChanged hook failed after a venue plan change');
  }
}
