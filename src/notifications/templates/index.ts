import { bookingConfirmed } from './booking-confirmed.js';
import { bookingRefunded } from './booking-refunded.js';
import type { EmailContext } from './context.js';
import { eventCancelled } from './event-cancelled.js';
import { holdExpiring } from './hold-expiring.js';
import type { Rendered } from './layout.js';
import { waitlistOffered } from './waitlist-offered.js';

export type { EmailContext } from './context.js';
export type { Rendered } from './layout.js';

/** Every email the service sends, by name; each has a text and an HTML part. */
export const TEMPLATES = {
  'booking-confirmed': bookingConfirmed,
  'hold-expiring': holdExpiring,
  'waitlist-offered': waitlistOffered,
  'event-cancelled': eventCancelled,
  'booking-refunded': bookingRefunded,
} satisfies Record<string, (ctx: EmailContext) => Rendered>;

export type TemplateName = keyof typeof TEMPLATES;
export const isTemplateName = (name: string): name is TemplateName => Object.hasOwn(TEMPLATES, name);
