import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
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
    // Route sections only: a feature's narrative subsections (an object's fields, say) need none.
    const routeHeading = new RegExp(`^(${METHODS.join('|')}) \\S+\\s*$`);
    const sections = markdown.split(/^### /m).slice(1).filter((s) => routeHeading.test(s.split('\n')[0]));
    expect(sections.length).toBe(inOpenApiPart.length + outsidePart.length);
    for (const section of sections) {
      const heading = section.split('\n')[0];
      expect(section, heading).toMatch(/```(sh|json)\n/);
    }
  });
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (['node_modules', 'dist', '.git', 'data', 'results'].includes(name)) return [];
    return statSync(path).isDirectory() ? filesUnder(path, keep) : keep(path) ? [path] : [];
  });
}

describe('the repository stands alone (DESIGN.md 11)', () => {
  const docs = ['README.md', ...filesUnder(join(repo, 'docs'), (p) => p.endsWith('.md')).map((p) => relative(repo, p))];

  it.each(docs)('%s links only to files inside the repository, and to headings that exist', (doc) => {
    const text = readFileSync(join(repo, doc), 'utf8');
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z]+:/i.test(target));
    for (const link of links) {
      const [file, anchor] = link.split('#') as [string, string | undefined];
      const target = file ? resolve(dirname(join(repo, doc)), file) : join(repo, doc);
      expect(relative(repo, target).startsWith('..'), `${doc}: ${link} leaves the repository`).toBe(false);
      expect(existsSync(target), `${doc}: ${link} does not exist`).toBe(true);
      if (anchor) {
        const headings = [...readFileSync(target, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]!));
        expect(headings, `${doc}: ${link}`).toContain(anchor);
      }
    }
  });

  it('no file of the project refers to ../shared', () => {
    const files = filesUnder(repo, (p) => /\.(ts|md|sh|yml|json)$|\/run$|Dockerfile$/.test(p) && !p.endsWith('package-lock.json'));
    const offenders = files.filter((f) => /\.\.\/shared|'shared', 'mongodb-spec-tests'/.test(readFileSync(f, 'utf8')));
    // This test names the pattern it looks for; nothing else may.
    expect(offenders.map((f) => relative(repo, f)).filter((f) => f !== 'test/docs.test.ts')).toEqual([]);
  });
});
