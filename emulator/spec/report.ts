// The gauge: `--report[=FILE]` writes the run's pass/fail/skip counts per file (and why each test
// failed or was skipped) to a JSON file, so documentation can quote measured numbers.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestResult } from './testfile.js';

export const DEFAULT_REPORT = 'spec-report.json';

interface FileEntry {
  file: string;
  core: boolean;
  passed: number;
  failed: number;
  skipped: number;
  /** Failed and skipped tests with the runner's reason. */
  notPassed: { test: string; status: string; reason: string }[];
}

export class Report {
  private readonly files: FileEntry[] = [];

  constructor(
    private readonly specDir: string,
    private readonly target: string,
  ) {}

  add(file: string, core: boolean, tests: TestResult[]): void {
    const n = (s: TestResult['status']): number => tests.filter((t) => t.status === s).length;
    this.files.push({
      file,
      core,
      passed: n('passed'),
      failed: n('failed'),
      skipped: n('skipped'),
      notPassed: tests.filter((t) => t.status !== 'passed').map((t) => ({ test: t.description, status: t.status, reason: t.reason ?? '' })),
    });
  }

  write(path: string, seconds: number): void {
    const sum = (entries: FileEntry[]): { files: number; passed: number; failed: number; skipped: number } => ({
      files: entries.length,
      passed: entries.reduce((a, f) => a + f.passed, 0),
      failed: entries.reduce((a, f) => a + f.failed, 0),
      skipped: entries.reduce((a, f) => a + f.skipped, 0),
    });
    // The spec data's own version (the commit it was taken from), not where it lies on this machine.
    const sourceFile = join(this.specDir, 'SOURCE_COMMIT');
    const specSource = existsSync(sourceFile) ? readFileSync(sourceFile, 'utf8').trim() : null;
    const doc = {
      generatedAt: new Date().toISOString(),
      target: this.target,
      specSource,
      seconds,
      total: sum(this.files),
      core: sum(this.files.filter((f) => f.core)),
      files: this.files,
    };
    writeFileSync(path, JSON.stringify(doc, null, 2) + '\n');
  }
}
