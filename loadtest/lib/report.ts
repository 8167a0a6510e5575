import { cpus, loadavg } from 'node:os';
import type { Phase } from './cannon.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** A goal from the issue, reported against (met: null when it needs a baseline we do not have). */
export interface Goal {
  name: string;
  met: boolean | null;
  detail: string;
}

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  platform: string;
  /** 1-minute load average when the scenario started: other work on the machine skews figures. */
  loadAverage: number;
}

export interface ScenarioResult {
  scenario: string;
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: Machine;
  target: string;
  options: Record<string, unknown>;
  /** The phase whose requests/s stands for the scenario (ratios to the baseline use it). */
  headline: { phase: string; label: string; perSecond: number };
  /** A goal stated as a share of the baseline's requests/s (run.ts judges it). */
  ratioGoal?: { name: string; min: number };
  phases: Phase[];
  figures: Record<string, number | string>;
  checks: Check[];
  goals: Goal[];
  passed: boolean;
  notes: string[];
}

export function machine(): Machine {
  const list = cpus();
  return {
    cores: list.length,
    cpu: list[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
  };
}

export function check(name: string, ok: boolean, detail: string): Check {
  return { name, ok, detail };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  return rows.map((r) => r.map((cell, col) => cell.padEnd(widths[col]!)).join('  ')).join('\n');
}

export function phaseRows(phases: Phase[]): string[][] {
  return [
    ['phase', 'conns', 'requests', 'seconds', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'no answer', 'bytes/answer'],
    ...phases.map((p) => [
      p.name,
      String(p.connections),
      String(p.requests),
      p.seconds.toFixed(2),
      p.requestsPerSecond.toFixed(0),
      String(p.latencyMs.p50),
      String(p.latencyMs.p90),
      String(p.latencyMs.p99),
      String(p.latencyMs.max),
      String(p.errors),
      String(p.bytesPerResponse),
    ]),
  ];
}

/** The summary a run prints: phases, figures, verification checks and goals. */
export function printSummary(result: ScenarioResult, baselinePerSecond?: number): void {
  const out: string[] = [];
  out.push('', `=== ${result.scenario} (${result.passed ? 'PASSED' : 'FAILED'}) ===`, `target: ${result.target}`);
  out.push(`machine: ${result.machine.cpu}, ${result.machine.cores} cores, Node ${result.machine.node}, load average ${result.machine.loadAverage} at start`);
  out.push('', table(phaseRows(result.phases)));
  const figures = Object.entries(result.figures).map(([k, v]) => [k, String(v)]);
  if (baselinePerSecond) {
    figures.push([`${result.headline.label} / baseline req/s`, (result.headline.perSecond / baselinePerSecond).toFixed(3)]);
  }
  if (figures.length > 0) out.push('', table([['figure', 'value'], ...figures]));
  if (result.checks.length > 0) {
    out.push('', table([['check', 'result', 'detail'], ...result.checks.map((c) => [c.name, c.ok ? 'ok' : 'FAIL', c.detail])]));
  }
  if (result.goals.length > 0) {
    const mark = (m: boolean | null) => (m === null ? 'n/a' : m ? 'met' : 'MISSED');
    out.push('', table([['goal', 'status', 'detail'], ...result.goals.map((g) => [g.name, mark(g.met), g.detail])]));
  }
  for (const note of result.notes) out.push(`note: ${note}`);
  console.log(out.join('\n'));
}

/** The closing table of `all`: each scenario's headline, latency, ratio to the baseline and goals. */
export function printOverview(results: ScenarioResult[], baselinePerSecond: number): void {
  const rows = [['scenario', 'headline', 'per second', 'p99 ms', 'ratio', 'verified', 'goals missed']];
  for (const r of results) {
    const p = r.phases.find((ph) => ph.name === r.headline.phase) ?? r.phases[0]!;
    rows.push([
      r.scenario,
      r.headline.label,
      r.headline.perSecond.toFixed(0),
      String(p.latencyMs.p99),
      (r.headline.perSecond / baselinePerSecond).toFixed(3),
      r.passed ? 'passed' : 'FAILED',
      r.goals.filter((g) => g.met === false).map((g) => g.name).join('; ') || '-',
    ]);
  }
  console.log(['', '=== all scenarios ===', table(rows)].join('\n'));
}
