import type { EmailContext } from './context.js';
import { escapeHtml, htmlPage, type Rendered, textPage, when } from './layout.js';

/** A hold is about to let its tickets go (HOLD_REMINDER_SECONDS before expiresAt). */
export function holdExpiring({ recipientName, event, booking }: EmailContext): Rendered {
  const subject = `Your hold for ${event.name} expires soon`;
  const until = when(booking?.expiresAt);
  const text = [
    `Hello ${recipientName},`,
    `you are holding ${booking?.quantity ?? 0} ticket(s) for ${event.name} until ${until}. Confirm booking ${booking?.id ?? ''} before then, or the tickets go back on sale.`,
  ];
  const html = [
    `Hello ${escapeHtml(recipientName)},`,
    `you are holding ${booking?.quantity ?? 0} ticket(s) for <strong>${escapeHtml(event.name)}</strong> until ${until}. Confirm booking ${escapeHtml(booking?.id ?? '')} before then, or the tickets go back on sale.`,
  ];
  return { subject, text: textPage(text), html: htmlPage(subject, html) };
}
