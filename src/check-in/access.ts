import { Types } from 'mongoose';
import { type Actor, assertManageable, assertVisible, canManage } from '../events/access.js';
import { forbidden, notFound } from '../lib/errors.js';
import type { Models } from '../models.js';

export type CheckInModels = Pick<Models, 'Event' | 'Booking' | 'EventStaff' | 'User'>;

export interface DoorEvent {
  _id: Types.ObjectId;
  status: 'draft' | 'published' | 'cancelled';
  organizerId: string;
}

async function loadEvent(models: CheckInModels, eventId: string): Promise<DoorEvent> {
  const doc = await models.Event.findById(eventId, { status: 1, organizerId: 1 }).lean();
  if (!doc) throw notFound('Event');
  return { _id: doc._id, status: doc.status as DoorEvent['status'], organizerId: String(doc.organizerId) };
}

export async function isStaff(models: CheckInModels, eventId: Types.ObjectId, userId: string): Promise<boolean> {
  return (await models.EventStaff.exists({ eventId, userId: new Types.ObjectId(userId) })) !== null;
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
