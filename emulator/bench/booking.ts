// The booking-shaped transaction the benchmark measures, shared by the benchmark process and its
// client worker processes: bump the event's conflict counter by _id, count the event's active
// bookings through the {eventId, status} index, insert one booking, commit (withTransaction retries
// WriteConflicts).
import type { Collection, MongoClient, ObjectId } from 'mongodb';

export interface EventDoc {
  _id: ObjectId;
  capacity: number;
  version: number;
}

export interface BookingDoc {
  eventId: ObjectId;
  status: string;
  quantity: number;
}

export interface Booker {
  book(eventId: ObjectId): Promise<void>;
  /** Attempts withTransaction repeated after a transient error (WriteConflict). */
  retries: number;
}

export function booker(client: MongoClient, dbName = 'bench'): Booker {
  const db = client.db(dbName);
  const events: Collection<EventDoc> = db.collection('events');
  const bookings: Collection<BookingDoc> = db.collection('bookings');
  const state: Booker = {
    retries: 0,
    async book(eventId) {
      const session = client.startSession();
      try {
        let attempt = 0;
        await session.withTransaction(async () => {
          if (attempt++ > 0) state.retries++;
          const ev = await events.findOneAndUpdate({ _id: eventId }, { $inc: { version: 1 } }, { session, returnDocument: 'after' });
          if (!ev) throw new Error('event missing');
          const [agg] = await bookings
            .aggregate<{ n: number }>([{ $match: { eventId, status: { $in: ['confirmed', 'pending'] } } }, { $group: { _id: null, n: { $sum: '$quantity' } } }], { session })
            .toArray();
          if ((agg?.n ?? 0) + 1 > ev.capacity) throw new Error('sold out');
          await bookings.insertOne({ eventId, status: 'pending', quantity: 1 }, { session });
        });
      } finally {
        await session.endSession();
      }
    },
  };
  return state;
}
