// Public API of the in-process MongoDB emulator (a test double; see emulator/README.md).
import { Emulator, type EmulatorOptions } from './server.js';

export type { EmulatorOptions } from './server.js';

export interface RunningEmulator {
  /** mongodb://host:port/?replicaSet=rs0 - hand it to the driver or Mongoose unchanged. */
  readonly uri: string;
  readonly port: number;
  /** Counters for tests: documents examined by queries, commits. */
  readonly stats: { readonly docsExamined: number; readonly commits: number };
  stop(): Promise<void>;
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const em = new Emulator(opts);
  const port = await em.listen();
  const address = opts.advertise ?? `${opts.host ?? '127.0.0.1'}:${port}`;
  return {
    uri: `mongodb://${address}/?replicaSet=${em.setName}`,
    port,
    stats: em.store.stats,
    stop: () => em.stop(),
  };
}
