import { Types } from 'mongoose';
import type { Role } from '../auth/user.model.js';
import type { BookingFields } from '../bookings/booking.model.js';
import { AppError, forbidden, notFound } from '../lib/errors.js';
import type { Models } from '../models.js';
import type { TicketFields } from './ticket.schema.js';

export interface TicketActor {
  userId: string;
  role: Role;
}

export interface FoundTicket {
  booking: Pick<BookingFields, '_id' | 'eventId' | 'userId' | 'status'>;
  ticket: TicketFields;
}

export const ticketVoid = () =>
  new AppError(410, 'TICKET_VOID', 'This ticket is void: its booking was cancelled or refunded');

/** The ticket with this id and its booking, or null. */
export async function findTicket(models: Pick<Models, 'Booking'>, ticketId: string): Promise<FoundTicket | null> {
  const id = new Types.ObjectId(ticketId);
  const booking = await models.Booking.findOne(
    { 'tickets._id': id },
    { eventId: 1, userId: 1, status: 1, tickets: { $elemMatch: { _id: id } } },
  ).lean<Pick<BookingFields, '_id' | 'eventId' | 'userId' | 'status' | 'tickets'>>();
  const ticket = booking?.tickets.find((t) => t._id.equals(id));
  if (!booking || !ticket) return null;
  return { booking, ticket };
}

/** GET /tickets/:id: the booking's owner, the event's organizer, admins; 404 for anyone else. */
export async function visibleTicket(models: Pick<Models, 'Booking' | 'Event'>, actor: TicketActor, ticketId: string): Promise<FoundTicket> {
  const found = await findTicket(models, ticketId);
  if (!found) throw notFound('Ticket');
  if (actor.role === 'admin' || String(found.booking.userId) === actor.userId) return found;
  const event = await models.Event.findById(found.booking.eventId, { organizerId: 1 }).lean();
  if (event && String(event.organizerId) === actor.userId) return found;
  throw notFound('Ticket');
}

/**
 * The QR image is the ticket itself: only the booking's owner gets it. The organizer and admins,
 * who may read the ticket, are refused (403); anyone else does not learn it exists (404). A void
 * ticket's image would only mislead at the door: 410.
 */
export async function ticketForQr(models: Pick<Models, 'Booking' | 'Event'>, actor: TicketActor, ticketId: string): Promise<TicketFields & { code: string }> {
  const { booking, ticket } = await visibleTicket(models, actor, ticketId);
  if (String(booking.userId) !== actor.userId) throw forbidden("Only the ticket's owner can get its QR code");
  if (booking.status !== 'confirmed') throw ticketVoid();
  if (!ticket.code) throw notFound('Ticket code');
  return { ...ticket, code: ticket.code };
}
