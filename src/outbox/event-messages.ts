import type { EventFields } from '../events/event.model.js';
import type { OutboxMessageInput } from './types.js';

/**
 * event.cancelled: the event as it was cancelled, and the instant, which every booking the
 * cancellation cancelled carries as its cancelledAt (the emails go to their buyers).
 */
export function eventCancelledMessage(event: EventFields, cancelledAt: Date): OutboxMessageInput {
  return {
    type: 'event.cancelled',
    eventId: String(event._id),
    data: {
      event: {
        id: String(event._id),
        name: event.name,
        venue: event.venue,
        startsAt: event.startsAt.toISOString(),
        organizerId: String(event.organizerId),
        status: 'cancelled',
      },
      cancelledAt: cancelledAt.toISOString(),
    },
  };
}
