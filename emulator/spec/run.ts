// Conformance run: MongoDB's unified-format spec tests against the emulator (started in-process)
// or against a real MongoDB named by MONGODB_URI, through the real `mongodb` driver.
//
//   npm run spec:emulator [-- --core] [--verbose] [--strict] [--report[=FILE]] [name-filter ...]
//   (--report writes pass/fail/skip per file to FILE, default spec-report.json)
//
// Env: MONGODB_SPEC_TESTS (spec folder; default emulator/spec/data, vendored in the repository),
//      MONGODB_URI (test a real server instead of the emulator),
//      SPEC_TEST_TIMEOUT_MS (per-test limit, default 20000),
//      SPEC_RUN_BUDGET_MS (whole run; tests not started by then fail, default 600000).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MongoClient } from 'mongodb';
import { CORE_FILES, isCore } from './core.js';
import { DEFAULT_REPORT, Report } from './report.js';
import { probeServer } from './requirements.js';
import { failAll, runFile, type RunEnv, type TestResult } from './testfile.js';

interface Options {
  core: boolean;
  verbose: boolean;
  strict: boolean;
  report?: string;
  filters: string[];
}

interface Emulator {
  uri: string;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
/** MongoDB's spec files, copied unchanged into the repository (data/README.md names the source). */
const DEFAULT_SPEC_DIR = join(here, 'data');

function parseArgs(argv: string[]): Options {
  const o: Options = { core: false, verbose: false, strict: false, filters: [] };
  for (const a of argv) {
    if (a === '--core') o.core = true;
    else if (a === '--verbose' || a === '-v') o.verbose = true;
    else if (a === '--strict') o.strict = true;
    else if (a === '--report') o.report = DEFAULT_REPORT;
    else if (a.startsWith('--report=')) o.report = a.slice('--report='.length);
    else if (a.startsWith('-')) throw new Error(`unknown flag ${a}`);
    else o.filters.push(a);
  }
  return o;
}

function listJson(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listJson(p));
    else if (name.endsWith('.json')) out.push(p);
  }
  return out;
}

async function startTarget(): Promise<{ uri: string; label: string; stop(): Promise<void> }> {
  const uri = process.env.MONGODB_URI;
  if (uri) return { uri, label: 'MongoDB at MONGODB_URI', stop: async () => undefined };
  // Loaded at run time so this runner builds even while the emulator is being written.
  const entry = pathToFileURL(join(repoRoot, 'emulator', 'src', 'index.ts')).href;
  const mod = (await import(entry)) as { startEmulator?: (o?: { port?: number }) => Promise<Emulator> };
  if (typeof mod.startEmulator !== 'function') throw new Error('emulator/src/index.ts does not export startEmulator');
  const emu = await mod.startEmulator({ port: 0 });
  return { uri: emu.uri, label: 'in-process emulator', stop: () => emu.stop() };
}

function count(tests: TestResult[], s: TestResult['status']): number {
  return tests.filter((t) => t.status === s).length;
}

