import 'dotenv/config';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { ConfigError, type Config, loadConfig } from './config.js';
import { batchedStdout } from './lib/logger.js';

/** Listens, and on SIGTERM/SIGINT stops accepting, drains in-flight requests (bounded) and exits. */
export async function startServer(config: Config): Promise<FastifyInstance> {
  // Only `npm start` (scripts/start.ts) brings up an embedded MongoDB; the built server needs a
  // real one, and says so the way every other configuration problem is reported.
  if (!config.MONGODB_URI) {
    throw new ConfigError([
      'MONGODB_URI: is required to run the built server (`npm start` brings up an embedded MongoDB for development; `npm run start:prod` needs a real replica set)',
    ]);
  }
  // Tests that start the server keep the test logger (silent unless they capture lines).
  const app = await buildApp(config, config.NODE_ENV === 'test' ? {} : { logStream: batchedStdout() });
  await app.listen({ port: config.PORT, host: config.HOST });

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: draining in-flight requests');
    const force = setTimeout(() => {
      app.log.error('in-flight requests did not finish in time; exiting anyway');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return app;
}

function isEntryPoint(): boolean {
  const entry = process.argv[1] ?? '';
  return /server\.(ts|js)$/.test(entry);
}

if (isEntryPoint()) {
  try {
    await startServer(loadConfig());
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  }
}
