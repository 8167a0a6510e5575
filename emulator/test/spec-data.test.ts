import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CORE_FILES } from '../spec/core.js';

// The repository stands alone: MongoDB's spec files are vendored in emulator/spec/data, and a run
// that cannot find them fails instead of printing "skipped" and exiting 0.
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const dataDir = join(repo, 'emulator', 'spec', 'data');
const run = promisify(execFile);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('vendored spec data', () => {
  it('holds every core file, the licence and the source commit, and stays small', () => {
    for (const file of CORE_FILES) expect(existsSync(join(dataDir, file)), file).toBe(true);
    expect(readFileSync(join(dataDir, 'LICENSE.md'), 'utf8')).toMatch(/Attribution-NonCommercial-ShareAlike 3\.0/);
    expect(readFileSync(join(dataDir, 'SOURCE_COMMIT'), 'utf8').trim()).toMatch(/^[0-9a-f]{40}$/);
    const files = filesUnder(dataDir);
    // Only what the runner reads (JSON test files) plus the licence, the commit and our README.
    const other = files.filter((f) => !f.endsWith('.json')).map((f) => f.slice(dataDir.length + 1)).sort();
    expect(other).toEqual(['LICENSE.md', 'README.md', 'SOURCE_COMMIT']);
    const bytes = files.reduce((sum, f) => sum + statSync(f).size, 0);
    expect(bytes).toBeLessThan(4 * 1024 * 1024);
  });

  describe('the runner without its data', () => {
    const empty = mkdtempSync(join(tmpdir(), 'spec-data-'));
    afterAll(() => rmSync(empty, { recursive: true, force: true }));

    const runner = (dir: string) =>
      run(process.execPath, ['--import', 'tsx', join(repo, 'emulator', 'spec', 'run.ts'), '--core'], {
        cwd: repo,
        env: { ...process.env, MONGODB_SPEC_TESTS: dir, MONGODB_URI: '' },
        timeout: 60_000,
      }).then(
        (r) => ({ code: 0, out: r.stdout + r.stderr }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
      );

    it('fails (exit 1) when the folder does not exist, never "skipped"', async () => {
      const result = await runner(join(empty, 'absent'));
      expect(result.code).toBe(1);
      expect(result.out).toMatch(/spec tests not found/);
      expect(result.out).not.toMatch(/skipped/);
    });

    it('fails when the folder holds no spec files', async () => {
      const result = await runner(empty);
      expect(result.code).toBe(1);
      expect(result.out).toMatch(/no spec test files/);
    });
  });
});
