import CircuitBreaker from 'opossum';
import { AppError } from '../lib/errors.js';

/**
 * Every call to the payment provider goes through one circuit breaker (opossum) with a timeout
 * (DESIGN.md 8). While the provider fails, or the breaker is open, callers answer 503
 * PAYMENT_PROVIDER_UNAVAILABLE with Retry-After and change nothing: the hold is kept.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  timeoutMs: number;
  resetMs: number;
  /** Failures (in percent of calls in the rolling window) that open the breaker. */
  errorThresholdPercentage: number;
  /** Calls in the window before the percentage counts, so one early failure does not open it. */
  volumeThreshold: number;
}

export const providerUnavailable = (retryAfterSeconds: number, cause?: unknown) =>
  new AppError(503, 'PAYMENT_PROVIDER_UNAVAILABLE', 'The payment provider is not answering; nothing was charged, the hold is kept. Retry shortly', {
    headers: { 'retry-after': String(retryAfterSeconds) },
    cause,
  });

export interface ProviderBreaker {
  /** Runs one provider call; throws providerUnavailable() when it fails, times out or is refused. */
  run<T>(call: () => Promise<T>): Promise<T>;
  state(): BreakerState;
  close(): void;
}

export function createBreaker(options: BreakerOptions, onStateChange?: (state: BreakerState) => void): ProviderBreaker {
  const breaker = new CircuitBreaker(async (call: () => Promise<unknown>) => call(), {
    timeout: options.timeoutMs,
    resetTimeout: options.resetMs,
    errorThresholdPercentage: options.errorThresholdPercentage,
    volumeThreshold: options.volumeThreshold,
    rollingCountTimeout: 10_000,
  });
  let openedAt = 0;
  const state = (): BreakerState => (breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed');
  breaker.on('open', () => {
    openedAt = Date.now();
    onStateChange?.('open');
  });
  breaker.on('halfOpen', () => onStateChange?.('half-open'));
  breaker.on('close', () => onStateChange?.('closed'));

  /** Until the breaker lets a trial call through; at least a second. */
  const retryAfter = () =>
    breaker.opened ? Math.max(1, Math.ceil((openedAt + options.resetMs - Date.now()) / 1000)) : 2;

  return {
    async run<T>(call: () => Promise<T>): Promise<T> {
      try {
        return (await breaker.fire(call)) as T;
      } catch (err) {
        throw providerUnavailable(retryAfter(), err);
      }
    },
    state,
    close: () => breaker.shutdown(),
  };
}
