// The per-test entity map: clients (with their event recorders), databases, collections, sessions,
// cursors and saved results.
import {
  MongoClient,
  type AbstractCursor,
  type ClientSession,
  type ClientSessionOptions,
  type Collection,
  type Db,
  type MongoClientOptions,
} from 'mongodb';
import { isDocument, type Doc } from './bson-values.js';
import { EventRecorder } from './events.js';
import { RunnerError, UnsupportedFeature } from './failures.js';
import type { MatchEntities } from './match.js';
import { collectionOrDatabaseOptions, transactionOptionsOf, uriWithOptions } from './options.js';
import type { Topology } from './requirements.js';

export type Entity =
  | { kind: 'client'; client: MongoClient; recorder: EventRecorder }
  | { kind: 'database'; db: Db; client: MongoClient }
  | { kind: 'collection'; coll: Collection<Doc>; client: MongoClient }
  | { kind: 'session'; session: ClientSession; lsid: unknown; client: MongoClient }
  | { kind: 'cursor'; cursor: AbstractCursor<Doc> }
  | { kind: 'value'; value: unknown };

type KindOf<K extends Entity['kind']> = Extract<Entity, { kind: K }>;

export interface EntityEnv {
  uri: string;
  topology: Topology;
}

const CLIENT_KEYS = new Set([
  'id',
  'uriOptions',
  'useMultipleMongoses',
  'observeEvents',
  'ignoreCommandMonitoringEvents',
  'observeSensitiveCommands',
  'serverApi',
]);

export class EntityMap implements MatchEntities {
  private readonly map = new Map<string, Entity>();

  constructor(private readonly env: EntityEnv) {}

  has(name: string): boolean {
    return this.map.has(name);
  }

  get<K extends Entity['kind']>(name: string, kind: K): KindOf<K> {
    const e = this.map.get(name);
    if (!e) throw new RunnerError(`no entity named ${name}`);
    if (e.kind !== kind) throw new RunnerError(`entity ${name} is a ${e.kind}, not a ${kind}`);
    return e as KindOf<K>;
  }

  any(name: string): Entity {
    const e = this.map.get(name);
    if (!e) throw new RunnerError(`no entity named ${name}`);
    return e;
  }

  set(name: string, e: Entity): void {
    if (this.map.has(name)) throw new RunnerError(`entity ${name} already exists`);
    this.map.set(name, e);
  }

  all(): Array<[string, Entity]> {
    return [...this.map.entries()];
  }

  value(name: string): unknown {
    const e = this.any(name);
    if (e.kind !== 'value') throw new RunnerError(`entity ${name} is a ${e.kind}, not a BSON value`);
    return e.value;
  }

  sessionLsid(name: string): unknown {
    return this.get(name, 'session').lsid;
  }

  /** Creates entities in order (each may refer to earlier ones). */
  async create(defs: Doc[]): Promise<void> {
    for (const def of defs) {
      const keys = Object.keys(def);
      if (keys.length !== 1) throw new RunnerError(`entity must have one key, got ${keys.join(',')}`);
      const kind = keys[0];
      const spec = def[kind];
      if (!isDocument(spec) || typeof spec.id !== 'string') throw new RunnerError(`entity ${kind} without id`);
      switch (kind) {
        case 'client':
          await this.createClient(spec);
          break;
        case 'database': {
          const c = this.get(String(spec.client), 'client');
          const db = c.client.db(String(spec.databaseName), collectionOrDatabaseOptions(spec.databaseOptions));
          this.set(spec.id, { kind: 'database', db, client: c.client });
          break;
        }
        case 'collection': {
          const d = this.get(String(spec.database), 'database');
          const coll = d.db.collection<Doc>(String(spec.collectionName), collectionOrDatabaseOptions(spec.collectionOptions));
          this.set(spec.id, { kind: 'collection', coll, client: d.client });
          break;
        }
        case 'session':
          this.createSession(spec);
          break;
        default:
          throw new UnsupportedFeature(`entity type ${kind}`);
      }
    }
  }

  private async createClient(spec: Doc): Promise<void> {
    for (const k of Object.keys(spec)) if (!CLIENT_KEYS.has(k)) throw new UnsupportedFeature(`client option ${k}`);
    const uriOptions = isDocument(spec.uriOptions) ? spec.uriOptions : undefined;
    // Against a sharded cluster, useMultipleMongoses: false means a single mongos.
    const single = this.env.topology === 'sharded' && spec.useMultipleMongoses === false;
    const uri = uriWithOptions(this.env.uri, uriOptions, single);
    const options: MongoClientOptions & Doc = { monitorCommands: true, __skipPingOnConnect: true };
    if (isDocument(spec.serverApi)) options.serverApi = spec.serverApi as unknown as MongoClientOptions['serverApi'];
    const client = new MongoClient(uri, options);
    const recorder = new EventRecorder(client, {
      observe: Array.isArray(spec.observeEvents) ? spec.observeEvents.map(String) : [],
      ignoreCommands: Array.isArray(spec.ignoreCommandMonitoringEvents)
        ? spec.ignoreCommandMonitoringEvents.map(String)
        : [],
      observeSensitive: spec.observeSensitiveCommands === true,
    });
    this.set(String(spec.id), { kind: 'client', client, recorder });
    await client.connect();
  }

  private createSession(spec: Doc): void {
    const c = this.get(String(spec.client), 'client');
    const opts: ClientSessionOptions = {};
    const so = spec.sessionOptions;
    if (so !== undefined) {
      if (!isDocument(so)) throw new RunnerError('sessionOptions must be a document');
      for (const [k, v] of Object.entries(so)) {
        if (k === 'causalConsistency') opts.causalConsistency = Boolean(v);
        else if (k === 'snapshot') opts.snapshot = Boolean(v);
        else if (k === 'defaultTransactionOptions' && isDocument(v)) opts.defaultTransactionOptions = transactionOptionsOf(v);
        else throw new UnsupportedFeature(`session option ${k}`);
      }
    }
    const session = c.client.startSession(opts);
    this.set(String(spec.id), { kind: 'session', session, lsid: session.id, client: c.client });
  }

  /** Ends sessions, closes cursors and clients. Each step is bounded so a hung server cannot stall. */
  async close(): Promise<void> {
    const entries = [...this.map.values()];
    for (const e of entries) if (e.kind === 'client') e.recorder.stop();
    for (const e of entries) {
      if (e.kind === 'cursor') await bounded(e.cursor.close(), 2000);
    }
    for (const e of entries) {
      if (e.kind === 'session') await bounded(e.session.endSession(), 5000);
    }
    for (const e of entries) {
      if (e.kind === 'client') {
        const ok = await bounded(e.client.close(), 5000);
        if (!ok) await bounded(e.client.close(true), 2000);
      }
    }
    this.map.clear();
  }
}

/** Awaits `p` for at most `ms`; swallows its error. Returns whether it settled successfully in time. */
export async function bounded(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
