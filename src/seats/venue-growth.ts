import { performance } from 'node:perf_hooks';
import type { EventDeps } from '../events/access.js';
import { invalidateEventCache } from '../events/cache.js';
import type { EventFields } from '../events/event.model.js';
import { listedFieldsOf } from '../events/listing-projection.js';
import { claimSales } from '../events/service.js';
import { runTransaction } from '../lib/transaction.js';
import { serveAfterChange, servingOf } from '../waitlist/serve.js';
import { seatsIn } from './plan.js';
import { venueFor } from './seating.js';

/**
 * A venue gained seats (src/venues answers 409 to any loss while a published event uses it): each
 * event seated there now offers the new seats of its types' sections. Each event is changed in a
 * transaction that claims it like a sale (DESIGN.md 7), so capacities and the ledger move together,
 * and the waitlist is served from the new seats in that same transaction (DESIGN.md 10).
 */
export async function seatEventsOfVenue(deps: EventDeps, venueId: string): Promise<void> {
  const events = await deps.models.Event.find({ venueId, status: { $ne: 'cancelled' } }, { _id: 1 }).lean();
  for (const { _id } of events) {
    const changed = await runTransaction(
      deps.db,
      async (session) => {
        const event = await claimSales(deps, { _id }, session);
        if (!event?.venueId || event.status === 'cancelled') return false;
        const venue = await venueFor(deps.models, event.venueId);
        const set: Record<string, number> = {
          totalTickets: seatsIn(
            venue,
            event.ticketTypes.flatMap((t) => t.sectionIds ?? []),
          ),
        };
        event.ticketTypes.forEach((t, i) => {
          if ((t.sectionIds ?? []).length > 0) set[`ticketTypes.${i}.capacity`] = seatsIn(venue, t.sectionIds);
        });
        // The listing's projection follows the new totalTickets (events/listing-projection.ts).
        const listed = listedFieldsOf({ ...event, totalTickets: set.totalTickets }, deps.clock.now());
        const saved = await deps.models.Event.findOneAndUpdate({ _id }, { $set: { ...set, ...listed } }, { session, new: true, timestamps: false }).lean<EventFields>();
        if (saved) await serveAfterChange(servingOf(deps), saved, session, deps.clock.now());
        return true;
      },
      { deadline: performance.now() + deps.config.BOOKING_TX_TIMEOUT_MS },
    );
    if (changed) await invalidateEventCache(deps.kv, _id, deps.log);
  }
}
