/**
 * `npm run loadtest -- <scenario|all> [options]`: starts what it measures (or targets --url),
 * prepares accounts and events through the API, runs autocannon, verifies the end state through
 * the API, prints a summary, writes loadtest/results/<scenario>.json, and for `all` BENCHMARKS.md.
 * Exits 1 when a scenario's verification fails.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Api } from './lib/api.js';
import { writeBenchmarks } from './lib/benchmarks.js';
import { compileForLoad } from './lib/build.js';
import type { ScenarioContext } from './lib/context.js';
import { newRunId } from './lib/fixtures.js';
import { type LoadOptions, parseOptions, SCENARIOS, type ScenarioName, UsageError } from './lib/options.js';
import { PROJECT_ROOT } from './lib/processes.js';
import { formatProfile, summarizeProfile, waitForProfiles } from './lib/profile.js';
import { machine, printOverview, printSummary, type ScenarioResult } from './lib/report.js';
import { type PhaseCpu, startBaseline, startService, type Target } from './lib/target.js';
import { baseline } from './scenarios/baseline.js';
import { browse } from './scenarios/browse.js';
import { checkIn } from './scenarios/check-in.js';
import { cluster } from './scenarios/cluster.js';
import { history } from './scenarios/history.js';
import { hotDrop } from './scenarios/hot-drop.js';
import { retryStorm } from './scenarios/retry-storm.js';
import { seatedDrop } from './scenarios/seated-drop.js';

const RESULTS_DIR = join(PROJECT_ROOT, 'loadtest', 'results');
const scenarios = { baseline, 'hot-drop': hotDrop, 'retry-storm': retryStorm, browse, 'check-in': checkIn, history, cluster, 'seated-drop': seatedDrop } as const;

function log(line: string): void {
  console.log(`[loadtest ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

interface Baseline {
  perSecond: number;
  at: string;
}

/** The baseline of an earlier run, for a single scenario's ratio (labelled as such). */
function storedBaseline(): Baseline | undefined {
  const file = join(RESULTS_DIR, 'baseline.json');
  if (!existsSync(file)) return undefined;
  const stored = JSON.parse(readFileSync(file, 'utf8')) as ScenarioResult;
  return { perSecond: stored.headline.perSecond, at: stored.startedAt };
}

/**
 * The CPU time each child spent per answer of each timed phase: the service's own cost, which
 * moves far less than requests/s when other work shares the machine.
 */
function cpuFigures(records: PhaseCpu[], phases: ScenarioResult['phases'], scenario: string): Record<string, string> {
  const figures: Record<string, string> = {};
  for (const { label, child, cpuMs, wallMs } of records) {
    const phase = phases.find((p) => p.name === label) ?? phases.find((p) => p.name.startsWith(label));
    if (cpuMs === null || !phase || phase.requests === 0) continue;
    const who = child.startsWith(`${scenario}-`) ? child.slice(scenario.length + 1) : child;
    const perAnswerUs = Math.round((cpuMs * 1000) / phase.requests);
    const busy = Math.round((cpuMs / wallMs) * 100);
    figures[`${who} CPU per answer, ${label}`] = `${perAnswerUs} µs (${(cpuMs / 1000).toFixed(2)} s of CPU in ${(wallMs / 1000).toFixed(2)} s, ${busy}% of one core)`;
  }
  return figures;
}

async function runScenario(name: ScenarioName, opts: LoadOptions, command: string): Promise<ScenarioResult> {
  const startedAt = new Date().toISOString();
  const machineAtStart = machine();
  log(`${name}: starting ${name === 'baseline' ? 'the bare Fastify server' : opts.url ? `against ${opts.url}` : 'the service'}`);
  const target: Target = name === 'baseline' ? await startBaseline(opts) : await startService(opts, name);
  let partial;
  const profiles: string[] = [];
  try {
    const ctx: ScenarioContext = { opts, target, api: new Api(target.baseUrl), runId: newRunId(), log: (line) => log(`${name}: ${line}`) };
    partial = await scenarios[name](ctx);
    if (target.profileDir) profiles.push(...(await waitForProfiles(target.profileDir, 0)));
  } finally {
    await target.stop();
  }
  const result: ScenarioResult = { ...partial, startedAt, finishedAt: new Date().toISOString(), command, machine: machineAtStart, target: target.description };
  result.figures = { ...result.figures, ...cpuFigures(target.phaseCpu, result.phases, name) };
  for (const file of profiles) {
    const summary = summarizeProfile(file);
    console.log(formatProfile(summary));
    result.notes.push(`CPU profile during the load, ${summary.file}: busy ${summary.busyPercent}%; ${summary.byArea.slice(0, 8).map((a) => `${a.area} ${a.percent}%`).join(', ')}`);
  }
  return result;
}

