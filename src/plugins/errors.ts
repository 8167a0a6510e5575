import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { MongoError, MongoNetworkError, MongoServerSelectionError } from 'mongodb';
import { AppError, type FieldError, problemBody, serviceUnavailable } from '../lib/errors.js';

function validationErrors(error: FastifyError): FieldError[] {
  if (!hasZodFastifySchemaValidationErrors(error)) return [];
  const where = error.validationContext && error.validationContext !== 'body' ? `${error.validationContext}.` : '';
  const unknown = error.validationContext === 'querystring' ? 'is not a known query parameter' : 'is not a known field';
  const entry = (path: string[], message: string): FieldError => ({
    path: `${where}${path.join('.')}` || (error.validationContext ?? ''),
    message,
  });
  return error.validation.flatMap((v) => {
    const base = v.instancePath.split('/').filter(Boolean);
    // Unknown keys are reported together on the parent object by zod; name each offending key.
    const keys = (v.params as { keys?: string[] } | undefined)?.keys;
    if (keys?.length) return keys.map((key) => entry([...base, key], unknown));
    return [entry(base, v.message)];
  });
}

/** MongoDB being unreachable or failing over is a 503 the client may retry, not a 500. */
function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof MongoServerSelectionError || error instanceof MongoNetworkError) return true;
  return error instanceof MongoError && (error.hasErrorLabel('TransientTransactionError') || error.hasErrorLabel('RetryableWriteError'));
}

/** Maps any thrown value onto the AppError the client sees. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const fe = error as FastifyError;
  if (fe.validation) {
    return new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', { errors: validationErrors(fe) });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send JSON with Content-Type: application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError(413, 'PAYLOAD_TOO_LARGE', 'The request body is larger than 64 KiB');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError(400, 'INVALID_JSON', 'The request body is not valid JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError(400, 'VALIDATION_FAILED', 'Content-Length does not match the body', {
        errors: [{ path: 'content-length', message: 'does not match the body' }],
      });
    case 'FST_ERR_BAD_URL':
      return new AppError(400, 'VALIDATION_FAILED', 'The URL is not valid', {
        errors: [{ path: 'url', message: 'holds an invalid percent-encoded sequence' }],
      });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError(414, 'VALIDATION_FAILED', 'A path parameter is too long', {
        errors: [{ path: 'params', message: 'is too long' }],
      });
  }
  if (fe.statusCode === 429) return new AppError(429, 'RATE_LIMITED', 'Too many requests, slow down');
  if (isDatabaseUnavailable(error)) return serviceUnavailable();
  if (error instanceof SyntaxError && fe.statusCode === 400) {
    return new AppError(400, 'INVALID_JSON', 'The request body is not valid JSON');
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppError(fe.statusCode, 'VALIDATION_FAILED', 'The request is not valid', { errors: [] });
  }
  return new AppError(500, 'INTERNAL_ERROR', 'Something went wrong on our side; it has been logged');
}

export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  // Set here too: framework errors (bad URLs) are answered before the request hooks run.
  reply.header('x-request-id', reply.request.id);
  return reply
    .status(error.statusCode)
    .type('application/problem+json')
    .send(problemBody(error, String(reply.request.id)));
}

async function errorsPlugin(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(error);
    if (appError.statusCode >= 500 && !(error instanceof AppError)) {
      // The full error goes to the log only; the client gets a generic problem (API.md Conventions).
      request.log.error({ err: error }, 'request failed');
    }
    return sendProblem(reply, appError);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new AppError(404, 'NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`)),
  );
}

export default fp(errorsPlugin, { name: 'errors' });
