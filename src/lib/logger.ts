import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import pino, { type Bindings, type ChildLoggerOptions, type DestinationStream } from 'pino';
import type { Config } from '../config.js';

/**
 * Never log secrets: credentials and tokens are redacted at the top level of a log object and one
 * level down (`{ body: { password } }`), and in request headers. Deeper paths are not covered:
 * each extra wildcard level more than doubled pino's cost per line when measured (9 -> 23 µs), and
 * the service never logs bodies or nested request objects.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.passwordHash',
  '*.accessToken',
  '*.refreshToken',
  '*.token',
  'password',
  'passwordHash',
  'accessToken',
  'refreshToken',
];

export function loggerOptions(config: Config, stream?: DestinationStream): FastifyServerOptions['logger'] {
  return {
    level: config.NODE_ENV === 'test' && !stream ? 'silent' : config.LOG_LEVEL,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(stream ? { stream } : {}),
  };
}

/**
 * Standard output for the long-lived server, one write per turn of the event loop: the lines
 * logged during a turn (under load, the lines of every request that turn answered) go out together
 * at the next setImmediate, instead of one write system call per line (about a tenth of a cached
 * read's CPU in load profiles, BENCHMARKS.md). An idle server writes each line at once. Lines still
 * waiting when the process exits, also on a fatal error, are written on 'exit'; only a kill -9 can
 * lose them, at most one turn's worth. Serverless handlers keep pino's default: a frozen function
 * would not run the next turn.
 */
export function batchedStdout(): DestinationStream {
  const out = pino.destination({ dest: 1, sync: true });
  let waiting = '';
  const flush = () => {
    if (waiting === '') return;
    const text = waiting;
    waiting = '';
    out.write(text);
  };
  process.on('exit', flush);
  return {
    write(line: string) {
      if (waiting === '') setImmediate(flush);
      waiting += line;
    },
  };
}

type LogMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * A request's logger that turns into the real pino child (bound to the request id) only when the
 * request logs a line of its own. Fastify makes that child for every request, and pino builds the
 * child's bound JSON right away and runs redaction over it: about 3% of a replay's CPU in load
 * profiles, for requests that mostly log nothing but their one line per request, which
 * request-context writes itself. Lines that are logged are the same as the child's would be.
 */
class DeferredChildLogger implements FastifyBaseLogger {
  #child: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private real(): FastifyBaseLogger {
    return (this.#child ??= this.parent.child(this.bindings, this.options));
  }

  private forward(method: LogMethod, args: unknown[]): void {
    (this.real()[method] as (...a: unknown[]) => void)(...args);
  }

  get level(): string {
    return this.#child?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  fatal(...args: unknown[]): void {
    this.forward('fatal', args);
  }
  error(...args: unknown[]): void {
    this.forward('error', args);
  }
  warn(...args: unknown[]): void {
    this.forward('warn', args);
  }
  info(...args: unknown[]): void {
    this.forward('info', args);
  }
  debug(...args: unknown[]): void {
    this.forward('debug', args);
  }
  trace(...args: unknown[]): void {
    this.forward('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }
}

export const deferredChildLoggerFactory: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, options) =>
  new DeferredChildLogger(logger, bindings, options);