/** Judges the scenario's ratio goal against the baseline and writes loadtest/results/<scenario>.json. */
function finalize(result: ScenarioResult, base?: Baseline): void {
  if (result.ratioGoal) {
    const ratio = base ? result.headline.perSecond / base.perSecond : undefined;
    result.goals.push({
      name: result.ratioGoal.name,
      met: ratio === undefined ? null : ratio >= result.ratioGoal.min,
      detail:
        ratio === undefined || !base
          ? 'no baseline measured yet (run `npm run loadtest -- baseline` or `all`)'
          : `${result.headline.perSecond.toFixed(0)} ${result.headline.label} / ${base.perSecond.toFixed(0)} baseline req/s = ${ratio.toFixed(3)}`,
    });
  }
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${result.scenario}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

/**
 * `all` measures the baseline before and after the service scenarios and divides by the mean, so a
 * machine that got busier or quieter during the run shows up as spread instead of a skewed ratio.
 */
function mergeBaselines(before: ScenarioResult, after: ScenarioResult): ScenarioResult {
  const a = before.headline.perSecond;
  const b = after.headline.perSecond;
  const mean = Math.round(((a + b) / 2) * 10) / 10;
  return {
    ...before,
    finishedAt: after.finishedAt,
    headline: { ...before.headline, phase: 'bare route (before the service runs)', perSecond: mean },
    phases: [
      { ...before.phases[0]!, name: 'bare route (before the service runs)' },
      { ...after.phases[0]!, name: 'bare route (after them)' },
    ],
    figures: {
      'req/s before': a,
      'req/s after': b,
      'req/s mean (the ratios use it)': mean,
      'spread (after/before)': Math.round((b / a) * 1000) / 1000,
      ...Object.fromEntries(Object.entries(before.figures).map(([k, v]) => [`${k} (before)`, v])),
      ...Object.fromEntries(Object.entries(after.figures).map(([k, v]) => [`${k} (after)`, v])),
    },
    checks: [...before.checks, ...after.checks],
    passed: before.passed && after.passed,
  };
}

async function main(): Promise<number> {
  let opts: LoadOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  const command = `npm run loadtest -- ${process.argv.slice(2).join(' ')}`.trim();
  if (!opts.tsx) compileForLoad(log);

  if (opts.scenario !== 'all') {
    const result = await runScenario(opts.scenario, opts, command);
    const base = opts.scenario === 'baseline' ? undefined : storedBaseline();
    finalize(result, base);
    printSummary(result, base?.perSecond);
    if (base) console.log(`(ratio uses the baseline measured at ${base.at})`);
    if (!result.passed) log(`FAILED: ${result.scenario}`);
    return result.passed ? 0 : 1;
  }

  const before = await runScenario('baseline', opts, command);
  printSummary(before);
  const services: ScenarioResult[] = [];
  for (const name of SCENARIOS.filter((n) => n !== 'baseline')) {
    const result = await runScenario(name, opts, command);
    printSummary(result);
    services.push(result);
  }
  const after = await runScenario('baseline', opts, command);
  const baseline = mergeBaselines(before, after);
  const base = { perSecond: baseline.headline.perSecond, at: baseline.startedAt };
  const results = [baseline, ...services];
  for (const result of results) finalize(result, result === baseline ? undefined : base);
  printOverview(results, base.perSecond);
  writeBenchmarks(join(PROJECT_ROOT, 'BENCHMARKS.md'), results, command);
  log('BENCHMARKS.md written');
  const failed = results.filter((r) => !r.passed).map((r) => r.scenario);
  if (failed.length > 0) log(`FAILED: ${failed.join(', ')}`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
