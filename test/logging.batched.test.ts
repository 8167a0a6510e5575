import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const child = join(resolve(dirname(fileURLToPath(import.meta.url))), 'support', 'batched-log-child.ts');

function run(end: string, lines: number): Promise<number[]> {
  return new Promise((done, fail) => {
    execFile(process.execPath, ['--import', 'tsx', child, end, String(lines)], { timeout: 20_000 }, (err, stdout) => {
      if (err && end !== 'throw') return fail(err);
      done(stdout.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { i: number }).i));
    });
  });
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('the server log written once per event-loop turn (batchedStdout)', () => {
  it('loses no line and keeps their order when the process exits at once', async () => {
    expect(await run('exit', 500)).toEqual(upTo(500));
  });

  it('loses no line on a fatal error', async () => {
    expect(await run('throw', 50)).toEqual(upTo(50));
  });

  it('writes lines logged later, in their own turn', async () => {
    expect(await run('later', 10)).toEqual(upTo(11));
  });
});
