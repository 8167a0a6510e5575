import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs an entry point as its own process, the way `npm run start:prod` runs dist/src/server.js. */
function runEntry(entry: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  // Nothing of the test's own environment that would configure the server leaks in.
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(MONGODB_|REDIS_|NODE_ENV|JWT_|ADMIN_|PORT|HOST)/.test(k)),
  );
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(repo, entry)],
      { cwd: repo, env: { ...base, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

describe('start:prod without MONGODB_URI', () => {
  it('prints the clean "Invalid configuration" message (no stack trace) and exits 1', async () => {
    const result = await runEntry('src/server.ts', { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Invalid configuration:\n {2}- MONGODB_URI: is required/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toBe('');
  });

  it('in production reports every missing variable in one message, as npm start does', async () => {
    const result = await runEntry('src/server.ts', { NODE_ENV: 'production', LOG_LEVEL: 'silent' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Invalid configuration:\n/);
    expect(result.stderr).toMatch(/MONGODB_URI: is required in production/);
    expect(result.stderr).toMatch(/REDIS_URL: is required in production/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('the Node flags production starts with', () => {
  it('are the same in the Dockerfile, npm run start:prod and the load runs that measured them', async () => {
    const { readFileSync } = await import('node:fs');
    const { SERVICE_NODE_ARGS } = await import('../loadtest/lib/node-args.js');
    const dockerCmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(repo, 'Dockerfile'), 'utf8').split('HEALTHCHECK')[1] ?? '')?.[1];
    expect(JSON.parse(dockerCmd ?? '[]')).toEqual(['node', ...SERVICE_NODE_ARGS, 'dist/src/server.js']);
    const scripts = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).scripts as Record<string, string>;
    expect(scripts['start:prod']).toBe(['node', ...SERVICE_NODE_ARGS, 'dist/src/server.js'].join(' '));
    expect(SERVICE_NODE_ARGS.length).toBeGreaterThan(0);
  });
});
