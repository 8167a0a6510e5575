import type { EmailContext } from './context.js';
import { escapeHtml, htmlPage, type Rendered, textPage, when } from './layout.js';

/** Tickets came free and are held for a waitlist entry until the offer ends. */
export function waitlistOffered({ recipientName, event, booking }: EmailContext): Rendered {
  const subject = `Tickets for ${event.name} are waiting for you`;
  const text = [
    `Hello ${recipientName},`,
    `${booking?.quantity ?? 0} ticket(s) for ${event.name} are held for you until ${when(booking?.expiresAt)}. Confirm booking ${booking?.id ?? ''} to get them; after that they go to the next person waiting.`,
  ];
  const html = [
    `Hello ${escapeHtml(recipientName)},`,
    `${booking?.quantity ?? 0} ticket(s) for <strong>${escapeHtml(event.name)}</strong> are held for you until ${when(booking?.expiresAt)}. Confirm booking ${escapeHtml(booking?.id ?? '')} to get them; after that they go to the next person waiting.`,
  ];
  return { subject, text: textPage(text), html: htmlPage(subject, html) };
}
