// The "core" list: spec test files in which every applicable test must pass against the emulator.
// Transcribed as file names (relative to the spec-tests folder) from the spec data's README,
// section "What must pass". Everything else in the folder is stretch.

const crud = [
  'insertOne',
  'insertMany',
  'find',
  'findOne',
  'updateOne',
  'replaceOne',
  'deleteOne',
  'deleteMany',
  'findOneAndDelete',
  'findOneAndReplace',
  'findOneAndReplace-upsert',
  'count',
  'count-empty',
  'estimatedDocumentCount',
  'bulkWrite',
  'create-null-ids',
  'insertOne-errorResponse',
  'updateOne-errorResponse',
  'deleteOne-errorResponse',
  'findOneAndUpdate-errorResponse',
  'updateOne-validation',
  'updateMany-validation',
  'replaceOne-validation',
  'bulkWrite-update-validation',
];

const transactions = [
  'abort',
  'commit',
  'insert',
  'update',
  'delete',
  'findOneAndUpdate',
  'findOneAndDelete',
  'findOneAndReplace',
  'count',
  'bulk',
  'errors',
  'errors-client',
  'error-labels',
  'create-collection',
  'create-index',
  'run-command',
  'read-concern',
  'write-concern',
  'transaction-options',
  'transaction-options-repl',
  'causal-consistency',
  'retryable-commit',
  'retryable-abort',
  'retryable-writes',
];

// The README says "every file" of this folder; these are the files it holds.
const transactionsConvenientApi = [
  'callback-aborts',
  'callback-commits',
  'commit-retry-errorLabels',
  'commit-retry',
  'commit-transienttransactionerror-4.2',
  'commit-transienttransactionerror',
  'commit-writeconcernerror',
  'commit',
  'transaction-options',
];

/** Whole folders that are core in their entirety (a file added there later is core too). */
export const CORE_FOLDERS: readonly string[] = ['transactions-convenient-api'];

export const CORE_FILES: readonly string[] = [
  ...crud.map((n) => `crud/${n}.json`),
  ...transactions.map((n) => `transactions/${n}.json`),
  ...transactionsConvenientApi.map((n) => `transactions-convenient-api/${n}.json`),
];

/** `rel` is a path relative to the spec folder, with forward slashes. */
export function isCore(rel: string): boolean {
  return CORE_FILES.includes(rel) || CORE_FOLDERS.some((f) => rel.startsWith(`${f}/`));
}
