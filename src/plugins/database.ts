import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import mongoose, { type Connection } from 'mongoose';
import { createModels, type Models, syncIndexes } from '../models.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Connection;
    models: Models;
  }
}

export interface DatabaseOptions {
  /** A live connection to reuse (serverless containers keep theirs across invocations). */
  connection?: Connection;
}

async function database(app: FastifyInstance, opts: DatabaseOptions): Promise<void> {
  const { MONGODB_URI, NODE_ENV, MONGODB_AUTO_INDEX } = app.config;
  if (!MONGODB_URI && !opts.connection) throw new Error('MONGODB_URI is required');

  const conn =
    opts.connection ??
    (await mongoose
      .createConnection(MONGODB_URI as string, {
        serverSelectionTimeoutMS: 5000,
        autoIndex: false,
        // Fail fast while disconnected (answered 503) instead of queueing operations for 10 s.
        bufferCommands: false,
        maxPoolSize: 50,
      })
      .asPromise());

  const models = createModels(conn);
  // Production creates indexes once with `npm run db:indexes`, not on every start.
  if (MONGODB_AUTO_INDEX ?? NODE_ENV !== 'production') await syncIndexes(models);

  app.decorate('db', conn);
  app.decorate('models', models);
  if (!opts.connection) app.addHook('onClose', async () => conn.close());
}

export default fp(database, { name: 'database', dependencies: ['config'] });
