import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** One autocannon run, reduced to the figures the reports use. */
export interface Phase {
  name: string;
  connections: number;
  /** Responses received. */
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: Latency;
  statusCounts: Record<string, number>;
  /** Connection errors and timeouts (requests that got no answer). */
  errors: number;
  timeouts: number;
  /** Average size of an answer on the wire, headers included. */
  bytesPerResponse: number;
}

export type CannonOptions = autocannon.Options & { title: string };

/**
 * autocannon's result, plus the time from the start to the last answer. autocannon ends a run of a
 * fixed `amount` at its next one-second tick, so its `duration` rounds such a run up to whole
 * seconds (500 purchases answered in 1.3 s counted as 2.0 s); rates use the last answer instead.
 */
export type FiredResult = autocannon.Result & { activeSeconds: number };

/** Runs autocannon programmatically; Ctrl-C stops the run early and still reports it. */
export function fire(opts: CannonOptions): Promise<FiredResult> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    let lastAnswerAt = startedAt;
    const instance = autocannon(opts, (err, result) => {
      process.off('SIGINT', stop);
      if (err) reject(err);
      else resolve({ ...result, activeSeconds: Math.round(lastAnswerAt - startedAt) / 1000 });
    });
    instance.on('response', () => {
      lastAnswerAt = performance.now();
    });
    const stop = () => instance.stop();
    process.once('SIGINT', stop);
  });
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export function toPhase(name: string, result: autocannon.Result & { activeSeconds?: number }): Phase {
  const statusCounts: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCounts[code] = stat.count ?? 0;
  const requests = result.requests.total;
  // Up to the last answer when known (see FiredResult), else autocannon's own duration.
  const seconds = result.activeSeconds && result.activeSeconds > 0 ? result.activeSeconds : result.duration;
  return {
    name,
    connections: result.connections,
    requests,
    seconds,
    requestsPerSecond: seconds > 0 ? round(requests / seconds) : 0,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: round(result.latency.mean, 2),
    },
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    bytesPerResponse: requests > 0 ? Math.round(result.throughput.total / requests) : 0,
  };
}

/** Case-insensitive header lookup on autocannon's response headers. */
export function header(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? String(value[0]) : String(value);
  }
  return undefined;
}

/** The `code` of a problem+json body, or undefined. */
export function problemCode(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { code?: unknown };
    return typeof parsed.code === 'string' ? parsed.code : undefined;
  } catch {
    return undefined;
  }
}
