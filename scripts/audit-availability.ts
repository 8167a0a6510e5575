/**
 * `npm run audit:availability`: recounts every event's and every ticket type's confirmed and held
 * tickets, and every coupon's redemptions, from the bookings and compares them with the ledger
 * the sales keep (DESIGN.md 7, 12).
 * Prints each difference and exits 1 if there is any (2 when it could not run), 0 when all agree.
 * Holds are judged at one instant; run it while nothing sells for a figure that cannot move under it.
 */
import 'dotenv/config';
import mongoose from 'mongoose';
import { auditAll } from '../src/bookings/ledger-audit.js';
import { createModels } from '../src/models.js';

async function main(): Promise<number> {
  const uri = process.env.MONGODB_URI;
  if (!uri || !uri.startsWith('mongodb')) throw new Error('MONGODB_URI must be set to the database to audit (mongodb://...)');
  const conn = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 10_000, autoIndex: false }).asPromise();
  try {
    const { events, differences } = await auditAll(createModels(conn), new Date());
    for (const d of differences) console.log(`event ${d.eventId}: ${d.what}: ledger ${d.ledger}, bookings ${d.bookings}`);
    console.log(`audit:availability: ${events} event(s), ${differences.length} difference(s)`);
    return differences.length === 0 ? 0 : 1;
  } finally {
    await conn.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`audit:availability failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
