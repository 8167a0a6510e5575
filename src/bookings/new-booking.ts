import { Types } from 'mongoose';
import type { BookingFields, BookingItem } from './booking.model.js';
import type { TicketFields } from '../tickets/ticket.schema.js';

/** What a sale decides about a new booking; everything else starts at the schema's defaults. */
export interface NewBooking {
  eventId: Types.ObjectId;
  userId: Types.ObjectId;
  quantity: number;
  items: (Omit<BookingItem, 'seats'> & { seats?: string[] })[];
  status: 'pending' | 'confirmed';
  unitPrice: number;
  subtotal: number;
  discount: number;
  totalPrice: number;
  couponCode: string | null;
  couponId: Types.ObjectId | null;
  currency: string;
  expiresAt: Date | null;
  tickets: TicketFields[];
  confirmedAt: Date | null;
  idempotencyKey: string | null;
  requestFingerprint: string | null;
  /** The app clock's now (tests move it): createdAt and updatedAt alike. */
  at: Date;
}

/**
 * A new booking as the database stores it, built as a plain object: exactly what a Mongoose
 * document of the schema would hold after casting and defaults (test/new-booking.test.ts holds
 * the two equal), without building one. A sale used to construct, validate and convert a document
 * per booking, the largest part of its cost in hot-drop profiles (BENCHMARKS.md).
 */
export function newBookingRecord({ at, items, ...fields }: NewBooking): BookingFields {
  return {
    _id: new Types.ObjectId(),
    ...fields,
    // A line without seats has no `seats` at all (the schema's default is undefined, not []).
    // (The inferred type names Mongoose's document array; stored and read lean, it is a plain array.)
    items: items.map(({ seats, ...line }) => (seats ? { ...line, seats } : line)) as BookingFields['items'],
    confirmIdempotencyKey: null,
    confirmFingerprint: null,
    paymentReference: null,
    cancelledAt: null,
    expiryAnnouncedAt: null,
    expiryReminderAt: null,
    failureReason: null,
    createdAt: at,
    updatedAt: at,
  };
}
