// MongoDB server errors as the emulator reports them: numeric code, codeName and labels exactly as
// mongod would send them, so driver retry logic (TransientTransactionError etc.) behaves the same.

export const Codes = {
  InternalError: 1,
  BadValue: 2,
  NoSuchKey: 4,
  FailedToParse: 9,
  TypeMismatch: 14,
  InvalidLength: 16,
  IllegalOperation: 20,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  PathNotViable: 28,
  ConflictingUpdateOperators: 40,
  CursorNotFound: 43,
  NamespaceExists: 48,
  DollarPrefixedFieldName: 52,
  InvalidIdField: 53,
  NotSingleValueField: 54,
  CommandNotFound: 59,
  ImmutableField: 66,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  OperationFailed: 96,
  WriteConflict: 112,
  CommandFailed: 125,
  IndexAlreadyExists: 68,
  CannotCreateIndex: 67,
  InvalidIndexSpecificationOption: 197,
  NoSuchTransaction: 251,
  TransactionCommitted: 256,
  TransactionTooOld: 225,
  NotImplemented: 238,
  OperationNotSupportedInTransaction: 263,
  ConflictingOperationInProgress: 117,
  IncompleteTransactionHistory: 217,
  InvalidPipelineOperator: 168,
  Location16410: 16410,
  DuplicateKey: 11000,
  NoSuchSession: 206,
  Interrupted: 11601,
  MaxTimeMSExpired: 50,
  Unauthorized: 13,
  Location40324: 40324,
  Location15973: 15973,
  UnknownError: 8,
  HostUnreachable: 6,
  HostNotFound: 7,
  NetworkTimeout: 89,
  ShutdownInProgress: 91,
  PrimarySteppedDown: 189,
  ExceededTimeLimit: 262,
  SocketException: 9001,
  NotWritablePrimary: 10107,
  InterruptedAtShutdown: 11600,
  InterruptedDueToReplStateChange: 11602,
  NotPrimaryNoSecondaryOk: 13435,
  NotPrimaryOrSecondary: 13436,
  LockTimeout: 24,
  PreparedTransactionInProgress: 267,
  WriteConcernFailed: 64,
  UnsatisfiableWriteConcern: 100,
  UnknownReplWriteConcern: 79,
  SnapshotUnavailable: 246,
  SnapshotTooOld: 239,
  StaleConfig: 13388,
  UnsupportedOpQueryCommand: 352,
  DocumentValidationFailure: 121,
  CommandNotSupportedOnView: 166,
  OptionNotSupportedOnView: 167,
  ViewDepthLimitExceeded: 183,
  QueryFeatureNotAllowed: 224,
  GraphContainsCycle: 5,
  UnsupportedFormat: 12,
  BSONObjectTooLarge: 10334,
} as const;

const codeNames = new Map<number, string>(Object.entries(Codes).map(([name, code]) => [code, name]));

export function codeName(code: number): string {
  return codeNames.get(code) ?? `Location${code}`;
}

export class MongoCommandError extends Error {
  readonly code: number;
  readonly codeName: string;
  readonly errorLabels: string[];
  /** Extra fields merged into the reply (e.g. keyPattern/keyValue for 11000). */
  readonly extra: Record<string, unknown>;

  constructor(code: number, message: string, opts: { labels?: string[]; extra?: Record<string, unknown>; codeName?: string } = {}) {
    // These are protocol answers, not bugs: skip the (costly) stack capture.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.code = code;
    this.codeName = opts.codeName ?? codeName(code);
    this.errorLabels = opts.labels ?? [];
    this.extra = opts.extra ?? {};
  }
}

export const fail = (code: number, message: string, opts?: ConstructorParameters<typeof MongoCommandError>[2]): never => {
  throw new MongoCommandError(code, message, opts);
};

export function writeConflict(): MongoCommandError {
  return new MongoCommandError(
    Codes.WriteConflict,
    'Caused by :: Write conflict during plan execution and yielding is disabled. :: Please retry your operation or multi-document transaction.',
    { labels: ['TransientTransactionError'] },
  );
}

/** Thrown by a write when another open transaction holds the document; non-transactional writers wait on it. */
export class BlockedByTransaction extends Error {
  constructor(readonly until: Promise<void>) {
    super('blocked by an open transaction');
  }
}
