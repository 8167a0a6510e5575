import type { FastifyInstance } from 'fastify';
import type { Role } from '../auth/user.model.js';
import { forbidden, notFound } from '../lib/errors.js';
import type { EventStatus } from './event.model.js';

/** What event services need from the app; a plain object in service tests. */
export type EventDeps = Pick<FastifyInstance, 'models' | 'db' | 'clock' | 'kv' | 'log' | 'config' | 'outbox' | 'payments'>;

/** The authenticated caller, if any. */
export interface Actor {
  userId: string;
  role: Role;
}

interface Owned {
  status: EventStatus;
  organizerId: string;
}

export function canManage(actor: Actor | undefined, event: Owned): boolean {
  if (!actor) return false;
  return actor.role === 'admin' || (actor.role === 'organizer' && actor.userId === event.organizerId);
}

/** Drafts exist only for their organizer and admins; to anyone else they are 404 (API.md Conventions). */
export function assertVisible(actor: Actor | undefined, event: Owned): void {
  if (event.status === 'draft' && !canManage(actor, event)) throw notFound('Event');
}

/** Managing another organizer's event: 404 while they cannot see it, 403 once they can. */
export function assertManageable(actor: Actor | undefined, event: Owned): void {
  assertVisible(actor, event);
  if (!canManage(actor, event)) throw forbidden("Only the event's organizer or an admin may do this");
}
