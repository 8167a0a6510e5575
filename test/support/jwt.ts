import { createHmac } from 'node:crypto';

/** Hand-made JWTs for attacks on the guard: alg none, wrong keys, edited claims. */

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signature: string;
}

export function decodeJwt(token: string): DecodedJwt {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>,
    signature,
  };
}

/** An unsigned token: `alg: none` and an empty signature. */
export function unsignedJwt(payload: Record<string, unknown>): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
}

/** A token signed with HMAC (HS256 or HS512) and the given secret. */
export function signJwt(payload: Record<string, unknown>, secret: string, alg: 'HS256' | 'HS512' = 'HS256'): string {
  const body = `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}`;
  const digest = alg === 'HS256' ? 'sha256' : 'sha512';
  return `${body}.${createHmac(digest, secret).update(body).digest('base64url')}`;
}

/** The token with its payload replaced, the original signature kept. */
export function withPayload(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split('.') as [string, string, string];
  return `${header}.${b64url(payload)}.${signature}`;
}
