/**
 * `npm run db:migrate`: gives data made before ticket types its default type, the sales ledger and
 * booking items, and events made before the listing's availability projection that projection
 * (src/bookings/migrate.ts). Safe to run twice, and while the service sells.
 * Needs only MONGODB_URI.
 */
import 'dotenv/config';
import mongoose from 'mongoose';
import { migrateAll } from '../src/bookings/migrate.js';
import { createModels } from '../src/models.js';
import { refuseEmulatorInProduction } from '../src/plugins/database.js';

async function main(): Promise<void> {
  const uri = process.env.MONGODB_URI;
  if (!uri || !uri.startsWith('mongodb')) throw new Error('MONGODB_URI must be set to the database to migrate (mongodb://...)');
  const conn = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 10_000, autoIndex: false }).asPromise();
  try {
    if (process.env.NODE_ENV === 'production') {
      await refuseEmulatorInProduction(conn, process.env.ALLOW_MONGODB_EMULATOR === 'true', (msg) => console.warn(msg));
    }
    const report = await migrateAll(conn, createModels(conn), () => new Date());
    console.log(
      `db:migrate: ${report.events} event(s) given ticket types and a ledger, ${report.listings} event(s) given the listing's availability, ${report.bookings} booking(s) given items`,
    );
  } finally {
    await conn.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`db:migrate failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
