/**
 * `npm run seed`: demo data: one organizer account with a known password (printed) and a few
 * published events. Safe to re-run: it finds what it made before instead of adding it again.
 * Writes to MONGODB_URI, or, when that is unset, to the embedded MongoDB of a running `npm start`
 * (embedded-state.ts); that data lives as long as that process.
 *
 * SEED_ORGANIZER_EMAIL / SEED_ORGANIZER_PASSWORD override the account's credentials.
 */
import 'dotenv/config';
import { pathToFileURL } from 'node:url';
import mongoose, { type Connection } from 'mongoose';
import { hashPassword, verifyPassword } from '../src/auth/passwords.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { createModels, syncIndexes } from '../src/models.js';
import { databaseForScript } from './embedded-state.js';

const DAY = 86_400_000;

interface DemoEvent {
  name: string;
  venue: string;
  category: string;
  description: string;
  inDays: number;
  hours: number;
  totalTickets: number;
  price: number;
  currency: string;
  maxTicketsPerBooking?: number;
}

export const DEMO_EVENTS: DemoEvent[] = [
  { name: 'Midsummer Jazz Night', venue: 'Blue Note Hall', category: 'music', description: 'A quartet and a long summer evening.', inDays: 14, hours: 3, totalTickets: 200, price: 3500, currency: 'EUR' },
  { name: 'Open-Air Cinema: Metropolis', venue: 'Castle Courtyard', category: 'film', description: 'The restored cut, with live piano.', inDays: 21, hours: 3, totalTickets: 120, price: 1200, currency: 'EUR' },
  { name: 'Stand-up Marathon', venue: 'Laugh Factory', category: 'comedy', description: 'Eight comedians, one stage.', inDays: 30, hours: 4, totalTickets: 80, price: 2000, currency: 'EUR', maxTicketsPerBooking: 6 },
  { name: 'Community Tech Meetup', venue: 'Library Hall B', category: 'tech', description: 'Talks and pizza. Free entry.', inDays: 7, hours: 2, totalTickets: 60, price: 0, currency: 'EUR', maxTicketsPerBooking: 2 },
  { name: 'Sold-Out Test Gig', venue: 'Tiny Club', category: 'music', description: 'Five tickets, for trying the SOLD_OUT path.', inDays: 10, hours: 2, totalTickets: 5, price: 1500, currency: 'EUR', maxTicketsPerBooking: 5 },
];

export interface SeedOptions {
  email: string;
  password: string;
  bcryptCost: number;
  now: Date;
}

export interface SeedResult {
  organizer: { id: string; email: string; created: boolean };
  eventsCreated: number;
  eventsExisting: number;
}

export async function seed(conn: Connection, options: SeedOptions): Promise<SeedResult> {
  const models = createModels(conn);
  await syncIndexes(models);
  const { User, Event } = models;

  const email = options.email.trim().toLowerCase();
  let user = await User.findOne({ email });
  const created = !user;
  if (!user) {
    user = await User.create({ email, name: 'Demo Organizer', role: 'organizer', passwordHash: await hashPassword(options.password, options.bcryptCost) });
  } else {
    // The printed password must work: reset it (and the role) if someone changed them.
    const update: Record<string, unknown> = {};
    if (user.role !== 'admin') update.role = 'organizer';
    if (!(await verifyPassword(options.password, user.passwordHash))) {
      update.passwordHash = await hashPassword(options.password, options.bcryptCost);
    }
    if (Object.keys(update).length > 0) await User.updateOne({ _id: user._id }, { $set: update });
    // ...and lift a lockout from earlier tries.
    await models.LoginAttempt.deleteOne({ _id: email });
  }

  let eventsCreated = 0;
  for (const demo of DEMO_EVENTS) {
    // Dates are fixed at the first run; a re-run finds the event by organizer and name.
    const startsAt = new Date(Math.ceil((options.now.getTime() + demo.inDays * DAY) / 3_600_000) * 3_600_000);
    const result = await Event.updateOne(
      { organizerId: user._id, name: demo.name },
      {
        $setOnInsert: {
          venue: demo.venue,
          category: demo.category,
          description: demo.description,
          startsAt,
          endsAt: new Date(startsAt.getTime() + demo.hours * 3_600_000),
          totalTickets: demo.totalTickets,
          price: demo.price,
          currency: demo.currency,
          maxTicketsPerBooking: demo.maxTicketsPerBooking ?? 10,
          status: 'published',
          // Nothing sold or held: the listing's availability projection is the whole capacity.
          listedAvailable: demo.totalTickets,
          listedUntil: null,
          createdAt: options.now,
          updatedAt: options.now,
        },
      },
      // Timestamps by hand, in $setOnInsert only, so a re-run leaves existing events untouched.
      { upsert: true, timestamps: false },
    );
    eventsCreated += result.upsertedCount;
  }
  return {
    organizer: { id: String(user._id), email, created },
    eventsCreated,
    eventsExisting: DEMO_EVENTS.length - eventsCreated,
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.NODE_ENV === 'production') throw new Error('npm run seed writes demo accounts; it refuses to run with NODE_ENV=production');
  const database = databaseForScript(config.MONGODB_URI, 'npm run seed');
  const email = process.env.SEED_ORGANIZER_EMAIL ?? 'organizer@example.com';
  const password = process.env.SEED_ORGANIZER_PASSWORD ?? 'organizer-demo-password';
  console.log(`Seeding ${database.source}.`);
  const conn = await mongoose.createConnection(database.uri, { serverSelectionTimeoutMS: 5000, autoIndex: false }).asPromise();
  try {
    const result = await seed(conn, { email, password, bcryptCost: config.BCRYPT_COST, now: new Date() });
    console.log(`Organizer ${result.organizer.created ? 'created' : 'already there'}: ${email}  password: ${password}`);
    console.log(`Events: ${result.eventsCreated} created, ${result.eventsExisting} already there (all published).`);
    console.log('Log in with POST /api/v1/auth/login and list them with GET /api/v1/events.');
  } finally {
    await conn.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await main();
  } catch (err) {
    console.error(err instanceof ConfigError || err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
