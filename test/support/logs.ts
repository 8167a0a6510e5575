import { Writable } from 'node:stream';

export interface LogCapture {
  stream: Writable;
  /** Every line the app wrote, as written. */
  raw: string[];
  /** The lines parsed (pino writes one JSON object per line). */
  entries(): Record<string, unknown>[];
  /** Lines at error level or above (pino: 50 error, 60 fatal). */
  errors(): Record<string, unknown>[];
}

/** A Writable to hand to buildTestApp's `logStream`, keeping what the app logs. */
export function captureLogs(): LogCapture {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) raw.push(line);
      done();
    },
  });
  const entries = () => raw.map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    stream,
    raw,
    entries,
    errors: () => entries().filter((e) => typeof e.level === 'number' && e.level >= 50),
  };
}
