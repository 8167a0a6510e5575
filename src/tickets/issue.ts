import { customAlphabet } from 'nanoid';
import { Types } from 'mongoose';
import { signTicketCode } from './codes.js';
import type { TicketKeys } from './keys.js';
import type { TicketFields } from './ticket.schema.js';

// Upper-case letters and digits without the look-alikes 0/O and 1/I/L: numbers are read aloud
// and typed at the door. 31^12 ~ 8e17 values; the unique index on tickets.number catches the
// astronomically rare collision, and the booking transaction then retries with fresh numbers.
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const nextNumber = customAlphabet(ALPHABET, 12);

/** So many tickets of one type (null: a booking from before ticket types). */
export interface TicketLine {
  ticketTypeId: Types.ObjectId | null;
  quantity: number;
  /** Seated events: the line's seats, one per ticket in order. */
  seats?: readonly string[];
}

export interface IssueTicketsInput {
  eventId: Types.ObjectId | string;
  lines: readonly TicketLine[];
}

/**
 * One ticket per unit of each line, in line order, each carrying its line's type, its own id, a
 * number distinct within the booking too (a unique index does not check that) and its signed
 * code. Ids are made here, not by the database, because the code names the ticket.
 */
export async function issueTickets(keys: TicketKeys, input: IssueTicketsInput): Promise<TicketFields[]> {
  const total = input.lines.reduce((sum, line) => sum + line.quantity, 0);
  const numbers = new Set<string>();
  while (numbers.size < total) numbers.add(nextNumber());
  const unique = [...numbers];
  const eventId = String(input.eventId);
  const planned = input.lines.flatMap((line) =>
    Array.from({ length: line.quantity }, (_, k) => ({ ticketTypeId: line.ticketTypeId, seat: line.seats?.[k] ?? null })),
  );
  return Promise.all(
    planned.map(async ({ ticketTypeId, seat }, i) => {
      const _id = new Types.ObjectId();
      const number = unique[i];
      return {
        _id,
        number,
        ticketTypeId,
        seat,
        code: await signTicketCode(keys, { ticketId: String(_id), eventId, number, ...(seat ? { seat } : {}) }),
        checkedInAt: null,
      };
    }),
  );
}
