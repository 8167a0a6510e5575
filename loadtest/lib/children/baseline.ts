/**
 * The ceiling of this machine: a bare Fastify route with a small JSON body, no plugins, no
 * logging, no database, started the same way as the service (a child process on a free port).
 */
import Fastify from 'fastify';
import { profileOnSignal } from './profiler.js';

profileOnSignal('baseline');

const app = Fastify({ logger: false });
app.get('/', async () => ({ success: true, data: { status: 'ok' } }));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const close = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', close);
process.once('SIGINT', close);
process.send?.({ ready: true, port: typeof address === 'object' && address ? address.port : 0, kind: 'bare fastify' });
