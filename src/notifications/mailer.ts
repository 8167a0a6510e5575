import type { FastifyBaseLogger } from 'fastify';
import { createTransport } from 'nodemailer';
import { type Config, ConfigError } from '../config.js';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Stable per outbox row, so a receiver (or the SMTP relay) can drop a resent duplicate. */
  messageId: string;
  attachments: { filename: string; content: Buffer; contentType: string; cid?: string }[];
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

// An SMTP server that stops answering must not hold a delivery past the worker's lease.
const SMTP_TIMEOUT_MS = 20_000;

/**
 * Sends through nodemailer to SMTP_URL. Without SMTP_URL, development and tests only log each mail
 * (recipient and subject); a production worker refuses to start instead (assertMailConfigured).
 */
export function createMailer(config: Config, log: FastifyBaseLogger): Mailer {
  if (!config.SMTP_URL) {
    return {
      async send(mail) {
        log.info({ to: mail.to, subject: mail.subject, attachments: mail.attachments.length }, 'email (not sent: SMTP_URL is not set)');
      },
      close() {},
    };
  }
  const transport = createTransport(config.SMTP_URL, { from: config.MAIL_FROM });
  transport.set('connectionTimeout', SMTP_TIMEOUT_MS);
  return {
    async send(mail) {
      await transport.sendMail({
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
        attachments: mail.attachments,
      });
    },
    close: () => transport.close(),
  };
}

/** Production sends real mail or does not run the worker (the issue: "production requires SMTP"). */
export function assertMailConfigured(config: Config): void {
  if (config.NODE_ENV === 'production' && !config.SMTP_URL) {
    throw new ConfigError(['SMTP_URL: is required in production to run the outbox worker (emails would only be logged)']);
  }
}
