import type { ClientSession, Types } from 'mongoose';

/** What `waitlist.offered` says: whose entry got which pending booking, until when. */
export interface OfferMade {
  eventId: Types.ObjectId;
  entryId: Types.ObjectId;
  userId: Types.ObjectId;
  bookingId: Types.ObjectId;
  ticketTypeId: Types.ObjectId;
  quantity: number;
  expiresAt: Date;
}

/**
 * The one place where the `waitlist.offered` announcement (email and webhook) leaves. It is called
 * inside the transaction that makes the offers, with its session, so once the transactional outbox
 * exists (src/outbox `enqueue(session, { type, eventId, data })`) this body becomes one enqueue per
 * offer and the announcement commits or fails with the offer (DESIGN.md 9). Until then it sends
 * nothing: the offer is still visible to its owner (GET /events/:id/waitlist/me, GET /bookings).
 */
export async function announceWaitlistOffers(session: ClientSession, offers: OfferMade[]): Promise<void> {
  void session;
  void offers;
}
