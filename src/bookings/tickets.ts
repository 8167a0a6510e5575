import type { Types } from 'mongoose';
import { customAlphabet } from 'nanoid';

// Upper-case letters and digits without the look-alikes 0/O and 1/I/L: numbers are read aloud
// and typed at the door. 31^12 ~ 8e17 values; the unique index on tickets.number catches the
// astronomically rare collision, and the booking transaction then retries with fresh numbers.
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const nextNumber = customAlphabet(ALPHABET, 12);

export interface Ticket {
  number: string;
  ticketTypeId?: Types.ObjectId | null;
}

/** `quantity` distinct ticket numbers (distinct within the booking too: a unique index does not check that). */
export function issueTickets(quantity: number): Ticket[] {
  const numbers = new Set<string>();
  while (numbers.size < quantity) numbers.add(nextNumber());
  return [...numbers].map((number) => ({ number }));
}

/** One ticket per ticket of each line, each carrying its type (numbers distinct across the lines). */
export function issueTicketsFor(lines: { typeId: Types.ObjectId; quantity: number }[]): Ticket[] {
  const total = lines.reduce((sum, l) => sum + l.quantity, 0);
  const numbers = issueTickets(total);
  const tickets: Ticket[] = [];
  for (const line of lines) {
    for (let i = 0; i < line.quantity; i++) tickets.push({ number: numbers[tickets.length].number, ticketTypeId: line.typeId });
  }
  return tickets;
}
