import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Runs the CLI to its end (or kills it after `ms`: a server that started does not end). */
function cli(args: string[], ms = 20_000): Promise<{ code: number | null; out: string; err: string; killed: boolean }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'emulator', 'cli.ts'), ...args], { cwd: repo });
    let out = '';
    let err = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, out, err, killed });
    });
  });
}

/** Whether something accepts connections on 127.0.0.1:port (the CLI's default port is 27017). */
const portFree = (port: number) =>
  new Promise<boolean>((done) => {
    const probe = createServer();
    probe.once('error', () => done(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => done(true)));
  });

describe('npm run emulator -- --help', () => {
  it('prints the usage and exits 0 without starting a server', async () => {
    const before = await portFree(27017);
    const result = await cli(['--help']);
    expect(result.killed).toBe(false);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^usage: npm run emulator/);
    expect(result.out).toMatch(/--port <n>/);
    expect(result.out).not.toMatch(/mongodb:\/\//);
    // It did not take the default port either.
    if (before) expect(await portFree(27017)).toBe(true);
    expect((await cli(['-h'])).code).toBe(0);
  });

  it('refuses an unknown option with the usage and exit 2', async () => {
    const result = await cli(['--prot', '1234']);
    expect(result.killed).toBe(false);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/--prot/);
    expect(result.err).toMatch(/usage: npm run emulator/);
  });

  it('still starts with valid options and prints its connection string', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'emulator', 'cli.ts'), '--port', '0'], { cwd: repo });
    const uri = await new Promise<string>((done, fail) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const match = /mongodb:\/\/\S+/.exec(out);
        if (match) done(match[0]);
      });
      child.once('close', (code) => fail(new Error(`exited ${code}`)));
    });
    expect(uri).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+/);
    const closed = new Promise((done) => child.once('close', done));
    child.kill('SIGTERM');
    await closed;
  });
});
