import { AppError } from '../lib/errors.js';

/** The coupon answers of the API, in one place so bookings and the coupon routes agree. */
export const couponInvalid = (why: string) => new AppError(422, 'COUPON_INVALID', `The coupon cannot be used: ${why}`);

export const couponExhausted = (why: 'coupon' | 'user') =>
  new AppError(
    409,
    'COUPON_EXHAUSTED',
    why === 'coupon' ? 'This coupon has been redeemed as often as it may be' : 'You have redeemed this coupon as often as you may',
  );

export const couponCodeTaken = () => new AppError(409, 'COUPON_CODE_TAKEN', 'This event already has a coupon with this code');
