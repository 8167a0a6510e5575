import type { ClientSession, Types } from 'mongoose';
import type { BookingFields } from '../bookings/booking.model.js';
import { bookingData } from '../outbox/booking-messages.js';
import type { Outbox } from '../outbox/outbox.js';
import type { OutboxMessageInput } from '../outbox/types.js';

/** What `waitlist.offered` says: whose entry got which pending booking, until when. */
export interface OfferMade {
  eventId: Types.ObjectId;
  entryId: Types.ObjectId;
  userId: Types.ObjectId;
  bookingId: Types.ObjectId;
  ticketTypeId: Types.ObjectId;
  quantity: number;
  expiresAt: Date;
  /** The offer's pending booking as inserted: the message's `booking` (the email is written from it). */
  booking: BookingFields;
}

/** One `waitlist.offered` message: `{ booking }` like the booking.* messages, plus the entry it serves. */
export function offeredMessage(offer: OfferMade): OutboxMessageInput {
  return {
    type: 'waitlist.offered',
    eventId: String(offer.eventId),
    data: {
      booking: bookingData(offer.booking),
      waitlistEntry: {
        id: String(offer.entryId),
        ticketTypeId: String(offer.ticketTypeId),
        quantity: offer.quantity,
        offerExpiresAt: offer.expiresAt.toISOString(),
      },
    },
  };
}

/**
 * The one place where the `waitlist.offered` announcement (email to the entry's owner, webhooks to
 * the organizer) leaves: one outbox message per offer, enqueued with the session of the transaction
 * that makes the offers, so the announcement commits or fails with the offer (DESIGN.md 9).
 */
export async function announceWaitlistOffers(outbox: Pick<Outbox, 'enqueue'>, session: ClientSession, offers: OfferMade[]): Promise<void> {
  await outbox.enqueue(session, offers.map(offeredMessage));
}
