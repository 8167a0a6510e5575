/** A finished answer as the idempotency store keeps it, ready to be sent again. */
export interface FinishedAnswer {
  fingerprint: string;
  status: number;
  contentType: string;
  body: string;
  /** Wall-clock ms when the store forgets it (its TTL); an answer is never replayed from here after that. */
  until: number;
}

/**
 * The finished answers this process has already replayed once, kept in memory so that a client
 * retrying the same key again and again (a retry storm) costs no Redis round trip and no parse.
 *
 * Safe because a finished answer never changes: the store writes it once and only lets it expire,
 * so a copy is exactly what the store would say until its `until` (wall clock, like Redis's TTL).
 * Only answers that were replayed once come in: most keys are never retried, and a key that was is
 * the one a client keeps sending. A running claim is never kept (it changes when its request ends).
 * Bounded by the bytes of the bodies held; the oldest entries leave first.
 */
export class ReplayCache {
  readonly #entries = new Map<string, FinishedAnswer>();
  #bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(storeKey: string, nowMs: number): FinishedAnswer | undefined {
    const answer = this.#entries.get(storeKey);
    if (answer === undefined || answer.until > nowMs) return answer;
    this.#remove(storeKey, answer);
    return undefined;
  }

  remember(storeKey: string, answer: FinishedAnswer, nowMs: number): void {
    const size = answer.body.length;
    if (answer.until <= nowMs || size > this.maxBytes || this.#entries.has(storeKey)) return;
    for (const [key, old] of this.#entries) {
      if (this.#bytes + size <= this.maxBytes) break;
      this.#remove(key, old);
    }
    this.#entries.set(storeKey, answer);
    this.#bytes += size;
  }

  get size(): number {
    return this.#entries.size;
  }

  #remove(storeKey: string, answer: FinishedAnswer): void {
    this.#entries.delete(storeKey);
    this.#bytes -= answer.body.length;
  }
}
