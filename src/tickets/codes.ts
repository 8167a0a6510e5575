import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { TICKET_CODE_ALG, type TicketKeys } from './keys.js';

/**
 * Ticket codes: a compact JWT signed with Ed25519 that names the ticket (`sub`), its event
 * (`eid`), its number (`num`) and, on a seated event, its seat id (`seat`: an offline scanner can
 * show it at the door without the database). Nothing else: no expiry (a ticket is good until it is used or
 * void, which only the server knows) and no issue time, so the same ticket and key always give
 * the same code (Ed25519 signatures are deterministic). The `typ` header keeps any other JWT the
 * service signs from ever passing as a ticket.
 */

export const TICKET_CODE_TYP = 'ticket+jwt';

export interface TicketClaims {
  ticketId: string;
  eventId: string;
  number: string;
  /** Seated events: the seat id; absent otherwise. */
  seat?: string;
}

const hexId = z.string().regex(/^[a-f0-9]{24}$/);
const payloadSchema = z.object({ sub: hexId, eid: hexId, num: z.string().min(1).max(64), seat: z.string().min(1).max(64).optional() });

export function signTicketCode(keys: TicketKeys, claims: TicketClaims): Promise<string> {
  return new SignJWT({ eid: claims.eventId, num: claims.number, ...(claims.seat ? { seat: claims.seat } : {}) })
    .setSubject(claims.ticketId)
    .setProtectedHeader({ alg: TICKET_CODE_ALG, kid: keys.signing.kid, typ: TICKET_CODE_TYP })
    .sign(keys.signing.key);
}

/**
 * The claims of a code that one of our keys signed, or null for anything else: a bad signature,
 * an unknown key id, any algorithm but EdDSA (`none` included), a truncated or altered token.
 */
export async function verifyTicketCode(keys: TicketKeys, code: string): Promise<TicketClaims | null> {
  try {
    const { payload } = await jwtVerify(
      code,
      (header) => {
        const key = keys.verifier(header.kid);
        if (!key) throw new Error('unknown key id');
        return key;
      },
      { algorithms: [TICKET_CODE_ALG], typ: TICKET_CODE_TYP },
    );
    const claims = payloadSchema.safeParse(payload);
    if (!claims.success) return null;
    const { sub, eid, num, seat } = claims.data;
    return { ticketId: sub, eventId: eid, number: num, ...(seat ? { seat } : {}) };
  } catch {
    return null;
  }
}
