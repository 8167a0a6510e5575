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

/** Runs autocannon programmatically; Ctrl-C stops the run early and still reports it. */
export function fire(opts: CannonOptions): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, result) => {
      process.off('SIGINT', stop);
      if (err) reject(err);
      else resolve(result);
    });
    const stop = () => instance.stop();
    process.once('SIGINT', stop);
  });
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export function toPhase(name: string, result: autocannon.Result): Phase {
  const statusCounts: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCounts[code] = stat.count ?? 0;
  const requests = result.requests.total;
  return {
    name,
    connections: result.connections,
    requests,
    seconds: result.duration,
    requestsPerSecond: result.duration > 0 ? round(requests / result.duration) : 0,
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
