/**
 * The MongoDB that development runs, tests and load scripts use when no MONGODB_URI is given:
 * mongodb-memory-server's real `mongod` as a single-node replica set when its binary can be had
 * (cached, downloadable, or MONGOMS_SYSTEM_BINARY), otherwise the project's wire-protocol emulator.
 * Lives outside src/: production never runs on either (config refuses it).
 * EMBEDDED_MONGO=emulator|mongod forces one of the two.
 */
export interface EmbeddedMongo {
  uri: string;
  kind: 'mongod' | 'emulator';
  stop(): Promise<void>;
}

async function startMongod(): Promise<EmbeddedMongo> {
  const { MongoMemoryReplSet } = await import('mongodb-memory-server');
  // mongodb-memory-server prints every failed download attempt with a stack trace; the caller
  // reports the outcome in one line instead.
  const { warn, error } = console;
  console.warn = console.error = () => undefined;
  try {
    const replSet = await MongoMemoryReplSet.create({ replSet: { count: 1, storageEngine: 'wiredTiger' } });
    return { uri: replSet.getUri(), kind: 'mongod', stop: async () => void (await replSet.stop()) };
  } finally {
    Object.assign(console, { warn, error });
  }
}

async function startEmulatorMongo(): Promise<EmbeddedMongo> {
  const { startEmulator } = await import('../emulator/src/index.js');
  const emulator = await startEmulator({ port: 0 });
  return { uri: emulator.uri, kind: 'emulator', stop: () => emulator.stop() };
}

export async function startEmbeddedMongo(log: (line: string) => void = console.warn): Promise<EmbeddedMongo> {
  const wanted = process.env.EMBEDDED_MONGO ?? 'auto';
  if (wanted !== 'emulator') {
    try {
      const mongod = await startMongod();
      log(`Embedded MongoDB: mongodb-memory-server mongod at ${mongod.uri}; data lives in memory and is lost on exit.`);
      return mongod;
    } catch (err) {
      if (wanted === 'mongod') throw err;
      const reason = (err as Error).message.split('\n')[0];
      log(`mongodb-memory-server's mongod is not available here (${reason}); using the in-process emulator.`);
    }
  }
  const emulator = await startEmulatorMongo();
  log(`Embedded MongoDB: in-process emulator at ${emulator.uri}; data lives in memory and is lost on exit.`);
  return emulator;
}
