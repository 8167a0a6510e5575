import type { Connection } from 'mongoose';
import { bookingModel } from './bookings/booking.model.js';
import { eventModel } from './events/event.model.js';
import { sessionModel } from './auth/session.model.js';
import { userModel } from './auth/user.model.js';

/** Every model, bound to one connection (the app owns its connection; no global mongoose state). */
export function createModels(conn: Connection) {
  return {
    User: userModel(conn),
    Session: sessionModel(conn),
    Event: eventModel(conn),
    Booking: bookingModel(conn),
  };
}
export type Models = ReturnType<typeof createModels>;

/** Builds every index the models declare. `npm run db:indexes` in production; on start elsewhere. */
export async function syncIndexes(models: Models): Promise<void> {
  for (const model of Object.values(models)) await model.createIndexes();
}
