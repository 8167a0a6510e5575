import { AppError } from '../lib/errors.js';

export const paymentRequired = () =>
  new AppError(402, 'PAYMENT_REQUIRED', 'This booking is confirmed by a succeeded payment: pay for it first (POST /bookings/:id/payments)');

export const invalidSignature = (why: string) =>
  new AppError(400, 'INVALID_SIGNATURE', `The webhook signature does not verify: ${why}`);

export const notPayable = (why: string) => new AppError(409, 'INVALID_STATE', `This booking cannot be paid: ${why}`);
