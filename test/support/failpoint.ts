import type { FastifyInstance } from 'fastify';
import { freshDatabaseUri } from '../helper.js';

/**
 * MongoDB's `failCommand` fail point, aimed at one test app only: the app connects with its own
 * `appName`, and the fail point names it, so the other test files sharing the server never meet it.
 */

/** A fresh database URI that also names the client, e.g. mongodb://h:p/t_x?replicaSet=rs0&appName=faults-1. */
export function uriWithAppName(appName: string): string {
  const url = new URL(freshDatabaseUri());
  url.searchParams.set('appName', appName);
  return url.toString();
}

export type FailPointMode = 'alwaysOn' | 'off' | { times: number } | { skip: number };

export interface FailCommandData {
  failCommands: string[];
  errorCode?: number;
  errorLabels?: string[];
  closeConnection?: boolean;
  blockConnection?: boolean;
  blockTimeMS?: number;
}

/** Arms failCommand for the app's own connections (through the app's own connection). */
export async function failCommand(app: FastifyInstance, appName: string, mode: FailPointMode, data: FailCommandData): Promise<void> {
  await admin(app).command({ configureFailPoint: 'failCommand', mode, data: { ...data, appName } });
}

export async function failPointOff(app: FastifyInstance): Promise<void> {
  await admin(app).command({ configureFailPoint: 'failCommand', mode: 'off' });
}

function admin(app: FastifyInstance) {
  const db = app.db.db;
  if (!db) throw new Error('the app has no open database');
  return db.admin();
}
