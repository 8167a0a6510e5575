/**
 * The ticketing service as the load runner's child process: `startServer` exactly as production
 * runs it, on a free port. Without MONGODB_URI it starts the embedded MongoDB in this process
 * (`--mongo inline`); the runner normally passes the URI of a MongoDB child of its own instead.
 */
import { startEmbeddedMongo } from '../../../scripts/embedded-mongo.js';
import { loadConfig } from '../../../src/config.js';
import { startServer } from '../../../src/server.js';
import { profileOnSignal } from './profiler.js';

profileOnSignal('server');

const env = { ...process.env };
let kind = 'external';
if (!env.MONGODB_URI) {
  const mongo = await startEmbeddedMongo();
  env.MONGODB_URI = mongo.uri;
  kind = `${mongo.kind} (inline)`;
}
const app = await startServer(loadConfig(env));
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
process.send?.({ ready: true, port, kind });
