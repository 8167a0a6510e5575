import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import mongoose, { type Connection } from 'mongoose';
import { ConfigError } from '../config.js';
import { createModels, type Models, syncIndexes } from '../models.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Connection;
    models: Models;
  }
}

/** What the project's MongoDB emulator says about itself; real MongoDB never sends this. */
export interface EmulatorIdentity {
  name: string;
  version: string;
}

/**
 * The emulator (a test double, DESIGN.md 5) adds `emulator: { name, version }` to its buildInfo
 * reply; mongod's buildInfo has no such field and clients ignore unknown ones. Returns null for a
 * real MongoDB. buildInfo needs no privileges, so this works on any deployment.
 */
export async function detectEmulator(conn: Connection): Promise<EmulatorIdentity | null> {
  const db = conn.db;
  if (!db) throw new Error('detectEmulator needs an open connection');
  const info = await db.admin().command({ buildInfo: 1 });
  const marker: unknown = info.emulator;
  if (typeof marker !== 'object' || marker === null) return null;
  const { name, version } = marker as { name?: unknown; version?: unknown };
  return { name: typeof name === 'string' ? name : 'unknown', version: typeof version === 'string' ? version : 'unknown' };
}

/**
 * DESIGN.md 5: production refuses to run on the emulator, unless the CI smoke run opts out. Used by
 * the service at start-up and by `npm run db:indexes`.
 */
export async function refuseEmulatorInProduction(conn: Connection, allow: boolean, warn: (msg: string) => void): Promise<void> {
  const emulator = await detectEmulator(conn);
  if (!emulator) return;
  const what = `${emulator.name} ${emulator.version}`;
  if (allow) {
    warn(`MONGODB_URI points at the MongoDB emulator (${what}), allowed by ALLOW_MONGODB_EMULATOR=true: for CI smoke runs only, never in production`);
    return;
  }
  throw new ConfigError([
    `MONGODB_URI: points at the MongoDB emulator (${what}), a test double that is not MongoDB; ` +
      'production refuses to start on it. Use a real MongoDB replica set ' +
      '(ALLOW_MONGODB_EMULATOR=true exists for CI smoke runs of the built server only)',
  ]);
}

/**
 * A database that was lost and came back (a restarted in-memory server, a restored volume) has no
 * indexes, and without the unique (user, key) index a retry could book twice (layer 3 of
 * idempotency). Creating indexes is idempotent, so whenever the driver reconnects they are made
 * again; one run at a time, and a failure is logged and retried at the next reconnect.
 */
function recreateIndexesOnReconnect(app: FastifyInstance, conn: Connection, models: Models): void {
  let running: Promise<void> | null = null;
  let again = false;
  const sync = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = syncIndexes(models)
      .then(() => app.log.info('indexes checked after the database reconnected'))
      .catch((err: unknown) => app.log.error({ err }, 'could not recreate indexes after the database reconnected'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          sync();
        }
      });
  };
  conn.on('reconnected', sync);
  app.addHook('onClose', async () => {
    conn.off('reconnected', sync);
    await running;
  });
}

export interface DatabaseOptions {
  /** A live connection to reuse (serverless containers keep theirs across invocations). */
  connection?: Connection;
}

async function database(app: FastifyInstance, opts: DatabaseOptions): Promise<void> {
  const { MONGODB_URI, NODE_ENV, MONGODB_AUTO_INDEX } = app.config;
  if (!MONGODB_URI && !opts.connection) throw new ConfigError(['MONGODB_URI: is required']);

  // A Mongoose instance of the app's own, so that the createdAt/updatedAt Mongoose fills in come
  // from the app clock like every other time the service writes (DESIGN.md 2: one clock).
  const odm = new mongoose.Mongoose();
  odm.now = () => app.clock.now();
  const conn =
    opts.connection ??
    (await odm
      .createConnection(MONGODB_URI as string, {
        serverSelectionTimeoutMS: 5000,
        autoIndex: false,
        // Fail fast while disconnected (answered 503) instead of queueing operations for 10 s.
        bufferCommands: false,
        maxPoolSize: 50,
      })
      .asPromise());

  if (NODE_ENV === 'production') {
    // Checked once, right after connecting, before anything (indexes, the admin user) is written.
    try {
      await refuseEmulatorInProduction(conn, app.config.ALLOW_MONGODB_EMULATOR, (msg) => app.log.warn(msg));
    } catch (err) {
      if (!opts.connection) await conn.close().catch(() => undefined);
      throw err;
    }
  }

  const models = createModels(conn);
  // Production creates indexes once with `npm run db:indexes`, not on every start.
  if (MONGODB_AUTO_INDEX ?? NODE_ENV !== 'production') {
    await syncIndexes(models);
    recreateIndexesOnReconnect(app, conn, models);
  }

  app.decorate('db', conn);
  app.decorate('models', models);
  if (!opts.connection) app.addHook('onClose', async () => conn.close());
}

export default fp(database, { name: 'database', dependencies: ['config'] });
