import type { EmailContext } from './context.js';
import { escapeHtml, htmlPage, money, type Rendered, textPage } from './layout.js';

/** The payment of a booking went back to the buyer. */
export function bookingRefunded({ recipientName, event, booking }: EmailContext): Rendered {
  const subject = `Refund for ${event.name}`;
  const amount = booking ? money(booking.totalPrice, booking.currency) : '';
  const text = [`Hello ${recipientName},`, `booking ${booking?.id ?? ''} for ${event.name} has been refunded: ${amount}.`];
  const html = [
    `Hello ${escapeHtml(recipientName)},`,
    `booking ${escapeHtml(booking?.id ?? '')} for <strong>${escapeHtml(event.name)}</strong> has been refunded: ${escapeHtml(amount)}.`,
  ];
  return { subject, text: textPage(text), html: htmlPage(subject, html) };
}
