/**
 * `npm run db:indexes`: creates every index the models declare, prints what each collection has,
 * and exits. Production runs it once per deploy (the service itself does not build indexes on
 * start there: MONGODB_AUTO_INDEX defaults to false in production). Needs only MONGODB_URI.
 */
import 'dotenv/config';
import mongoose from 'mongoose';
import { createModels, syncIndexes } from '../src/models.js';
import { refuseEmulatorInProduction } from '../src/plugins/database.js';

interface IndexInfo {
  name: string;
  key: Record<string, unknown>;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
  partialFilterExpression?: Record<string, unknown>;
}

function describe(index: IndexInfo): string {
  const extras = [
    index.unique ? 'unique' : '',
    index.sparse ? 'sparse' : '',
    index.expireAfterSeconds !== undefined ? `ttl ${index.expireAfterSeconds}s` : '',
    index.partialFilterExpression ? `partial ${JSON.stringify(index.partialFilterExpression)}` : '',
  ].filter(Boolean);
  return `${index.name.padEnd(40)} ${JSON.stringify(index.key)}${extras.length ? `  (${extras.join(', ')})` : ''}`;
}

async function main(): Promise<void> {
  const uri = process.env.MONGODB_URI;
  if (!uri || !uri.startsWith('mongodb')) throw new Error('MONGODB_URI must be set to the database to index (mongodb://... or mongodb+srv://...)');

  const conn = await mongoose.createConnection(uri, { serverSelectionTimeoutMS: 10_000, autoIndex: false }).asPromise();
  try {
    // As the service itself (DESIGN.md 5): production never writes to the emulator.
    if (process.env.NODE_ENV === 'production') {
      await refuseEmulatorInProduction(conn, process.env.ALLOW_MONGODB_EMULATOR === 'true', (msg) => console.warn(msg));
    }
    const models = createModels(conn);
    await syncIndexes(models);
    console.log(`Indexes of database "${conn.name}":`);
    for (const model of Object.values(models)) {
      const indexes = (await model.collection.listIndexes().toArray()) as IndexInfo[];
      console.log(`\n${model.collection.collectionName} (${indexes.length})`);
      for (const index of indexes) console.log(`  ${describe(index)}`);
    }
  } finally {
    await conn.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`db:indexes failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
