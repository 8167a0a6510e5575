import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export interface StoreState {
  counts: { users: number; sessions: number; events: number; bookings: number };
  /** A digest of every stored document of the four collections: any change to any field shows. */
  digest: string;
}

/**
 * What the database holds right now, read through the app's own models. Tests take it before and
 * after a refused request to show that the refusal changed nothing.
 */
export async function storeState(app: FastifyInstance): Promise<StoreState> {
  const { User, Session, Event, Booking } = app.models;
  const [users, sessions, events, bookings] = await Promise.all([
    User.find({}).sort({ _id: 1 }).lean(),
    Session.find({}).sort({ _id: 1 }).lean(),
    Event.find({}).sort({ _id: 1 }).lean(),
    Booking.find({}).sort({ _id: 1 }).lean(),
  ]);
  const digest = createHash('sha256').update(JSON.stringify([users, sessions, events, bookings])).digest('hex');
  return {
    counts: { users: users.length, sessions: sessions.length, events: events.length, bookings: bookings.length },
    digest,
  };
}
