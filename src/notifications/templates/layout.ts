/** Shared pieces of every email: escaping, money, dates and the HTML frame. */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Every value put into HTML goes through this: names and event titles are user input. */
export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);

/** Money is in minor units (API.md Conventions): 2500 EUR is "25.00 EUR". */
export const money = (minor: number, currency: string): string => `${(minor / 100).toFixed(2)} ${currency}`;

/** Dates in UTC, spelled out the same for every reader (we do not know their time zone). */
export const when = (iso: string | null | undefined): string =>
  iso ? `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC` : 'unknown time';

export interface Rendered {
  subject: string;
  text: string;
  html: string;
}

/** The HTML part: a plain frame around paragraphs that are already escaped. */
export function htmlPage(title: string, paragraphs: string[]): string {
  const body = paragraphs.map((p) => `<p>${p}</p>`).join('\n');
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n<body>\n<h1>${escapeHtml(title)}</h1>\n${body}\n</body></html>\n`;
}

/** The text part: the same paragraphs, one blank line apart. */
export const textPage = (paragraphs: string[]): string => `${paragraphs.join('\n\n')}\n`;
