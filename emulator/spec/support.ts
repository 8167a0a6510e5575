// Before running a test: does it use anything this runner does not implement? Such tests are
// reported as skipped with the feature named, never run half-way and never counted as passed.
import { isDocument, type Doc } from './bson-values.js';
import { CHECKABLE_EVENT_NAMES } from './events.js';
import { RunnerError, UnsupportedFeature } from './failures.js';
import { SUPPORTED_SCHEMA_VERSION, type OperationSpec, type TestCase, type UnifiedFile } from './format.js';
import { checkSupported } from './operations.js';
import { SPECIAL_OP_NAMES } from './ops-runner.js';
import { compareVersions, parseVersion } from './requirements.js';

const ENTITY_TYPES = new Set(['client', 'database', 'collection', 'session']);
const ERROR_KEYS = new Set([
  'isError',
  'isClientError',
  'isTimeoutError',
  'errorContains',
  'errorCode',
  'errorCodeName',
  'errorLabelsContain',
  'errorLabelsOmit',
  'errorResponse',
  'expectResult',
]);

/** undefined when the file's schema version is one this runner reads. */
export function schemaUnsupported(file: UnifiedFile): string | undefined {
  const v = parseVersion(String(file.schemaVersion));
  const max = parseVersion(SUPPORTED_SCHEMA_VERSION);
  if (v[0] !== max[0] || compareVersions(v, max) > 0) {
    return `schemaVersion ${file.schemaVersion} (runner reads up to ${SUPPORTED_SCHEMA_VERSION})`;
  }
  return undefined;
}

function entityKinds(defs: Doc[] | undefined, into: Map<string, string>): void {
  for (const def of defs ?? []) {
    const [kind] = Object.keys(def);
    if (!ENTITY_TYPES.has(kind)) throw new UnsupportedFeature(`entity type ${kind}`);
    const spec = def[kind];
    if (isDocument(spec) && typeof spec.id === 'string') into.set(spec.id, kind);
  }
}

function checkOps(ops: OperationSpec[], kinds: Map<string, string>): void {
  for (const op of ops) {
    if (op.object === 'testRunner') {
      if (!SPECIAL_OP_NAMES.has(op.name)) throw new UnsupportedFeature(`testRunner operation ${op.name}`);
      if (op.name === 'createEntities') entityKinds(op.arguments?.entities as Doc[] | undefined, kinds);
      continue;
    }
    const kind = kinds.get(op.object);
    // Objects saved during the test (cursors) are checked when they are used.
    if (kind !== undefined) checkSupported(kind, op);
    for (const k of Object.keys(op.expectError ?? {})) {
      if (!ERROR_KEYS.has(k)) throw new UnsupportedFeature(`expectError.${k}`);
    }
    if (op.saveResultAsEntity && op.name === 'createFindCursor') kinds.set(op.saveResultAsEntity, 'cursor');
    if (op.name === 'withTransaction' && Array.isArray(op.arguments?.callback)) {
      checkOps(op.arguments.callback as OperationSpec[], kinds);
    }
  }
}

/** The unsupported feature a test needs, or undefined when the runner can run it all. */
export function unsupportedFeature(file: UnifiedFile, test: TestCase): string | undefined {
  try {
    const kinds = new Map<string, string>();
    entityKinds(file.createEntities, kinds);
    checkOps(test.operations, kinds);
    if (test.expectLogMessages) throw new UnsupportedFeature('expectLogMessages');
    for (const exp of test.expectEvents ?? []) {
      const type = exp.eventType ?? 'command';
      if (type !== 'command' && type !== 'cmap') throw new UnsupportedFeature(`${type} events`);
      for (const ev of exp.events) {
        const [name] = Object.keys(ev);
        if (!CHECKABLE_EVENT_NAMES.has(name)) throw new UnsupportedFeature(`event ${name}`);
      }
    }
    return undefined;
  } catch (e) {
    if (e instanceof UnsupportedFeature) return e.message;
    if (e instanceof RunnerError) return undefined; // reported as a failure when the test runs
    throw e;
  }
}

function clientDefs(defs: Doc[] | undefined, ops: OperationSpec[]): Doc[] {
  const out: Doc[] = [];
  const add = (list: unknown): void => {
    for (const d of Array.isArray(list) ? (list as Doc[]) : []) if (isDocument(d.client)) out.push(d.client);
  };
  add(defs);
  for (const op of ops) if (op.object === 'testRunner' && op.name === 'createEntities') add(op.arguments?.entities);
  return out;
}

/**
 * A client whose read preference is "secondary" cannot even connect (the driver's connect selects
 * a server by the client's read preference) unless the replica set has a secondary, whatever the
 * server. Such tests need a deployment with a secondary, which the target may not have.
 */
export function needsMissingSecondary(file: UnifiedFile, test: TestCase, secondaries: number): string | undefined {
  if (secondaries > 0) return undefined;
  for (const c of clientDefs(file.createEntities, test.operations)) {
    const rp = isDocument(c.uriOptions) ? c.uriOptions.readPreference : undefined;
    if (typeof rp === 'string' && rp.toLowerCase() === 'secondary') {
      return 'needs a replica-set secondary: client readPreference "secondary" and the target has none';
    }
  }
  return undefined;
}
