import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  seconds: number;
  /** Share of the samples in which the process was not idle: how saturated its one thread was. */
  busyPercent: number;
  /** Share of samples, by where the code lives (package, project file, runtime). */
  byArea: { area: string; percent: number }[];
  byFunction: { fn: string; percent: number }[];
}

/** Where a frame's code lives: a package, a project file, or a runtime bucket. */
function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  // The load runner's tsc output of the project (build.ts) lives under node_modules/.cache.
  const compiled = /\/ticketing-loadtest\/out\/(.+)$/.exec(url);
  if (compiled) return compiled[1]!;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node internals';
  const own = /\/(src|emulator|scripts|loadtest)\/(.+)$/.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  return url;
}

function top<T extends string>(counts: Map<T, number>, total: number, n: number) {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, hits]) => ({ key, percent: Math.round((hits / total) * 1000) / 10 }));
}

/** Self-time shares of a V8 .cpuprofile, idle excluded. */
export function summarizeProfile(file: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') idle += hits;
    if (hits === 0 || functionName === '(idle)') continue;
    total += hits;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + hits);
    const fn = `${functionName || '(anonymous)'} ${area}:${lineNumber + 1}`;
    fns.set(fn, (fns.get(fn) ?? 0) + hits);
  }
  return {
    file,
    seconds: Math.round((profile.endTime - profile.startTime) / 1e4) / 100,
    busyPercent: Math.round((total / (total + idle || 1)) * 1000) / 10,
    byArea: top(areas, total || 1, 15).map(({ key, percent }) => ({ area: key, percent })),
    byFunction: top(fns, total || 1, 20).map(({ key, percent }) => ({ fn: key, percent })),
  };
}

/** Waits until `count` profiles are in `dir` (the children write them asynchronously). */
export async function waitForProfiles(dir: string, count: number, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f));
    if (files.length >= count || Date.now() > deadline) return files.sort();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export function formatProfile(summary: ProfileSummary): string {
  const lines = [`CPU profile ${summary.file} (${summary.seconds} s, busy ${summary.busyPercent}% of samples; shares of busy self time)`, '  by area:'];
  for (const a of summary.byArea) lines.push(`    ${a.percent.toFixed(1).padStart(5)}%  ${a.area}`);
  lines.push('  by function:');
  for (const f of summary.byFunction) lines.push(`    ${f.percent.toFixed(1).padStart(5)}%  ${f.fn}`);
  return lines.join('\n');
}
