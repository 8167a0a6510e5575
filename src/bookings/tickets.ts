import { customAlphabet } from 'nanoid';

// Upper-case letters and digits without the look-alikes 0/O and 1/I/L: numbers are read aloud
// and typed at the door. 31^12 ~ 8e17 values; the unique index on tickets.number catches the
// astronomically rare collision, and the booking transaction then retries with fresh numbers.
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const nextNumber = customAlphabet(ALPHABET, 12);

export interface Ticket {
  number: string;
}

/** `quantity` distinct ticket numbers (distinct within the booking too: a unique index does not check that). */
export function issueTickets(quantity: number): Ticket[] {
  const numbers = new Set<string>();
  while (numbers.size < quantity) numbers.add(nextNumber());
  return [...numbers].map((number) => ({ number }));
}
