import { MongoServerError } from 'mongodb';
import { Types } from 'mongoose';
import type { Actor } from '../events/access.js';
import { notFound } from '../lib/errors.js';
import { assertStaffManager, type CheckInModels } from './access.js';
import type { EventStaffFields } from './staff.model.js';

export interface StaffMember {
  eventId: string;
  userId: string;
  user: { id: string; email: string; name: string };
  addedBy: string;
  createdAt: Date;
}

async function describe(models: CheckInModels, record: EventStaffFields): Promise<StaffMember> {
  const user = await models.User.findById(record.userId, { email: 1, name: 1 }).lean();
  return {
    eventId: String(record.eventId),
    userId: String(record.userId),
    user: { id: String(record.userId), email: user?.email ?? '', name: user?.name ?? '' },
    addedBy: String(record.addedBy),
    createdAt: record.createdAt,
  };
}

/**
 * Adds a user as staff of the event. Adding someone who already is changes nothing and answers
 * the existing record (`created: false`), so a retried request is harmless.
 */
export async function addStaff(
  models: CheckInModels,
  actor: Actor,
  eventId: string,
  userId: string,
  now: Date,
): Promise<{ member: StaffMember; created: boolean }> {
  const event = await assertStaffManager(models, actor, eventId);
  const user = await models.User.exists({ _id: userId });
  if (!user) throw notFound('User');
  const key = { eventId: event._id, userId: new Types.ObjectId(userId) };
  try {
    const record = await models.EventStaff.create({ ...key, addedBy: new Types.ObjectId(actor.userId), createdAt: now });
    return { member: await describe(models, record.toObject()), created: true };
  } catch (err) {
    if (!(err instanceof MongoServerError) || err.code !== 11000) throw err;
    const existing = await models.EventStaff.findOne(key).lean<EventStaffFields>();
    if (!existing) throw err;
    return { member: await describe(models, existing), created: false };
  }
}

/** Removes a user from the event's staff; 404 when they are not on it. */
export async function removeStaff(models: CheckInModels, actor: Actor, eventId: string, userId: string): Promise<void> {
  const event = await assertStaffManager(models, actor, eventId);
  const { deletedCount } = await models.EventStaff.deleteOne({ eventId: event._id, userId: new Types.ObjectId(userId) });
  if (deletedCount === 0) throw notFound('Staff member');
}

/** The event's staff, oldest first, a page at a time. */
export async function listStaff(
  models: CheckInModels,
  actor: Actor,
  eventId: string,
  page: { page: number; limit: number },
): Promise<{ items: StaffMember[]; total: number }> {
  const event = await assertStaffManager(models, actor, eventId);
  const [records, total] = await Promise.all([
    models.EventStaff.find({ eventId: event._id })
      .sort({ createdAt: 1, _id: 1 })
      .skip((page.page - 1) * page.limit)
      .limit(page.limit)
      .lean<EventStaffFields[]>(),
    models.EventStaff.countDocuments({ eventId: event._id }),
  ]);
  const users = await models.User.find({ _id: { $in: records.map((r) => r.userId) } }, { email: 1, name: 1 }).lean();
  const byId = new Map(users.map((u) => [String(u._id), u]));
  const items = records.map((r) => {
    const user = byId.get(String(r.userId));
    return {
      eventId: String(r.eventId),
      userId: String(r.userId),
      user: { id: String(r.userId), email: user?.email ?? '', name: user?.name ?? '' },
      addedBy: String(r.addedBy),
      createdAt: r.createdAt,
    };
  });
  return { items, total };
}
