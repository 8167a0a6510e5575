import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** What a route without a body of its own accepts: nothing, or an empty JSON object. */
const noBody = z.object({}).strict().nullish();

/**
 * JSON is the only body the API reads (API.md Conventions): anything else is 415, and a route
 * that takes no body still refuses one with fields, so a typo or an injected field never runs a
 * state change silently. An empty body with a JSON content type means "no body", as curl sends it.
 */
export function acceptOnlyJson(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain');

  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, typeof body === 'string' ? body : body.toString('utf8'), done);
  });

  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat();
    if (route.schema?.body || !methods.some((m) => BODY_METHODS.has(m))) return;
    route.schema = { ...route.schema, body: noBody };
  });
}
