import type { EventFields, HoldFields } from './event.model.js';

/**
 * The listing's availability projection (DESIGN.md 12, API.md Events): `listedAvailable` is what
 * the event's ledger said was left when the ledger was last written, and `listedUntil` when that
 * figure stops being exact (its earliest live hold runs out), or null while it stays exact.
 *
 * Every write of the ledger writes these two fields with it, in the same transaction
 * (SalesLedger.update, and the few writers that change the capacity or rebuild the ledger), so the
 * listing can filter and sort on availability through an index instead of reading the ledger of
 * every event. A hold that runs out frees its tickets without any write (DESIGN.md 2): from
 * `listedUntil` on, the figure is lower than the truth (never higher) until the refresh (listing-refresh.ts), or
 * any sale of the event, writes it again. Response bodies never show it: their `availableTickets`
 * are computed per event of the page from its ledger, exact at the instant of the answer.
 */

export interface ListedFields {
  listedAvailable: number;
  listedUntil: Date | null;
}

/** The projection of a ledger at `now`: tickets left counting the live holds, and the earliest of their expiries. */
export function listedFields(
  totalTickets: number,
  confirmed: number,
  holds: readonly Pick<HoldFields, 'expiresAt' | 'quantity'>[],
  now: Date,
): ListedFields {
  let held = 0;
  let until: number | null = null;
  for (const hold of holds) {
    const at = new Date(hold.expiresAt).getTime();
    if (at <= now.getTime() || hold.quantity <= 0) continue;
    held += hold.quantity;
    if (until === null || at < until) until = at;
  }
  return { listedAvailable: Math.max(0, totalTickets - confirmed - held), listedUntil: until === null ? null : new Date(until) };
}

/** The projection of a stored event's ledger (an event made before the ledger has to be migrated first). */
export function listedFieldsOf(event: Pick<EventFields, 'totalTickets' | 'ticketTypes' | 'holds'>, now: Date): ListedFields {
  let confirmed = 0;
  for (const type of event.ticketTypes ?? []) confirmed += type.confirmed ?? 0;
  return listedFields(event.totalTickets, confirmed, event.holds ?? [], now);
}
