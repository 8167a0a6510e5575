import fc from 'fast-check';
import mongoose, { Types } from 'mongoose';
import { describe, expect, it } from 'vitest';
import { bookingModel } from '../src/bookings/booking.model.js';
import { type NewBooking, newBookingRecord } from '../src/bookings/new-booking.js';

// No connection is needed: documents are only built and validated, never saved.
const Booking = bookingModel(new mongoose.Mongoose().connection);

const objectId = fc.constant(null).map(() => new Types.ObjectId());
const date = fc.date({ min: new Date('2026-01-01'), max: new Date('2030-01-01'), noInvalidDate: true });
const ticket = fc.record({
  _id: objectId,
  number: fc.string({ minLength: 12, maxLength: 12 }),
  ticketTypeId: fc.option(objectId),
  seat: fc.option(fc.string({ minLength: 1 })),
  code: fc.option(fc.string({ minLength: 1 })),
  checkedInAt: fc.constant(null),
});
const newBooking: fc.Arbitrary<NewBooking> = fc.record({
  eventId: objectId,
  userId: objectId,
  quantity: fc.integer({ min: 1, max: 20 }),
  items: fc.array(
    fc.record(
      {
        ticketTypeId: objectId,
        name: fc.string({ minLength: 1 }),
        quantity: fc.integer({ min: 1, max: 10 }),
        unitPrice: fc.integer({ min: 0, max: 100_000 }),
        seats: fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 3 }),
      },
      { requiredKeys: ['ticketTypeId', 'name', 'quantity', 'unitPrice'] },
    ),
    { minLength: 1, maxLength: 3 },
  ),
  status: fc.constantFrom('pending' as const, 'confirmed' as const),
  unitPrice: fc.integer({ min: 0, max: 100_000 }),
  subtotal: fc.integer({ min: 0, max: 100_000 }),
  discount: fc.integer({ min: 0, max: 100_000 }),
  totalPrice: fc.integer({ min: 0, max: 100_000 }),
  couponCode: fc.option(fc.string({ minLength: 1 })),
  couponId: fc.option(objectId),
  currency: fc.constantFrom('EUR', 'USD'),
  expiresAt: fc.option(date),
  tickets: fc.array(ticket, { maxLength: 3 }),
  confirmedAt: fc.option(date),
  idempotencyKey: fc.option(fc.string({ minLength: 1 })),
  requestFingerprint: fc.option(fc.string({ minLength: 1 })),
  at: date,
});

describe('newBookingRecord', () => {
  it('is exactly what a Mongoose document of the schema holds: casting and defaults change nothing, and it is valid', () => {
    fc.assert(
      fc.property(newBooking, (input) => {
        const record = newBookingRecord(input);
        const doc = new Booking(record);
        expect(doc.validateSync()).toBeUndefined();
        expect(doc.toObject()).toEqual(record);
        // Every field of the schema is present (none left to a default the database never saw).
        for (const path of Object.keys(Booking.schema.paths).filter((p) => !p.includes('.'))) {
          expect(record, path).toHaveProperty(path);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('leaves `seats` out of a line that has none, as the schema does (never null or [])', () => {
    const at = new Date('2026-06-01T10:00:00Z');
    const record = newBookingRecord({
      eventId: new Types.ObjectId(),
      userId: new Types.ObjectId(),
      quantity: 1,
      items: [{ ticketTypeId: new Types.ObjectId(), name: 'GA', quantity: 1, unitPrice: 0, seats: undefined }],
      status: 'confirmed',
      unitPrice: 0,
      subtotal: 0,
      discount: 0,
      totalPrice: 0,
      couponCode: null,
      couponId: null,
      currency: 'EUR',
      expiresAt: null,
      tickets: [],
      confirmedAt: at,
      idempotencyKey: null,
      requestFingerprint: null,
      at,
    });
    expect(record.items).toHaveLength(1);
    expect(Object.keys(record.items?.[0] ?? {})).not.toContain('seats');
    expect(record.createdAt).toEqual(at);
    expect(record.updatedAt).toEqual(at);
  });
});
