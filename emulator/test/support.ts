// Shared helpers for the emulator's tests: a started emulator with a driver client, and (re-exported)
// a raw wire-protocol client for checks the driver would hide (OP_QUERY, hand-made lsid/txnNumber).
import { MongoClient, type MongoClientOptions } from 'mongodb';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../src/index.js';

export { RawClient } from '../bench/raw-client.js';

export interface Harness {
  em: RunningEmulator;
  client: MongoClient;
  close(): Promise<void>;
}

export async function startHarness(opts: EmulatorOptions = {}, clientOpts: MongoClientOptions = {}): Promise<Harness> {
  const em = await startEmulator({ port: 0, ...opts });
  const client = new MongoClient(em.uri, clientOpts);
  await client.connect();
  return {
    em,
    client,
    close: async () => {
      await client.close();
      await em.stop();
    },
  };
}

/** Error thrown by a driver call, for assertions on code/labels. */
export async function errorOf(p: Promise<unknown>): Promise<{ code?: number; codeName?: string; errorLabels?: string[]; message: string; [k: string]: unknown }> {
  try {
    await p;
  } catch (e) {
    // The driver's MongoError exposes errorLabels (a getter) next to code/codeName.
    return e as { code?: number; codeName?: string; errorLabels?: string[]; message: string };
  }
  throw new Error('expected the operation to fail');
}

