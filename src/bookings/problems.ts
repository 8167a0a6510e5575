import { AppError } from '../lib/errors.js';

/** The booking answers of API.md, in one place so the service and the idempotency layer agree. */
/** Names the type that ran short (when the order names types) and what is left of it. */
export const soldOut = (availableTickets: number, ticketTypeId?: string, name?: string) =>
  new AppError(
    409,
    'SOLD_OUT',
    name ? `Not enough "${name}" tickets are left for this booking` : 'Not enough tickets are left for this booking',
    { extra: ticketTypeId ? { availableTickets, ticketTypeId } : { availableTickets } },
  );

export const ticketTypeRequired = () =>
  new AppError(400, 'TICKET_TYPE_REQUIRED', 'This event sells several ticket types: name them in items');

export const lineOutOfRange = (path: string, max: number, what: string) =>
  new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', {
    errors: [{ path, message: `must be between 1 and ${max} for ${what}` }],
  });

export const notOnSale = (why: string) => new AppError(409, 'EVENT_NOT_ON_SALE', `This event is not on sale: ${why}`);

export const quantityOutOfRange = (max: number) =>
  new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', {
    errors: [{ path: 'quantity', message: `must be between 1 and ${max} for this event` }],
  });

export const holdExpired = () => new AppError(410, 'HOLD_EXPIRED', 'The hold on these tickets has expired; book again');

export const invalidState = (status: string) =>
  new AppError(409, 'INVALID_STATE', `Only a pending booking can be confirmed; this one is ${status}`);

export const keyReused = () =>
  new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used for a different request');

export const requestInProgress = (retryAfterSeconds: number) =>
  new AppError(409, 'IDEMPOTENCY_REQUEST_IN_PROGRESS', 'A request with this Idempotency-Key is still being processed', {
    headers: { 'retry-after': String(retryAfterSeconds) },
  });

/** Seats named by the buyer that are sold or held (API.md Venues and seats). */
export const seatUnavailable = (seats: string[]) =>
  new AppError(409, 'SEAT_UNAVAILABLE', `${seats.length === 1 ? 'This seat is' : 'These seats are'} already taken: ${seats.join(', ')}`, {
    extra: { seats },
  });

/** Seats the event does not sell (unknown, another venue's or event's, or a section no type covers). */
export const seatsNotOffered = (seats: string[]) =>
  new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', {
    errors: [{ path: 'seats', message: `not seats this event sells: ${seats.join(', ')}` }],
    extra: { seats },
  });

export const seatsInvalid = (path: string, message: string) =>
  new AppError(400, 'VALIDATION_FAILED', 'The request is not valid', { errors: [{ path, message }] });
