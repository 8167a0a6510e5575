import type { EmailContext } from './context.js';
import { escapeHtml, htmlPage, money, type Rendered, textPage, when } from './layout.js';

/** Booking confirmed: the tickets, each also attached as a QR code (notifications/emails.ts). */
export function bookingConfirmed({ recipientName, event, booking }: EmailContext): Rendered {
  const subject = `Your tickets for ${event.name}`;
  const tickets = booking?.tickets ?? [];
  const lines = tickets.map((t) => `Ticket ${t.number}`);
  const total = booking ? money(booking.totalPrice, booking.currency) : '';
  const text = [
    `Hello ${recipientName},`,
    `your booking ${booking?.id ?? ''} for ${event.name} (${event.venue}, ${when(event.startsAt)}) is confirmed: ${tickets.length} ticket(s), ${total}.`,
    lines.join('\n'),
    'Each ticket is attached as a QR code; show it at the entrance.',
  ];
  const html = [
    `Hello ${escapeHtml(recipientName)},`,
    `your booking ${escapeHtml(booking?.id ?? '')} for <strong>${escapeHtml(event.name)}</strong> (${escapeHtml(event.venue)}, ${when(event.startsAt)}) is confirmed: ${tickets.length} ticket(s), ${escapeHtml(total)}.`,
    `<ul>${tickets.map((t) => `<li>Ticket ${escapeHtml(t.number)}</li>`).join('')}</ul>`,
    'Each ticket is attached as a QR code; show it at the entrance.',
  ];
  return { subject, text: textPage(text), html: htmlPage(subject, html) };
}
