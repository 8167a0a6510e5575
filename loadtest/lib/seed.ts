/**
 * Direct database seeding for the scenarios that need history or a large catalogue (history,
 * browse --events): going through the API would take minutes for 100,000 bookings, and it is the
 * cost of reading with that much data, not of writing it, that those scenarios measure. Every
 * seeded figure is made consistent with the sales ledger, and history checks it with the audit.
 */
import { randomBytes } from 'node:crypto';
import mongoose, { type Connection, Types } from 'mongoose';
import { Redis } from 'ioredis';
import { listedFieldsOf } from '../../src/events/listing-projection.js';
import { REDIS_URL } from './target.js';

export async function connect(uri: string): Promise<Connection> {
  return mongoose.createConnection(uri).asPromise();
}

const BATCH = 2000;

/**
 * `count` confirmed one-ticket bookings of the event's first ticket type by random users, inserted
 * in unordered batches, and the ledger raised by the same number (as the sales would have).
 */
export async function seedConfirmedBookings(conn: Connection, eventId: string, count: number, log: (line: string) => void): Promise<void> {
  if (count === 0) return;
  const events = conn.collection('events');
  const event = await events.findOne({ _id: new Types.ObjectId(eventId) }, { projection: { ticketTypes: 1, currency: 1 } });
  const type = (event?.ticketTypes as { _id: Types.ObjectId; name: string }[] | undefined)?.[0];
  if (!event || !type) throw new Error(`event ${eventId} has no ticket type to seed bookings of`);
  const bookings = conn.collection('bookings');
  const tag = randomBytes(3).toString('hex').toUpperCase();
  const at = new Date();
  const t0 = performance.now();
  for (let start = 0; start < count; start += BATCH) {
    const docs = [];
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      docs.push({
        eventId: event._id,
        userId: new Types.ObjectId(),
        quantity: 1,
        items: [{ ticketTypeId: type._id, name: type.name, quantity: 1, unitPrice: 0 }],
        status: 'confirmed',
        unitPrice: 0,
        subtotal: 0,
        discount: 0,
        totalPrice: 0,
        couponCode: null,
        currency: event.currency ?? 'EUR',
        expiresAt: null,
        // Seeded numbers are marked (S + run tag) so they can never equal a 12-letter issued one.
        tickets: [{ number: `S${tag}${i}`, ticketTypeId: type._id }],
        idempotencyKey: null,
        requestFingerprint: null,
        confirmIdempotencyKey: null,
        confirmFingerprint: null,
        paymentReference: null,
        confirmedAt: at,
        cancelledAt: null,
        createdAt: at,
        updatedAt: at,
      });
    }
    await bookings.insertMany(docs, { ordered: false });
  }
  await events.updateOne({ _id: event._id }, { $inc: { 'ticketTypes.0.confirmed': count, salesVersion: 1 } });
  // The listing's availability projection follows the ledger, as a sale would have written it.
  const after = await events.findOne({ _id: event._id }, { projection: { totalTickets: 1, ticketTypes: 1, holds: 1 } });
  if (after) await events.updateOne({ _id: event._id }, { $set: listedFieldsOf(after as unknown as Parameters<typeof listedFieldsOf>[0], new Date()) });
  log(`seeded ${count} confirmed bookings in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Deletes the service's Redis keys matching `pattern` (after its prefix): cached reads of seeded data. */
export async function dropCached(prefix: string, pattern: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    let dropped = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}${pattern}`, 'COUNT', 1000);
      if (keys.length > 0) dropped += await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    return dropped;
  } finally {
    redis.disconnect();
  }
}

/**
 * `count` more published events like the template (same organizer and default type), with their
 * own names, categories, start dates over the next year, and ledgers showing from none to all of
 * their tickets sold: a catalogue for the listing at scale.
 */
export async function seedEvents(conn: Connection, templateId: string, count: number, runId: string, categories: string[], log: (line: string) => void): Promise<void> {
  const events = conn.collection('events');
  const template = await events.findOne({ _id: new Types.ObjectId(templateId) });
  if (!template) throw new Error(`template event ${templateId} not found`);
  const [type] = template.ticketTypes as Record<string, unknown>[];
  const total = template.totalTickets as number;
  const at = new Date();
  const t0 = performance.now();
  for (let start = 0; start < count; start += BATCH) {
    const docs = [];
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      docs.push({
        ...template,
        _id: new Types.ObjectId(),
        name: `Browse ${runId} seeded #${i + 20}`,
        category: categories[i % categories.length],
        startsAt: new Date(at.getTime() + (1 + (i % 365)) * 86_400_000 + i * 1000),
        price: i % 50,
        ticketTypes: [{ ...type, _id: new Types.ObjectId(), confirmed: (i * 7) % (total + 1) }],
        holds: [],
        // The listing's availability projection of that ledger (src/events/listing-projection.ts).
        listedAvailable: total - ((i * 7) % (total + 1)),
        listedUntil: null,
        salesVersion: 0,
        revision: 0,
        createdAt: at,
        updatedAt: at,
      });
    }
    await events.insertMany(docs, { ordered: false });
  }
  log(`seeded ${count} published events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
