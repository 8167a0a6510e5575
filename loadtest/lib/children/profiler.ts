/**
 * CPU profiling of a load-run child during the load only (not start-up or account set-up): the
 * first SIGUSR2 starts the V8 profiler, the second writes `<dir>/<name>-<time>.cpuprofile`.
 * Active only when the runner sets LOADTEST_PROFILE_DIR (`--profile`).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

export function profileOnSignal(name: string): void {
  const dir = process.env.LOADTEST_PROFILE_DIR;
  if (!dir) return;
  let session: Session | undefined;
  let busy = Promise.resolve();
  const toggle = async () => {
    if (!session) {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      return;
    }
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `${name}-${Date.now()}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
    session = undefined;
  };
  process.on('SIGUSR2', () => {
    busy = busy.then(toggle).catch((err: unknown) => console.error('profiler:', err));
  });
}
