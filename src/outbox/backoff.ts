/**
 * When to try a failed delivery again: an exponential ramp (30 s, 1 min, 2 min, ... capped at 1 h)
 * with jitter, so that many deliveries failing together (an endpoint down) do not all come back at
 * the same instant. "Equal jitter": half the step is fixed and half random, so the wait still grows
 * with every attempt (full jitter could retry a dead endpoint at once, many times over).
 */
export const BACKOFF_BASE_MS = 30_000;
export const BACKOFF_CAP_MS = 3_600_000;

/** The wait before attempt `attempts + 1`, after `attempts` failed ones (1, 2, ...). */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number {
  const step = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(Math.max(attempts - 1, 0), 20));
  return Math.round(step / 2 + random() * (step / 2));
}
