import { performance } from 'node:perf_hooks';

/**
 * Runs work that contends for one document, one lane per key (an event, a booking) in this
 * process, and decides the items waiting together in one go (group commit).
 *
 * Correctness never depends on it: the document write inside each transaction is what decides,
 * across any number of processes (DESIGN.md 1). The desk makes a rush fast. Without it, hundreds of
 * concurrent transactions that all write the same document mostly fail with WriteConflict and their
 * retries crowd out the one transaction that holds the document. With it, transactions of a key
 * run one after the other, and items waiting together are decided together in one transaction.
 * Only transactions from other instances, or other writers, can still conflict; transaction.ts
 * retries those. Sales use it per event (bookings/service.ts), check-ins per booking
 * (check-in/service.ts).
 */

export interface Settle<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

export interface BatchItem<I, O> extends Settle<O> {
  input: I;
  /** performance.now() time after which the caller gets 503 instead. */
  deadline: number;
}

interface Waiting {
  started: boolean;
  timer?: NodeJS.Timeout;
}

type Job<I, O> =
  | (Waiting & { kind: 'batch'; item: BatchItem<I, O> })
  | (Waiting & { kind: 'solo'; deadline: number; run: () => Promise<void>; reject(err: unknown): void });

export interface DeskOptions<I, O> {
  /** Decides a batch; must settle every item (items it leaves unsettled are rejected). */
  processBatch(key: string, items: BatchItem<I, O>[]): Promise<void>;
  /** What a job that waited past its deadline is rejected with. */
  timeoutError(): Error;
  maxBatch?: number;
}

export interface DeskStats {
  batches: number;
  batchedItems: number;
  largestBatch: number;
  longestLane: number;
}

export class Desk<I, O> {
  private readonly lanes = new Map<string, Job<I, O>[]>();
  private readonly maxBatch: number;
  readonly stats: DeskStats = { batches: 0, batchedItems: 0, largestBatch: 0, longestLane: 0 };

  constructor(private readonly options: DeskOptions<I, O>) {
    this.maxBatch = options.maxBatch ?? 100;
  }

  /** Queues an item that may be decided together with the ones waiting next to it. */
  submit(key: string, input: I, deadline: number): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.enqueue(key, { kind: 'batch', started: false, item: { input, deadline, resolve, reject } });
    });
  }

  /** Queues work that runs alone, in order with the key's other transactions. */
  exclusive<T>(key: string, deadline: number, work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = () => work().then(resolve, reject);
      this.enqueue(key, { kind: 'solo', started: false, deadline, run, reject });
    });
  }

  private enqueue(key: string, job: Job<I, O>): void {
    let lane = this.lanes.get(key);
    const idle = !lane;
    if (!lane) this.lanes.set(key, (lane = []));
    lane.push(job);
    this.stats.longestLane = Math.max(this.stats.longestLane, lane.length);
    const deadline = job.kind === 'batch' ? job.item.deadline : job.deadline;
    // A job still waiting at its deadline leaves the lane at once: the caller's wait is bounded.
    job.timer = setTimeout(() => this.expire(key, job), Math.max(0, deadline - performance.now()));
    job.timer.unref();
    if (idle) void this.drain(key, lane);
  }

  private expire(key: string, job: Job<I, O>): void {
    if (job.started) return;
    const lane = this.lanes.get(key);
    const at = lane?.indexOf(job) ?? -1;
    if (at >= 0) lane?.splice(at, 1);
    const err = this.options.timeoutError();
    if (job.kind === 'batch') job.item.reject(err);
    else job.reject(err);
  }

  private take(lane: Job<I, O>[]): Job<I, O>[] {
    const head = lane[0];
    if (head.kind === 'solo') return lane.splice(0, 1);
    let n = 1;
    while (n < lane.length && n < this.maxBatch && lane[n].kind === 'batch') n++;
    return lane.splice(0, n);
  }

  private async drain(key: string, lane: Job<I, O>[]): Promise<void> {
    while (lane.length > 0) {
      const jobs = this.take(lane);
      for (const job of jobs) {
        job.started = true;
        clearTimeout(job.timer);
      }
      const head = jobs[0];
      if (head.kind === 'solo') {
        await head.run();
        continue;
      }
      const items = jobs.flatMap((job) => (job.kind === 'batch' ? [job.item] : []));
      this.stats.batches++;
      this.stats.batchedItems += items.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, items.length);
      await this.runBatch(key, items);
    }
    this.lanes.delete(key);
  }

  private async runBatch(key: string, items: BatchItem<I, O>[]): Promise<void> {
    let settled = 0;
    const guarded = items.map((item) => {
      let done = false;
      const once =
        <A>(fn: (a: A) => void) =>
        (a: A) => {
          if (done) return;
          done = true;
          settled++;
          fn(a);
        };
      return { ...item, resolve: once(item.resolve), reject: once(item.reject) };
    });
    let failure: unknown = new Error('desk: batch left an item unsettled');
    try {
      await this.options.processBatch(key, guarded);
    } catch (err) {
      failure = err;
    }
    if (settled < guarded.length) for (const item of guarded) item.reject(failure);
  }
}
