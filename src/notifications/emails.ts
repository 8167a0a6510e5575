import type { FastifyBaseLogger } from 'fastify';
import { Types } from 'mongoose';
import QRCode from 'qrcode';
import type { Models } from '../models.js';
import { DeliveryError } from '../outbox/errors.js';
import type { OutboxFields } from '../outbox/message.model.js';
import type { Json } from '../outbox/types.js';
import type { Mailer, OutgoingMail } from './mailer.js';
import { type EmailContext, isTemplateName, TEMPLATES, type TemplateName } from './templates/index.js';

/** One email a message asks for: the fan-out stores it as an `email` outbox row. */
export interface PlannedEmail {
  target: string;
  data: { template: TemplateName; userId: string; booking: Json };
}

type BookingSnapshot = NonNullable<EmailContext['booking']> & { userId: string };

const asBooking = (value: unknown): BookingSnapshot | null => {
  if (typeof value !== 'object' || value === null) return null;
  const b = value as Partial<BookingSnapshot>;
  return typeof b.id === 'string' && typeof b.userId === 'string' ? (b as BookingSnapshot) : null;
};

const one = (template: TemplateName, booking: BookingSnapshot): PlannedEmail => ({
  target: `email:${template}:${booking.id}`,
  data: { template, userId: booking.userId, booking: booking as unknown as Json },
});

// Which message sends which email to the buyer; the other types are for webhooks only.
const BY_TYPE: Partial<Record<string, TemplateName>> = {
  'booking.confirmed': 'booking-confirmed',
  'booking.expiring': 'hold-expiring',
  'booking.refunded': 'booking-refunded',
  'waitlist.offered': 'waitlist-offered',
};

type EmailModels = Pick<Models, 'Booking' | 'Event' | 'User'>;

/** The emails a message causes: one per buyer concerned. */
export async function planEmails(models: EmailModels, message: OutboxFields): Promise<PlannedEmail[]> {
  const data = message.data as { booking?: unknown; cancelledAt?: unknown };
  const template = BY_TYPE[message.type];
  if (template) {
    const booking = asBooking(data.booking);
    return booking ? [one(template, booking)] : [];
  }
  if (message.type === 'event.cancelled' && message.eventId && typeof data.cancelledAt === 'string') {
    // The bookings the cancellation itself cancelled: they carry its cancelledAt (events/service.ts).
    const cancelled = await models.Booking.find({
      eventId: message.eventId,
      status: { $in: ['cancelled', 'refunded'] },
      cancelledAt: new Date(data.cancelledAt),
    }).lean();
    return cancelled.map((b) =>
      one('event-cancelled', {
        id: String(b._id),
        userId: String(b.userId),
        quantity: b.quantity,
        totalPrice: b.totalPrice,
        currency: b.currency,
        expiresAt: null,
        tickets: b.tickets.map((t) => ({ number: t.number })),
      }),
    );
  }
  return [];
}

/** A PNG QR code per ticket: the ticket number, which the door scans. */
async function ticketCodes(booking: BookingSnapshot): Promise<OutgoingMail['attachments']> {
  return Promise.all(
    booking.tickets.map(async (t) => ({
      filename: `ticket-${t.number}.png`,
      content: await QRCode.toBuffer(t.number, { type: 'png', errorCorrectionLevel: 'M', margin: 2, width: 300 }),
      contentType: 'image/png',
    })),
  );
}

export interface EmailDeps {
  models: EmailModels;
  mailer: Mailer;
  log: FastifyBaseLogger;
  /** The domain of Message-ID headers. */
  messageIdDomain: string;
}

/** Delivers one `email` row: renders its template with fresh names and sends it. */
export async function deliverEmail(deps: EmailDeps, row: OutboxFields): Promise<void> {
  const data = row.data as { template?: string; userId?: string; booking?: unknown };
  const booking = asBooking(data.booking);
  if (!data.template || !isTemplateName(data.template) || !data.userId || !Types.ObjectId.isValid(data.userId)) {
    throw new DeliveryError('malformed email row', { permanent: true });
  }
  const [user, event] = await Promise.all([
    deps.models.User.findById(data.userId, { email: 1, name: 1 }).lean(),
    row.eventId ? deps.models.Event.findById(row.eventId, { name: 1, venue: 1, startsAt: 1 }).lean() : null,
  ]);
  // An account or event deleted since: nobody to write to, and trying again will not change that.
  if (!user) throw new DeliveryError('the recipient no longer exists', { permanent: true });
  const context: EmailContext = {
    recipientName: user.name,
    event: { name: event?.name ?? 'your event', venue: event?.venue ?? '', startsAt: event?.startsAt?.toISOString() ?? null },
    booking,
  };
  const rendered = TEMPLATES[data.template](context);
  const attachments = data.template === 'booking-confirmed' && booking ? await ticketCodes(booking) : [];
  await deps.mailer.send({ to: user.email, ...rendered, messageId: `<${String(row._id)}@${deps.messageIdDomain}>`, attachments });
}
