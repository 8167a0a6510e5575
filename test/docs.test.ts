import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from './helper.js';

/**
 * docs/API.md documents every route, and nothing else. Its format (stated at its top): one
 * `### METHOD /path` heading per route, path parameters as `:name`; the routes deliberately left
 * out of the OpenAPI document sit under "## Routes outside the OpenAPI document". Other features
 * write their sections in docs/api/<feature>.md, merged into docs/API.md when they land; this test
 * reads docs/API.md only.
 */

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const OUTSIDE = '## Routes outside the OpenAPI document';

function routeHeadings(markdown: string): string[] {
  const pattern = new RegExp(`^### (${METHODS.join('|')}) (\\S+)\\s*$`, 'gm');
  return [...markdown.matchAll(pattern)].map((m) => `${m[1]} ${m[2]}`);
}

const markdown = readFileSync(join(repo, 'docs', 'API.md'), 'utf8');
const outsideAt = markdown.indexOf(OUTSIDE);
const inOpenApiPart = routeHeadings(outsideAt >= 0 ? markdown.slice(0, outsideAt) : markdown);
const outsidePart = outsideAt >= 0 ? routeHeadings(markdown.slice(outsideAt)) : [];

let t: TestApp;
let operations: string[];
beforeAll(async () => {
  t = await buildTestApp();
  const spec = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
  operations = Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((method) => METHODS.includes(method.toUpperCase()))
      .map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
  );
});
afterAll(() => t.close());

describe('docs/API.md and the OpenAPI document', () => {
  it('reads some route headings (the format has not drifted)', () => {
    expect(inOpenApiPart.length).toBeGreaterThan(10);
    expect(outsideAt).toBeGreaterThan(0);
  });

  it('documents every operation of the OpenAPI document', () => {
    const documented = new Set(inOpenApiPart);
    expect(operations.filter((op) => !documented.has(op))).toEqual([]);
  });

  it('documents no route the OpenAPI document lacks, and none twice', () => {
    const known = new Set(operations);
    expect(inOpenApiPart.filter((heading) => !known.has(heading))).toEqual([]);
    expect(inOpenApiPart.filter((heading, i) => inOpenApiPart.indexOf(heading) !== i)).toEqual([]);
  });

  it('lists under "outside the OpenAPI document" only routes that exist and are not in it', async () => {
    expect(outsidePart.length).toBeGreaterThan(0);
    for (const heading of outsidePart) {
      expect(operations, heading).not.toContain(heading);
      const [method, url] = heading.split(' ') as [string, string];
      const res = await t.app.inject({ method: method as 'GET', url });
      expect([404, 405], heading).not.toContain(res.statusCode);
    }
  });

  it('gives each route an example', () => {
    const sections = markdown.split(/^### /m).slice(1);
    for (const section of sections) {
      const heading = section.split('\n')[0];
      expect(section, heading).toMatch(/```(sh|json)\n/);
    }
  });
});
