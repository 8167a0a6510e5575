import type { EmailContext } from './context.js';
import { escapeHtml, htmlPage, type Rendered, textPage, when } from './layout.js';

/** The organizer cancelled the event; every booking it still counted was cancelled with it. */
export function eventCancelled({ recipientName, event, booking }: EmailContext): Rendered {
  const subject = `${event.name} has been cancelled`;
  const text = [
    `Hello ${recipientName},`,
    `${event.name} (${event.venue}, ${when(event.startsAt)}) has been cancelled, and with it your booking ${booking?.id ?? ''}. A paid booking is refunded; you will get a separate email when it is.`,
  ];
  const html = [
    `Hello ${escapeHtml(recipientName)},`,
    `<strong>${escapeHtml(event.name)}</strong> (${escapeHtml(event.venue)}, ${when(event.startsAt)}) has been cancelled, and with it your booking ${escapeHtml(booking?.id ?? '')}. A paid booking is refunded; you will get a separate email when it is.`,
  ];
  return { subject, text: textPage(text), html: htmlPage(subject, html) };
}
