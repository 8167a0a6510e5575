import type { Api } from './api.js';
import type { LoadOptions } from './options.js';
import type { Target } from './target.js';

export interface ScenarioContext {
  opts: LoadOptions;
  target: Target;
  api: Api;
  runId: string;
  log(line: string): void;
}

/** Counts answers by a label; autocannon's onResponse feeds it. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(label: string): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }
  get(label: string): number {
    return this.counts.get(label) ?? 0;
  }
  sumWhere(predicate: (label: string) => boolean): number {
    let sum = 0;
    for (const [label, n] of this.counts) if (predicate(label)) sum += n;
    return sum;
  }
  toObject(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}

export function elapsed(startMs: number): string {
  return `${((performance.now() - startMs) / 1000).toFixed(1)} s`;
}
