import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server for the tests (the `smtp-server` package): it accepts every mail and keeps it
 * parsed by `mailparser`, so tests assert on what a mail client would show.
 */
export class SmtpSink {
  readonly mails: ParsedMail[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  private readonly server: SMTPServer;
  port = 0;

  private constructor() {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, _session, callback) => {
        simpleParser(stream).then(
          (mail) => {
            this.receive(mail);
            callback();
          },
          (err: Error) => callback(err),
        );
      },
    });
  }

  static async start(): Promise<SmtpSink> {
    const sink = new SmtpSink();
    await new Promise<void>((resolve) => sink.server.listen(0, '127.0.0.1', resolve));
    sink.port = (sink.server.server.address() as AddressInfo).port;
    return sink;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  private receive(mail: ParsedMail): void {
    this.mails.push(mail);
    this.waiters = this.waiters.filter((w) => {
      if (this.mails.length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  /** Mails sent to one address. */
  to(address: string): ParsedMail[] {
    return this.mails.filter((m) => {
      const to = Array.isArray(m.to) ? m.to : m.to ? [m.to] : [];
      return to.some((a) => a.value.some((v) => v.address === address));
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
