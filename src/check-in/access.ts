import { Types } from 'mongoose';
import { type Actor, assertManageable, assertVisible, canManage } from '../events/access.js';
import { BatchedReads, readerFor } from '../lib/batched-reads.js';
import { forbidden, notFound } from '../lib/errors.js';
import type { Models } from '../models.js';

export type CheckInModels = Pick<Models, 'Event' | 'Booking' | 'EventStaff' | 'User'>;

export interface DoorEvent {
  _id: Types.ObjectId;
  status: 'draft' | 'published' | 'cancelled';
  organizerId: string;
}

// Every scan at the door checks the event and (for staff) the staff list: under load, the scans
// of one turn share one query each (lib/batched-reads.ts), read after each of them arrived.
const HEX_ID = /^[a-f0-9]{24}$/i;
const eventReaders = new WeakMap<CheckInModels['Event'], BatchedReads<DoorEvent>>();
const staffReaders = new WeakMap<CheckInModels['EventStaff'], BatchedReads<true>>();

async function loadEvent(models: CheckInModels, eventId: string): Promise<DoorEvent> {
  const reader = readerFor(eventReaders, models.Event, async (ids) => {
    // An id that is not one (a route that did not check it) finds nothing, and never fails the others' query.
    const docs = await models.Event.find({ _id: { $in: ids.filter((id) => HEX_ID.test(id)) } }, { status: 1, organizerId: 1 }).lean();
    const found = docs.map((doc): DoorEvent => ({ _id: doc._id, status: doc.status as DoorEvent['status'], organizerId: String(doc.organizerId) }));
    return new Map(found.map((event) => [String(event._id), event]));
  });
  const event = await reader.read(eventId.toLowerCase());
  if (!event) throw notFound('Event');
  return event;
}

const staffKey = (eventId: string, userId: string) => `${eventId}:${userId}`;

export async function isStaff(models: CheckInModels, eventId: Types.ObjectId, userId: string): Promise<boolean> {
  const reader = readerFor(staffReaders, models.EventStaff, async (keys) => {
    const pairs = keys.map((key) => key.split(':') as [string, string]);
    // Both lists in one indexed query; a row pairing one key's event with another key's user is
    // simply not asked for.
    const rows = await models.EventStaff.find(
      { eventId: { $in: pairs.map(([event]) => new Types.ObjectId(event)) }, userId: { $in: pairs.map(([, user]) => new Types.ObjectId(user)) } },
      { eventId: 1, userId: 1 },
    ).lean();
    return new Map(rows.map((row) => [staffKey(String(row.eventId), String(row.userId)), true as const]));
  });
  return (await reader.read(staffKey(String(eventId), userId))) === true;
}

/**
 * The door: its organizer, its staff and admins may scan and read the check-in key. Anyone else
 * gets 404 while the event is invisible to them (a draft), 403 once it is visible (API.md
 * Conventions): a customer, another event's organizer, another event's staff alike.
 */
export async function assertDoorAccess(models: CheckInModels, actor: Actor, eventId: string): Promise<DoorEvent> {
  const event = await loadEvent(models, eventId);
  if (canManage(actor, event)) return event;
  if (await isStaff(models, event._id, actor.userId)) return event;
  assertVisible(actor, event);
  throw forbidden("Only the event's organizer, its staff or an admin may check tickets in");
}

/** Managing the staff list: the event's organizer and admins only. */
export async function assertStaffManager(models: CheckInModels, actor: Actor, eventId: string): Promise<DoorEvent> {
  const event = await loadEvent(models, eventId);
  assertManageable(actor, event);
  return event;
}
