import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    clock: Clock;
  }
}

export interface CoreOptions {
  config: Config;
  clock: Clock;
}

/** Makes the validated configuration and the clock available to every plugin and route. */
async function core(app: FastifyInstance, opts: CoreOptions): Promise<void> {
  app.decorate('config', opts.config);
  app.decorate('clock', opts.clock);
}

export default fp(core, { name: 'config' });
