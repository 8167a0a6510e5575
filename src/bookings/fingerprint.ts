import { hash } from 'node:crypto';

/**
 * JSON with object keys sorted at every depth, so two bodies that parse to the same value
 * (whatever their key order or white space) give the same text. Arrays keep their order:
 * order is meaningful in JSON arrays.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The identity of a request for idempotency (API.md Idempotency): method, path and parsed body.
 * A missing body counts as `{}`: both mean "no fields" for our POST routes.
 */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  const canonical = canonicalJson(body ?? {});
  // One-shot hash: the same digest without a Hash object per request.
  return hash('sha256', `${method.toUpperCase()}\n${path}\n${canonical}`, 'hex');
}
