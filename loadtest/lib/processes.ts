import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPILED_ROOT } from './build.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const LOG_DIR = join(tmpdir(), 'ticketing-loadtest');

/** What a child sends over IPC once it listens (children/*.ts). */
export interface ReadyMessage {
  ready: true;
  port?: number;
  uri?: string;
  kind?: string;
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly ready: ReadyMessage;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<number | null>;
  /** Toggles the child's load-phase CPU profiler (children/profiler.ts). */
  signalProfiler(): void;
  /** kill -9: the crash of an instance (cluster scenario). */
  crash(): void;
}

function isReady(message: unknown): message is ReadyMessage {
  return typeof message === 'object' && message !== null && (message as { ready?: unknown }).ready === true;
}

/**
 * Runs an entry as its own Node process, so the load generator and the process under load never
 * share one event loop: the tsc output of `entry` (see build.ts), or the TypeScript source through
 * tsx when `compiled` is false. Its stdout/stderr go to a log file, not to a pipe this process
 * would have to drain while it is busy generating load.
 */
export async function startChild(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  { compiled = true, startTimeoutMs = 120_000, nodeArgs = [] }: { compiled?: boolean; startTimeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<Child> {
  mkdirSync(LOG_DIR, { recursive: true });
  const logFile = join(LOG_DIR, `${name}.log`);
  const fd = openSync(logFile, 'w');
  const args = [...nodeArgs, ...(compiled ? [join(COMPILED_ROOT, entry.replace(/\.ts$/, '.js'))] : ['--import', 'tsx', join(PROJECT_ROOT, entry)])];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', fd, fd, 'ipc'],
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const ready = await new Promise<ReadyMessage>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${startTimeoutMs} ms (log: ${logFile})`)), startTimeoutMs);
    child.on('message', (message) => {
      if (!isReady(message)) return;
      clearTimeout(timer);
      resolve(message);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before it was ready (log: ${logFile})`));
    });
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  child.disconnect();

  return {
    name,
    pid: child.pid ?? -1,
    logFile,
    ready,
    signalProfiler() {
      child.kill('SIGUSR2');
    },
    crash() {
      child.kill('SIGKILL');
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(force);
      return code;
    },
  };
}
