import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const readJson = <T>(name: string): T => JSON.parse(readFileSync(join(repo, name), 'utf8')) as T;

interface LockPackage {
  version?: string;
  dev?: boolean;
  engines?: { node?: string } | string[];
}

describe('supported Node versions', () => {
  it('installs cleanly on the oldest Node that package.json allows: no locked package wants a newer one', () => {
    const { engines } = readJson<{ engines: { node: string } }>('package.json');
    const oldest = semver.minVersion(engines.node);
    expect(oldest?.version).toBe('20.19.0');
    const lock = readJson<{ packages: Record<string, LockPackage> }>('package-lock.json');
    const refusing = Object.entries(lock.packages)
      .filter(([path, pkg]) => path !== '' && !Array.isArray(pkg.engines) && pkg.engines?.node)
      .filter(([, pkg]) => !semver.satisfies(oldest?.version ?? '', (pkg.engines as { node: string }).node))
      .map(([path, pkg]) => `${path}@${pkg.version} wants node ${(pkg.engines as { node: string }).node}`);
    // cookie@2 (through fastify's light-my-request) wanted Node >= 22; package.json overrides it to 1.x.
    expect(refusing).toEqual([]);
  });

  it('light-my-request still writes cookies with the overridden cookie package', async () => {
    const app = Fastify();
    app.get('/echo', async (request) => ({ cookie: request.headers.cookie }));
    const res = await app.inject({ method: 'GET', url: '/echo', cookies: { session: 'abc', theme: 'dark' } });
    expect(res.json()).toEqual({ cookie: 'session=abc; theme=dark' });
    await app.close();
  });
});
