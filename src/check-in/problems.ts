import { AppError } from '../lib/errors.js';

export { ticketVoid } from '../tickets/service.js';

/** The check-in answers of API.md, in one place so the single scan and the batch agree. */
export const alreadyCheckedIn = (checkedInAt: Date) =>
  new AppError(409, 'ALREADY_CHECKED_IN', `This ticket was already checked in at ${checkedInAt.toISOString()}`, {
    extra: { checkedInAt: checkedInAt.toISOString() },
  });

export const wrongEvent = () => new AppError(422, 'WRONG_EVENT', 'This ticket is for another event');

export const invalidTicketCode = () =>
  new AppError(422, 'INVALID_TICKET_CODE', 'This is not a valid ticket code: its signature does not verify');
