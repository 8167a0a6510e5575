import type { PlannedRow, PlannedSeat } from './plan.js';

/**
 * Best available seats (API.md Venues and seats), in this documented order of preference:
 *
 * 1. all the seats side by side in one row: the first row, in the type's order (its sections in the
 *    order it names them, each from the front row back), that has enough free neighbours; within
 *    that row the run whose middle is closest to the row's middle;
 * 2. when no row has that many free neighbours: the free seats one by one in the same row order,
 *    each row from its middle outwards, so the party is spread over as few rows as possible.
 *
 * Pure: `taken` says which seats are sold or held in the transaction's snapshot.
 */
export function bestAvailable(rows: readonly PlannedRow[], quantity: number, taken: (seatId: string) => boolean): PlannedSeat[] | null {
  if (quantity <= 0) return [];
  for (const row of rows) {
    const run = centredRun(row.seats, quantity, taken);
    if (run) return run;
  }
  const picked: PlannedSeat[] = [];
  for (const row of rows) {
    for (const seat of middleOut(row.seats)) {
      if (taken(seat.id)) continue;
      picked.push(seat);
      if (picked.length === quantity) return picked;
    }
  }
  return null;
}

/** The window of `n` free neighbours nearest the row's middle, or null. */
function centredRun(seats: readonly PlannedSeat[], n: number, taken: (seatId: string) => boolean): PlannedSeat[] | null {
  const middle = (seats.length - 1) / 2;
  let best: { start: number; distance: number } | null = null;
  let free = 0;
  for (let i = 0; i < seats.length; i++) {
    free = taken(seats[i].id) ? 0 : free + 1;
    if (free < n) continue;
    const start = i - n + 1;
    const distance = Math.abs(start + (n - 1) / 2 - middle);
    if (!best || distance < best.distance) best = { start, distance };
  }
  return best ? seats.slice(best.start, best.start + n) : null;
}

/** A row's seats from its middle outwards (middle, then alternately nearer ends). */
function middleOut(seats: readonly PlannedSeat[]): PlannedSeat[] {
  const middle = (seats.length - 1) / 2;
  return [...seats].sort((a, b) => Math.abs(a.position - middle) - Math.abs(b.position - middle) || a.position - b.position);
}
