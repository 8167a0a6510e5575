// expectError: checking an error raised by the driver against the test's expectation.
import { MongoBulkWriteError, MongoError, MongoOperationTimeoutError, MongoServerError } from 'mongodb';
import { isDocument, show, type Doc } from './bson-values.js';
import { AssertionFailure, UnsupportedFeature } from './failures.js';
import type { ExpectedError } from './format.js';
import { match, type MatchEntities } from './match.js';
import { bulkResultDoc } from './results.js';

// Server error code names (from MongoDB's error_codes.yml) for errors that report a code but no
// codeName, e.g. the write errors inside a bulk write error.
const CODE_NAMES: Record<string, number> = {
  InternalError: 1,
  BadValue: 2,
  NoSuchKey: 4,
  HostUnreachable: 6,
  HostNotFound: 7,
  UnknownError: 8,
  FailedToParse: 9,
  Unauthorized: 13,
  TypeMismatch: 14,
  IllegalOperation: 20,
  LockTimeout: 24,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  CursorNotFound: 43,
  NamespaceExists: 48,
  MaxTimeMSExpired: 50,
  CommandNotFound: 59,
  WriteConcernFailed: 64,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  UnknownReplWriteConcern: 79,
  NetworkTimeout: 89,
  ShutdownInProgress: 91,
  UnsatisfiableWriteConcern: 100,
  WriteConflict: 112,
  DocumentValidationFailure: 121,
  PrimarySteppedDown: 189,
  TransactionTooOld: 225,
  SnapshotUnavailable: 246,
  NoSuchTransaction: 251,
  TransactionCommitted: 256,
  ExceededTimeLimit: 262,
  OperationNotSupportedInTransaction: 263,
  PreparedTransactionInProgress: 267,
  DuplicateKey: 11000,
  InterruptedAtShutdown: 11600,
  Interrupted: 11601,
  InterruptedDueToReplStateChange: 11602,
  SocketException: 9001,
  NotWritablePrimary: 10107,
  NotPrimaryNoSecondaryOk: 13435,
  NotPrimaryOrSecondary: 13436,
};

interface ServerPart {
  code?: unknown;
  codeName?: unknown;
  errmsg?: unknown;
  message?: unknown;
}

/** The error itself plus, for bulk writes, each write error and the write concern error. */
function serverParts(err: MongoServerError): ServerPart[] {
  const parts: ServerPart[] = [err as ServerPart];
  if (err instanceof MongoBulkWriteError) {
    const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    for (const we of writeErrors) if (we) parts.push({ code: we.code, errmsg: we.errmsg });
    const wce = err.result?.getWriteConcernError();
    if (wce) parts.push({ code: wce.code, errmsg: wce.errmsg });
  }
  const wce = (err as { writeConcernError?: unknown }).writeConcernError;
  if (isDocument(wce)) parts.push(wce);
  return parts;
}

function labelsOf(err: unknown): string[] {
  if (err instanceof MongoError) return err.errorLabels;
  return [];
}

/** Throws AssertionFailure unless `err` (raised by the operation) satisfies `exp`. */
export function checkExpectedError(exp: ExpectedError, err: unknown, entities: MatchEntities): void {
  const fail = (why: string): never => {
    throw new AssertionFailure(`${why}; error was ${describeError(err)}`);
  };
  const server = err instanceof MongoServerError ? err : undefined;
  for (const key of Object.keys(exp)) {
    switch (key as keyof ExpectedError) {
      case 'isError':
        break;
      case 'isClientError': {
        // A client error comes from the driver itself: a MongoError that is not a server response.
        const isClient = err instanceof MongoError && !(err instanceof MongoServerError);
        if (isClient !== exp.isClientError) fail(`expected ${exp.isClientError ? 'a client' : 'a server'} error`);
        break;
      }
      case 'isTimeoutError': {
        const isTimeout = err instanceof MongoOperationTimeoutError;
        if (isTimeout !== exp.isTimeoutError) fail(`expected isTimeoutError ${String(exp.isTimeoutError)}`);
        break;
      }
      case 'errorContains': {
        const needle = String(exp.errorContains).toLowerCase();
        const texts = [err instanceof Error ? err.message : String(err)];
        if (server) for (const p of serverParts(server)) texts.push(String(p.errmsg ?? ''), String(p.message ?? ''));
        if (!texts.some((t) => t.toLowerCase().includes(needle))) fail(`expected message containing "${exp.errorContains}"`);
        break;
      }
      case 'errorCode':
        if (!server || !serverParts(server).some((p) => Number(p.code) === exp.errorCode)) {
          fail(`expected server error code ${exp.errorCode}`);
        }
        break;
      case 'errorCodeName': {
        const want = String(exp.errorCodeName).toLowerCase();
        const code = Object.entries(CODE_NAMES).find(([n]) => n.toLowerCase() === want)?.[1];
        const ok =
          server !== undefined &&
          serverParts(server).some((p) =>
            typeof p.codeName === 'string' ? p.codeName.toLowerCase() === want : code !== undefined && Number(p.code) === code,
          );
        if (!ok) fail(`expected server error codeName ${exp.errorCodeName}`);
        break;
      }
      case 'errorLabelsContain': {
        const missing = (exp.errorLabelsContain ?? []).filter((l) => !labelsOf(err).includes(l));
        if (missing.length > 0) fail(`expected error labels ${missing.join(', ')}`);
        break;
      }
      case 'errorLabelsOmit': {
        const present = (exp.errorLabelsOmit ?? []).filter((l) => labelsOf(err).includes(l));
        if (present.length > 0) fail(`expected error labels absent: ${present.join(', ')}`);
        break;
      }
      case 'errorResponse': {
        if (!server) fail('expected a server error response');
        const r = match(exp.errorResponse, server?.errorResponse, { root: true, entities });
        if (r) fail(`errorResponse: ${r}`);
        break;
      }
      case 'expectResult': {
        const result = err instanceof MongoBulkWriteError && err.result ? bulkResultDoc(err.result) : undefined;
        const r = match(exp.expectResult, result, { root: true, entities });
        if (r) fail(`error result: ${r}`);
        break;
      }
      default:
        throw new UnsupportedFeature(`expectError.${key}`);
    }
  }
}

export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return show(err);
  const parts = [`${err.name}: ${err.message}`];
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) parts.push(`code ${String(code)}`);
  const labels = labelsOf(err);
  if (labels.length > 0) parts.push(`labels [${labels.join(', ')}]`);
  return parts.join(', ');
}

export function errorCodeOf(err: unknown): number | undefined {
  const code = (err as Doc | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
