import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { type EmbeddedMongo, startEmbeddedMongo } from '../scripts/embedded-mongo.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
    redisUrl: string;
  }
}

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function assertRedisReachable(): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    // Tests use real Redis; without it the suite must fail loudly, never skip (issue 3, item 7).
    throw new Error(`REDIS NOT REACHABLE at ${REDIS_URL}: the API tests need a real Redis (${(err as Error).message})`);
  } finally {
    redis.disconnect();
  }
}

/** Starts one MongoDB for the whole run (or uses MONGODB_URI) and says which one the tests use. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await assertRedisReachable();
  let embedded: EmbeddedMongo | undefined;
  let uri = process.env.MONGODB_URI;
  if (uri) {
    console.log(`[api tests] MongoDB: MONGODB_URI (${uri.replace(/\/\/[^@/]*@/, '//***@')})`);
  } else {
    embedded = await startEmbeddedMongo((line) => console.log(`[api tests] ${line}`));
    uri = embedded.uri;
  }
  console.log(`[api tests] Redis: ${REDIS_URL}`);
  project.provide('mongoUri', uri);
  project.provide('redisUrl', REDIS_URL);
  return async () => {
    await embedded?.stop();
  };
}
