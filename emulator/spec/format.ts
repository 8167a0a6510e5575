// Shapes of a unified-format test file, as far as this runner reads them.
import type { Doc } from './bson-values.js';
import type { RunOnRequirement } from './requirements.js';

export interface ExpectedError {
  isError?: boolean;
  isClientError?: boolean;
  isTimeoutError?: boolean;
  errorContains?: string;
  errorCode?: number;
  errorCodeName?: string;
  errorLabelsContain?: string[];
  errorLabelsOmit?: string[];
  errorResponse?: Doc;
  expectResult?: unknown;
  writeErrors?: Doc;
  writeConcernErrors?: Doc[];
}

export interface OperationSpec {
  name: string;
  object: string;
  arguments?: Doc;
  expectResult?: unknown;
  expectError?: ExpectedError;
  saveResultAsEntity?: string;
  ignoreResultAndError?: boolean;
}

export interface CollectionData {
  collectionName: string;
  databaseName: string;
  createOptions?: Doc;
  documents: Doc[];
}

export interface ExpectedEventsForClient {
  client: string;
  eventType?: 'command' | 'cmap' | 'sdam';
  events: Doc[];
  ignoreExtraEvents?: boolean;
}

export interface TestCase {
  description: string;
  runOnRequirements?: RunOnRequirement[];
  skipReason?: string;
  operations: OperationSpec[];
  expectEvents?: ExpectedEventsForClient[];
  expectLogMessages?: unknown[];
  outcome?: CollectionData[];
}

export interface UnifiedFile {
  description: string;
  schemaVersion: string;
  runOnRequirements?: RunOnRequirement[];
  createEntities?: Doc[];
  initialData?: CollectionData[];
  tests: TestCase[];
}

/** Highest schema version whose features this runner implements (for the constructs it checks). */
export const SUPPORTED_SCHEMA_VERSION = '1.12';
