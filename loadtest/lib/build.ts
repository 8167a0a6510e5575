import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './processes.js';

/** Inside node_modules so that the compiled files resolve the project's packages, and git ignores it. */
const BUILD_DIR = join(PROJECT_ROOT, 'node_modules', '.cache', 'ticketing-loadtest');
export const COMPILED_ROOT = join(BUILD_DIR, 'out');

/**
 * Compiles the service and the child entries with tsc (the same settings as `npm run build`), so
 * the server under load runs plain JavaScript as in production, not through the tsx loader.
 * Type errors elsewhere in the tree do not stop the emit; a missing output does.
 */
export function compileForLoad(log: (line: string) => void): void {
  mkdirSync(BUILD_DIR, { recursive: true });
  const tsconfig = join(BUILD_DIR, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(PROJECT_ROOT, 'tsconfig.build.json'),
      // Incremental: a repeated run only re-emits what changed.
      compilerOptions: {
        outDir: COMPILED_ROOT,
        rootDir: PROJECT_ROOT,
        noEmit: false,
        sourceMap: false,
        incremental: true,
        tsBuildInfoFile: join(BUILD_DIR, 'tsbuildinfo'),
      },
      include: [join(PROJECT_ROOT, 'src'), join(PROJECT_ROOT, 'scripts'), join(PROJECT_ROOT, 'loadtest', 'lib', 'children')],
      exclude: [join(PROJECT_ROOT, '**', '*.test.ts')],
    }),
  );
  const started = performance.now();
  const tsc = spawnSync(process.execPath, [join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
  });
  if (tsc.status !== 0) log(`tsc reported problems (emitted anyway):\n${tsc.stdout.split('\n').slice(0, 10).join('\n')}`);
  if (!existsSync(join(COMPILED_ROOT, 'loadtest', 'lib', 'children', 'service.js'))) {
    throw new Error(`compiling the service failed:\n${tsc.stdout}${tsc.stderr}`);
  }
  log(`compiled the service with tsc in ${((performance.now() - started) / 1000).toFixed(1)} s (${COMPILED_ROOT})`);
}
