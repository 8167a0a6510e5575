/** The embedded MongoDB (scripts/embedded-mongo.ts) in a process of its own, for load runs. */
import { startEmbeddedMongo } from '../../../scripts/embedded-mongo.js';
import { profileOnSignal } from './profiler.js';

profileOnSignal('mongo');

const mongo = await startEmbeddedMongo();
const stop = () => {
  mongo.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.send?.({ ready: true, uri: mongo.uri, kind: mongo.kind });
