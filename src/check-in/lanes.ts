/**
 * Runs work one at a time per key (a booking) in this process. The tickets of a booking share its
 * document, and a check-in is a transaction (the write plus its outbox message): concurrent scans
 * of one booking's tickets would only meet write conflicts and retry each other into the
 * transaction deadline. Queued here, they commit one after another; another process's scans still
 * conflict now and then, which the transaction's retries absorb.
 */
export class KeyedLanes {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    const result = before.then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    // The last one out removes the key, so the map holds only bookings being scanned right now.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
