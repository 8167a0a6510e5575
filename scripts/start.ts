/**
 * `npm start`: the service with zero configuration. Without MONGODB_URI it brings up an embedded
 * MongoDB first (see embedded-mongo.ts), which `npm run seed` and `npm run create-admin` find
 * while it runs (embedded-state.ts); production refuses that and must set MONGODB_URI.
 */
import 'dotenv/config';
import { ConfigError, loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';
import { startEmbeddedMongo } from './embedded-mongo.js';
import { recordEmbeddedMongo } from './embedded-state.js';

try {
  const env = { ...process.env };
  if (!env.MONGODB_URI) {
    if (env.NODE_ENV === 'production') {
      throw new ConfigError(['MONGODB_URI: is required in production (the embedded MongoDB is for development only)']);
    }
    const mongo = await startEmbeddedMongo();
    env.MONGODB_URI = mongo.uri;
    process.once('exit', () => void mongo.stop());
    // So that `npm run seed` and `npm run create-admin` can write to it while this runs.
    recordEmbeddedMongo(mongo.uri, mongo.kind);
  }
  await startServer(loadConfig(env));
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
