import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * What a newcomer does on a fresh clone, as separate processes: `npm start` with no configuration
 * (embedded MongoDB, no Redis), then `npm run create-admin` and `npm run seed` against it while it
 * runs, then the README's "Try it" walkthrough, pasted into bash as written.
 */

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'newcomer-'));
const stateFile = join(work, 'embedded-mongodb.json');

/** The environment of a newcomer's shell: none of the test run's own configuration. */
const shellEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(MONGODB_|REDIS_|NODE_ENV|JWT_|ADMIN_|PORT$|HOST$|VITEST|SEED_)/.test(k))),
  EMBEDDED_MONGO: 'emulator',
  EMBEDDED_MONGO_STATE: stateFile,
  BCRYPT_COST: '4',
  ...extra,
});

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (address && typeof address === 'object' ? done(address.port) : fail(new Error('no port'))));
    });
  });
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeout = 60_000): Promise<Run> {
  return new Promise((done) => {
    execFile(file, args, { cwd: repo, env, timeout }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const npmRun = (script: string, args: string[] = [], env = shellEnv()) => run('npm', ['run', '--silent', script, ...(args.length ? ['--', ...args] : [])], env);

let server: ChildProcess;
let api: string;
let serverLog = '';

beforeAll(async () => {
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  server = spawn('npm', ['start'], { cwd: repo, env: shellEnv({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' }), detached: true });
  server.stdout?.on('data', (d: Buffer) => (serverLog += d.toString()));
  server.stderr?.on('data', (d: Buffer) => (serverLog += d.toString()));
  for (let i = 0; i < 300; i++) {
    const up = await fetch(`${api}/health/ready`).then((r) => r.ok, () => false);
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`npm start did not come up:\n${serverLog}`);
}, 60_000);

afterAll(async () => {
  if (server?.pid && server.exitCode === null) {
    const exited = new Promise((done) => server.once('exit', done));
    process.kill(-server.pid, 'SIGTERM');
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
});

const login = (email: string, password: string) =>
  fetch(`${api}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });

describe('seed and create-admin against the embedded MongoDB of a running npm start', () => {
  it('npm start records where its embedded MongoDB is', () => {
    expect(existsSync(stateFile)).toBe(true);
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).uri).toMatch(/^mongodb:\/\//);
  });

  it('npm run create-admin creates an admin who can log in', async () => {
    const result = await npmRun('create-admin', ['--email', 'Root@Example.test', '--password', 'a-long-admin-password']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/admin root@example\.test: created/);
    const res = await login('root@example.test', 'a-long-admin-password');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { user: { role: string } } }).data.user.role).toBe('admin');
  });

  it('npm run seed writes the demo organizer and published events, and a re-run adds nothing', async () => {
    const first = await npmRun('seed');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/Events: 5 created/);
    const again = await npmRun('seed');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/Events: 0 created, 5 already there/);
    expect((await login('organizer@example.com', 'organizer-demo-password')).status).toBe(200);
    const events = (await (await fetch(`${api}/api/v1/events`)).json()) as { meta: { total: number } };
    expect(events.meta.total).toBe(5);
  });

  it('without MONGODB_URI and with no npm start running, both say what to do (exit 1)', async () => {
    const env = shellEnv({ EMBEDDED_MONGO_STATE: join(work, 'nothing-here.json') });
    for (const script of ['seed', 'create-admin']) {
      const result = await npmRun(script, script === 'seed' ? [] : ['--email', 'a@example.test', '--password', 'a-long-password'], env);
      expect(result.code, script).toBe(1);
      expect(result.stderr).toMatch(/MONGODB_URI is not set and no `npm start` with an embedded MongoDB is running/);
      expect(result.stderr).not.toMatch(/must name the database|\n\s+at /);
    }
  });
});

describe("the README's walkthrough", () => {
  it('runs as written against the running server', async () => {
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    const block = /<!-- walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme)?.[1];
    expect(block, 'README.md has a walkthrough block between the walkthrough markers').toBeTruthy();
    const result = await run('bash', ['-euo', 'pipefail', '-c', block ?? ''], shellEnv({ API: api }), 120_000);
    expect(result.stderr + result.stdout).not.toMatch(/"success":false/);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const lines = result.stdout.trim().split('\n');
    // Each step prints one line; these are the ones with a fixed answer.
    expect(lines).toContain('organizer');
    expect(lines).toContain('published');
    expect(lines.filter((l) => l === '100')).toHaveLength(2);
    expect(lines.some((l) => /^idempotent-replayed: true\r?$/i.test(l))).toBe(true);
    expect(lines).toContain('confirmed');
    expect(lines).toContain('cancelled');
  });
});
