import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';

/**
 * Traces of internals that must never reach a client (API.md Conventions): stack frames, driver
 * and server error text, file paths of the install.
 */
export const LEAK_PATTERNS: readonly RegExp[] = [
  /\bat [\w$.<>]+ \(/, // a V8 stack frame: "at fn (file:line:col)"
  /\bat (?:file:|node:|\/)/, // an anonymous stack frame
  /Mongo/, // MongoServerError, MongoNetworkError, MongoDB ... (lower-case "mongodb" names a dependency)
  /mongoose/i,
  /Cast to \w+ failed/, // Mongoose CastError
  /Path `/, // Mongoose ValidatorError
  /E11000/,
  /node_modules/,
  /\.ts:\d+/,
  /BSON/,
  /ZodError/,
  /FST_[A-Z_]+/,
];

/** The leak patterns a text matches, empty when clean. */
export function leaksIn(text: string): string[] {
  return LEAK_PATTERNS.filter((p) => p.test(text)).map((p) => p.source);
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  success: false;
  errors?: { path: string; message: string }[];
  [extra: string]: unknown;
}

/**
 * Asserts an RFC 9457 problem answer in the API's shape: the status (one of `status` when a list),
 * problem+json content type, every member present and typed, the request id echoed, nothing leaked.
 */
export function expectProblem(res: LightMyRequestResponse, status: number | readonly number[], code?: string): Problem {
  const allowed = typeof status === 'number' ? [status] : status;
  const context = `${res.statusCode} ${res.body.slice(0, 300)}`;
  expect(allowed, context).toContain(res.statusCode);
  expect(res.headers['content-type'], context).toMatch(/^application\/problem\+json/);
  const body = res.json<Problem>();
  expect(body, context).toMatchObject({ status: res.statusCode, success: false });
  for (const member of ['type', 'title', 'detail', 'code', 'requestId'] as const) {
    expect(typeof body[member], `${member} in ${context}`).toBe('string');
    expect(body[member].length, `${member} in ${context}`).toBeGreaterThan(0);
  }
  expect(body.requestId).toBe(res.headers['x-request-id']);
  if (code) expect(body.code, context).toBe(code);
  if (body.code === 'VALIDATION_FAILED') {
    expect(Array.isArray(body.errors), context).toBe(true);
  }
  expect(leaksIn(res.body), context).toEqual([]);
  return body;
}
