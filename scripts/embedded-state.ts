/**
 * How `npm run seed` and `npm run create-admin` find the embedded MongoDB of a running `npm start`.
 * That database lives in the memory of the `npm start` process, so while it runs, start.ts records
 * its connection string in a small file (`.embedded-mongodb.json` at the repository root, or
 * EMBEDDED_MONGO_STATE) and removes it on exit. The scripts use it only when MONGODB_URI is unset
 * and the recorded process is still alive, so a stale file from a crash is ignored.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface EmbeddedState {
  uri: string;
  pid: number;
  kind: string;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function embeddedStatePath(): string {
  return process.env.EMBEDDED_MONGO_STATE ? resolve(process.env.EMBEDDED_MONGO_STATE) : join(repoRoot, '.embedded-mongodb.json');
}

/** Records this process's embedded MongoDB; the file goes when the process exits. */
export function recordEmbeddedMongo(uri: string, kind: string): void {
  const path = embeddedStatePath();
  const state: EmbeddedState = { uri, pid: process.pid, kind };
  writeFileSync(path, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  process.once('exit', () => {
    // Only our own record: another `npm start` may have replaced it since.
    if (readRecord(path)?.pid === process.pid) rmSync(path, { force: true });
  });
}

function readRecord(path: string): EmbeddedState | null {
  try {
    const state = JSON.parse(readFileSync(path, 'utf8')) as Partial<EmbeddedState>;
    return typeof state.uri === 'string' && typeof state.pid === 'number' ? { uri: state.uri, pid: state.pid, kind: String(state.kind) } : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The connection string of a running `npm start`'s embedded MongoDB, or null. */
export function runningEmbeddedMongo(): EmbeddedState | null {
  const state = readRecord(embeddedStatePath());
  return state && alive(state.pid) ? state : null;
}

/**
 * The database a maintenance script writes to: MONGODB_URI, else the embedded MongoDB of a running
 * `npm start`. Throws a message saying what to do when there is neither.
 */
export function databaseForScript(configured: string | undefined, script: string): { uri: string; source: string } {
  if (configured) return { uri: configured, source: 'MONGODB_URI' };
  const running = runningEmbeddedMongo();
  if (running) return { uri: running.uri, source: `the embedded MongoDB of the running npm start (pid ${running.pid})` };
  throw new Error(
    `${script} needs a database: MONGODB_URI is not set and no \`npm start\` with an embedded MongoDB is running from this folder.\n` +
      `Start the server with \`npm start\` in another terminal and run ${script} again, or set MONGODB_URI to your MongoDB replica set.`,
  );
}
