import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { loadTicketKeys, type TicketKeys } from './keys.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Signs and verifies ticket codes (keys.ts). */
    ticketKeys: TicketKeys;
  }
}

/** Loads the ticket-code keys once at start-up: a bad or missing production key stops the start. */
async function ticketKeys(app: FastifyInstance): Promise<void> {
  app.decorate('ticketKeys', await loadTicketKeys(app.config));
}

export default fp(ticketKeys, { name: 'ticket-keys', dependencies: ['config'] });
