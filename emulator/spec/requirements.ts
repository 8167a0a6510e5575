// runOnRequirements: what the target server is (version, topology, auth, parameters) and whether a
// test file or test may run on it.
import type { MongoClient } from 'mongodb';
import { exactEquals, isDocument, type Doc } from './bson-values.js';

export type Topology = 'single' | 'replicaset' | 'sharded' | 'load-balanced';

export interface RunOnRequirement {
  minServerVersion?: string;
  maxServerVersion?: string;
  topologies?: string[];
  serverless?: 'require' | 'forbid' | 'allow';
  serverParameters?: Doc;
  auth?: boolean;
  authMechanism?: string;
  csfle?: boolean;
}

export interface ServerInfo {
  version: number[];
  versionText: string;
  topology: Topology;
  auth: boolean;
  /** Replica-set members other than the primary (0 for a single-member set or a standalone). */
  secondaries: number;
  /** getParameter value, or undefined when the server does not know it (cached). */
  parameter(name: string): Promise<unknown>;
}

/** "4.2" -> [4, 2, 0]; anything after major.minor.patch is discarded. */
export function parseVersion(v: string): number[] {
  const parts = v.split('-')[0].split('.').slice(0, 3).map((p) => Number.parseInt(p, 10) || 0);
  while (parts.length < 3) parts.push(0);
  return parts;
}

export function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  }
  return 0;
}

/** True when the connection string carries credentials (the only way this runner authenticates). */
export function uriHasCredentials(uri: string): boolean {
  const afterScheme = uri.replace(/^mongodb(\+srv)?:\/\//, '');
  const authority = afterScheme.split('/')[0].split('?')[0];
  return authority.includes('@');
}

export async function probeServer(client: MongoClient, uri: string): Promise<ServerInfo> {
  const admin = client.db('admin');
  const build = await admin.command({ buildInfo: 1 });
  const versionArray = Array.isArray(build.versionArray) ? (build.versionArray as unknown[]).map(Number) : undefined;
  const version = versionArray ? versionArray.slice(0, 3) : parseVersion(String(build.version));
  const hello = await admin.command({ hello: 1 }).catch(() => admin.command({ isMaster: 1 }));
  let topology: Topology = 'single';
  if (/[?&]loadBalanced=true/i.test(uri)) topology = 'load-balanced';
  else if (hello.msg === 'isdbgrid') topology = 'sharded';
  else if (typeof hello.setName === 'string') topology = 'replicaset';

  const cache = new Map<string, Promise<unknown>>();
  const parameter = (name: string): Promise<unknown> => {
    let p = cache.get(name);
    if (!p) {
      p = admin.command({ getParameter: 1, [name]: 1 }).then(
        (r) => (r as Doc)[name],
        () => undefined,
      );
      cache.set(name, p);
    }
    return p;
  };
  return {
    version,
    versionText: String(build.version ?? version.join('.')),
    topology,
    auth: uriHasCredentials(uri),
    secondaries: topology === 'replicaset' && Array.isArray(hello.hosts) ? Math.max(0, hello.hosts.length - 1) : 0,
    parameter,
  };
}

/** Why one requirement is not met, or undefined when it is. */
async function unmetReason(req: RunOnRequirement, info: ServerInfo): Promise<string | undefined> {
  if (req.minServerVersion && compareVersions(info.version, parseVersion(req.minServerVersion)) < 0) {
    return `server ${info.versionText} < minServerVersion ${req.minServerVersion}`;
  }
  if (req.maxServerVersion && compareVersions(info.version, parseVersion(req.maxServerVersion)) > 0) {
    return `server ${info.versionText} > maxServerVersion ${req.maxServerVersion}`;
  }
  if (req.topologies) {
    // "sharded-replicaset" is a sharded cluster of replica sets (all of them since MongoDB 3.6).
    const ok = req.topologies.some((t) => t === info.topology || (t === 'sharded-replicaset' && info.topology === 'sharded'));
    if (!ok) return `topology ${info.topology} not in [${req.topologies.join(', ')}]`;
  }
  // This runner never targets Atlas Serverless.
  if (req.serverless === 'require') return 'requires serverless';
  if (req.auth === true && !info.auth) return 'requires auth';
  if (req.auth === false && info.auth) return 'requires no auth';
  if (req.authMechanism) return `requires auth mechanism ${req.authMechanism}`;
  // CSFLE (libmongocrypt) is not available to this runner.
  if (req.csfle === true) return 'requires csfle';
  if (req.serverParameters && isDocument(req.serverParameters)) {
    for (const [name, want] of Object.entries(req.serverParameters)) {
      const got = await info.parameter(name);
      if (got === undefined || !exactEquals(want, got)) return `server parameter ${name} is not ${String(want)}`;
    }
  }
  return undefined;
}

/** undefined when the list is absent or any requirement is met; otherwise the reason(s). */
export async function requirementsUnmet(
  reqs: RunOnRequirement[] | undefined,
  info: ServerInfo,
): Promise<string | undefined> {
  if (!reqs || reqs.length === 0) return undefined;
  const reasons: string[] = [];
  for (const r of reqs) {
    const why = await unmetReason(r, info);
    if (why === undefined) return undefined;
    reasons.push(why);
  }
  return `not applicable: ${[...new Set(reasons)].join('; ')}`;
}
