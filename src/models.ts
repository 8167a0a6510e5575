import type { Connection } from 'mongoose';
import { bookingModel } from './bookings/booking.model.js';
import { eventStaffModel } from './check-in/staff.model.js';
import { couponModel } from './coupons/coupon.model.js';
import { eventModel } from './events/event.model.js';
import { paymentJobModel, paymentModel, providerEventModel } from './payments/payment.model.js';
import { loginAttemptModel } from './auth/login-attempt.model.js';
import { sessionModel } from './auth/session.model.js';
import { userModel } from './auth/user.model.js';
import { jobLeaseModel } from './outbox/job-lease.model.js';
import { outboxModel } from './outbox/message.model.js';
import { waitlistEntryModel } from './waitlist/entry.model.js';
import { venueModel } from './venues/venue.model.js';
import { webhookModel } from './webhooks/webhook.model.js';

function compileModels(conn: Connection) {
  return {
    User: userModel(conn),
    Session: sessionModel(conn),
    LoginAttempt: loginAttemptModel(conn),
    Event: eventModel(conn),
    Booking: bookingModel(conn),
    Coupon: couponModel(conn),
    WaitlistEntry: waitlistEntryModel(conn),
    OutboxMessage: outboxModel(conn),
    JobLease: jobLeaseModel(conn),
    Webhook: webhookModel(conn),
    Payment: paymentModel(conn),
    PaymentProviderEvent: providerEventModel(conn),
    PaymentJob: paymentJobModel(conn),
    EventStaff: eventStaffModel(conn),
    Venue: venueModel(conn),
  };
}
export type Models = ReturnType<typeof compileModels>;

// Compiled once per connection: each app's connection belongs to a Mongoose instance of its own
// (plugins/database.ts), which compiles a copy of every schema, and a second compile on the same
// connection would be refused (OverwriteModelError). Seeds and reused connections ask again.
const compiled = new WeakMap<Connection, Models>();

/** Every model, bound to one connection (the app owns its connection; no global mongoose state). */
export function createModels(conn: Connection): Models {
  let models = compiled.get(conn);
  if (!models) compiled.set(conn, (models = compileModels(conn)));
  return models;
}

/** Builds every index the models declare. `npm run db:indexes` in production; on start elsewhere. */
export async function syncIndexes(models: Models): Promise<void> {
  for (const model of Object.values(models)) await model.createIndexes();
}