function short(text: string, max = 220): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const specDir = process.env.MONGODB_SPEC_TESTS
    ? resolve(process.env.MONGODB_SPEC_TESTS)
    : DEFAULT_SPEC_DIR;
  // The data ships with the repository (data/README.md): a missing folder is a broken checkout or
  // a wrong MONGODB_SPEC_TESTS, never a reason to report success without running anything.
  if (!existsSync(specDir) || !statSync(specDir).isDirectory()) {
    console.error(`spec tests not found at ${specDir}: nothing was run (the data lives in emulator/spec/data; see its README.md)`);
    return 1;
  }
  const rel = (p: string): string => relative(specDir, p).split(sep).join('/');
  let files = listJson(specDir).map(rel).sort();
  if (opts.core) files = files.filter(isCore);
  if (opts.filters.length > 0) files = files.filter((f) => opts.filters.some((x) => f.includes(x)));
  if (files.length === 0) {
    console.error(`no spec test files under ${specDir}${opts.filters.length > 0 ? ` match ${opts.filters.join(' ')}` : ''}: nothing was run`);
    return 1;
  }
  const missingCore = opts.filters.length === 0 ? CORE_FILES.filter((f) => !existsSync(join(specDir, f))) : [];

  const target = await startTarget();
  const internal = new MongoClient(target.uri);
  let exitCode = 0;
  try {
    await internal.connect();
    const info = await probeServer(internal, target.uri);
    console.log(`spec tests: ${specDir}`);
    console.log(`target: ${target.label} (server ${info.versionText}, ${info.topology}${info.auth ? ', auth' : ''})`);
    const timeoutMs = Number(process.env.SPEC_TEST_TIMEOUT_MS ?? 20000);
    const env: RunEnv = { uri: target.uri, internal, info, timeoutMs };
    const report = opts.report ? new Report(specDir, `${target.label} (server ${info.versionText})`) : undefined;

    const totals = { passed: 0, failed: 0, skipped: 0 };
    const core = { passed: 0, failed: 0, skipped: 0 };
    let stretchFailed = 0;
    const started = Date.now();
    // A server that hangs makes every test wait for its time limit: cap the whole run.
    const budgetMs = Number(process.env.SPEC_RUN_BUDGET_MS ?? 600000);
    for (const f of files) {
      const inCore = isCore(f);
      let tests: TestResult[];
      try {
        const spent = Date.now() - started > budgetMs;
        ({ tests } = spent
          ? await failAll(join(specDir, f), `not run: the run's budget of ${budgetMs / 1000}s was spent`)
          : await runFile(join(specDir, f), f, env));
      } catch (e) {
        // A file that cannot even be read or parsed counts as one failed test.
        tests = [{ description: '(whole file)', status: 'failed', reason: `file could not be run: ${String(e)}` }];
      }
      report?.add(f, inCore, tests);
      const p = count(tests, 'passed');
      const fl = count(tests, 'failed');
      const sk = count(tests, 'skipped');
      totals.passed += p;
      totals.failed += fl;
      totals.skipped += sk;
      if (inCore) {
        core.passed += p;
        core.failed += fl;
        core.skipped += sk;
      } else stretchFailed += fl;
      const verdict = fl > 0 ? 'FAIL' : p > 0 ? 'PASS' : 'SKIP';
      const extra = sk > 0 ? `, ${sk} skipped` : '';
      console.log(`${verdict} ${f}  ${p}/${p + fl} passed${extra}${inCore ? '  [core]' : ''}`);
      if (opts.verbose) {
        for (const t of tests) {
          const why = t.reason ? ` — ${short(t.reason, 400)}` : '';
          console.log(`    ${t.status.toUpperCase()} ${t.description}${why}`);
        }
      } else {
        const firstFail = tests.find((t) => t.status === 'failed');
        if (firstFail) console.log(`    ${short(`${firstFail.description}: ${firstFail.reason ?? ''}`)}`);
        else if (p === 0 && sk > 0) console.log(`    ${short(tests.find((t) => t.reason)?.reason ?? '')}`);
      }
    }
    if (missingCore.length > 0) {
      const names = missingCore.slice(0, 5).join(', ') + (missingCore.length > 5 ? ', …' : '');
      console.log(`FAIL ${missingCore.length} core file(s) missing from the spec folder: ${names}`);
    }
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `core list: ${core.passed} passed, ${core.failed} failed, ${core.skipped} skipped (${missingCore.length} core file(s) missing); ${secs}s`,
    );
    if (core.failed > 0 || missingCore.length > 0) exitCode = 1;
    if (opts.strict && stretchFailed > 0) exitCode = 1;
    console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
    if (report && opts.report) {
      report.write(opts.report, Number(secs));
      console.log(`report: ${opts.report}`);
    }
  } finally {
    await internal.close().catch(() => undefined);
    await target.stop().catch(() => undefined);
  }
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`spec run aborted: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(2);
  },
);
