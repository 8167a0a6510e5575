// Converting the test format's option documents into the driver's option objects.
import {
  ReadConcern,
  ReadPreference,
  WriteConcern,
  type ReadConcernLevel,
  type ReadPreferenceMode,
  type TagSet,
  type TransactionOptions,
} from 'mongodb';
import { isDocument, type Doc } from './bson-values.js';
import { RunnerError, UnsupportedFeature } from './failures.js';

export function readConcernOf(v: unknown): ReadConcern {
  if (v instanceof ReadConcern) return v;
  if (!isDocument(v) || typeof v.level !== 'string') throw new RunnerError(`bad readConcern ${JSON.stringify(v)}`);
  return new ReadConcern(v.level as ReadConcernLevel);
}

export function writeConcernOf(v: unknown): WriteConcern {
  if (v instanceof WriteConcern) return v;
  if (!isDocument(v)) throw new RunnerError(`bad writeConcern ${JSON.stringify(v)}`);
  const w = v.w as number | string | undefined;
  const wtimeout = typeof v.wtimeoutMS === 'number' ? v.wtimeoutMS : undefined;
  const journal = typeof v.journal === 'boolean' ? v.journal : undefined;
  return new WriteConcern(w as WriteConcern['w'], wtimeout, journal);
}

export function readPreferenceOf(v: unknown): ReadPreference {
  if (v instanceof ReadPreference) return v;
  if (!isDocument(v) || typeof v.mode !== 'string') throw new RunnerError(`bad readPreference ${JSON.stringify(v)}`);
  const tags = Array.isArray(v.tagSets) ? (v.tagSets as TagSet[]) : undefined;
  const opts: { maxStalenessSeconds?: number; hedge?: Doc } = {};
  if (typeof v.maxStalenessSeconds === 'number') opts.maxStalenessSeconds = v.maxStalenessSeconds;
  if (isDocument(v.hedge)) opts.hedge = v.hedge;
  return new ReadPreference(v.mode as ReadPreferenceMode, tags, opts);
}

/** collectionOrDatabaseOptions -> options for `client.db()` / `db.collection()`. */
export function collectionOrDatabaseOptions(v: unknown): Doc {
  if (v === undefined) return {};
  if (!isDocument(v)) throw new RunnerError('collection/database options must be a document');
  const out: Doc = {};
  for (const [k, val] of Object.entries(v)) {
    if (k === 'readConcern') out.readConcern = readConcernOf(val);
    else if (k === 'writeConcern') out.writeConcern = writeConcernOf(val);
    else if (k === 'readPreference') out.readPreference = readPreferenceOf(val);
    else if (k === 'timeoutMS') out.timeoutMS = val;
    else throw new UnsupportedFeature(`collection/database option ${k}`);
  }
  return out;
}

/** TransactionOptions from startTransaction / withTransaction arguments or defaultTransactionOptions. */
export function transactionOptionsOf(v: Doc, allowExtra: readonly string[] = []): TransactionOptions {
  const out: TransactionOptions = {};
  for (const [k, val] of Object.entries(v)) {
    if (k === 'readConcern') out.readConcern = readConcernOf(val);
    else if (k === 'writeConcern') out.writeConcern = writeConcernOf(val);
    else if (k === 'readPreference') out.readPreference = readPreferenceOf(val);
    else if (k === 'maxCommitTimeMS') out.maxCommitTimeMS = val as number;
    else if (k === 'timeoutMS') (out as Doc).timeoutMS = val;
    else if (!allowExtra.includes(k)) throw new UnsupportedFeature(`transaction option ${k}`);
  }
  return out;
}

/**
 * The test suite's connection string with a client's uriOptions applied (they override keys of
 * the same name, case-insensitively). With `firstHostOnly`, only the first seed host is kept, or
 * `host` when given (keeping any credentials).
 */
export function uriWithOptions(base: string, uriOptions: Doc | undefined, firstHostOnly = false, host?: string): string {
  const m = /^(mongodb(?:\+srv)?:\/\/)([^/?]*)(\/[^?]*)?(?:\?(.*))?$/.exec(base);
  if (!m) throw new RunnerError(`cannot parse connection string ${base}`);
  const [, scheme, authorityIn, pathIn, queryIn] = m;
  let authority = authorityIn;
  if (firstHostOnly) {
    const at = authority.lastIndexOf('@');
    const creds = at >= 0 ? authority.slice(0, at + 1) : '';
    authority = creds + (host ?? authority.slice(at + 1).split(',')[0]);
  }
  const params: Array<[string, string]> = (queryIn ? queryIn.split('&') : [])
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      return eq < 0 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)];
    });
  const overrides: Doc = { ...(uriOptions ?? {}) };
  // A direct connection to one host must not name a replica set.
  if (host !== undefined) overrides.replicaSet = undefined;
  for (const [key, value] of Object.entries(overrides)) {
    const lower = key.toLowerCase();
    const kept = params.filter(([k]) => decodeURIComponent(k).toLowerCase() !== lower);
    params.length = 0;
    params.push(...kept);
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const one of values) {
      if (isDocument(one)) throw new UnsupportedFeature(`uriOption ${key} given as a document`);
      params.push([encodeURIComponent(key), encodeURIComponent(String(one))]);
    }
  }
  const query = params.map(([k, v]) => `${k}=${v}`).join('&');
  return `${scheme}${authority}${pathIn ?? '/'}${query ? `?${query}` : ''}`;
}
