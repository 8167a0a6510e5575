// Recording a client's command-monitoring and connection-pool (CMAP) events, and checking a
// test's expectEvents against them.
import { BSON, type CommandFailedEvent, type CommandStartedEvent, type CommandSucceededEvent, type MongoClient } from 'mongodb';
import { isDocument, show, type Doc } from './bson-values.js';
import { AssertionFailure, RunnerError, UnsupportedFeature } from './failures.js';
import type { ExpectedEventsForClient } from './format.js';
import { tolerateDriver } from './driver-tolerances.js';
import { match, type MatchEntities } from './match.js';

export type EventKind = 'command' | 'cmap';

export interface Observed {
  kind: EventKind;
  /** Unified-format name, e.g. "commandStartedEvent". */
  name: string;
  event: Doc;
}

const COMMAND_EVENTS: Record<string, string> = {
  commandStartedEvent: 'commandStarted',
  commandSucceededEvent: 'commandSucceeded',
  commandFailedEvent: 'commandFailed',
};

const CMAP_EVENTS: Record<string, string> = {
  poolCreatedEvent: 'connectionPoolCreated',
  poolReadyEvent: 'connectionPoolReady',
  poolClearedEvent: 'connectionPoolCleared',
  poolClosedEvent: 'connectionPoolClosed',
  connectionCreatedEvent: 'connectionCreated',
  connectionReadyEvent: 'connectionReady',
  connectionClosedEvent: 'connectionClosed',
  connectionCheckOutStartedEvent: 'connectionCheckOutStarted',
  connectionCheckOutFailedEvent: 'connectionCheckOutFailed',
  connectionCheckedOutEvent: 'connectionCheckedOut',
  connectionCheckedInEvent: 'connectionCheckedIn',
};

export const CHECKABLE_EVENT_NAMES = new Set([...Object.keys(COMMAND_EVENTS), ...Object.keys(CMAP_EVENTS)]);

// Commands whose events carry credentials (Command Logging and Monitoring spec, "Security").
const SENSITIVE = new Set([
  'authenticate',
  'saslstart',
  'saslcontinue',
  'getnonce',
  'createuser',
  'updateuser',
  'copydbgetnonce',
  'copydbsaslstart',
  'copydb',
]);

type CommandEvent = CommandStartedEvent | CommandSucceededEvent | CommandFailedEvent;

/**
 * The document as it is at this moment, in BSON terms. The driver keeps references to objects it
 * later changes (e.g. it adds afterClusterTime to a shared readConcern object for the next
 * command), and holds sort specs as Maps; a BSON round trip records what went on the wire, with
 * int32, int64 and double kept apart.
 */
function snapshot(v: unknown): unknown {
  if (!isDocument(v)) return v;
  try {
    return BSON.deserialize(BSON.serialize(v), { promoteValues: false });
  } catch {
    return v;
  }
}

export class EventRecorder {
  readonly observed: Observed[] = [];
  /** Connections currently checked out (for assertNumberConnectionsCheckedOut). */
  checkedOut = 0;
  private active = true;

  constructor(
    client: MongoClient,
    private readonly opts: { observe: string[]; ignoreCommands: string[]; observeSensitive: boolean },
  ) {
    for (const name of opts.observe) {
      if (!CHECKABLE_EVENT_NAMES.has(name)) throw new UnsupportedFeature(`observing ${name}`);
      const commandEvent = COMMAND_EVENTS[name];
      if (commandEvent) {
        client.on(commandEvent as 'commandStarted', (ev: CommandEvent) => this.onCommand(name, ev));
      } else {
        client.on(CMAP_EVENTS[name] as 'connectionCreated', (ev: object) => this.push('cmap', name, { ...ev }));
      }
    }
    client.on('connectionCheckedOut', () => this.checkedOut++);
    client.on('connectionCheckedIn', () => this.checkedOut--);
  }

  stop(): void {
    this.active = false;
  }

  private push(kind: EventKind, name: string, event: Doc): void {
    if (this.active) this.observed.push({ kind, name, event });
  }

  private onCommand(name: string, ev: CommandEvent): void {
    const cmdName = ev.commandName;
    if (cmdName === 'configureFailPoint' || this.opts.ignoreCommands.includes(cmdName)) return;
    if (!this.opts.observeSensitive && this.isSensitive(ev)) return;
    const doc: Doc = {
      commandName: cmdName,
      databaseName: ev.databaseName,
      serviceId: ev.serviceId,
      serverConnectionId: ev.serverConnectionId,
    };
    if ('command' in ev) doc.command = snapshot(ev.command);
    if ('reply' in ev) doc.reply = snapshot(ev.reply);
    if ('failure' in ev) doc.failure = ev.failure;
    this.push('command', name, doc);
  }

  private isSensitive(ev: CommandEvent): boolean {
    const lower = ev.commandName.toLowerCase();
    if (SENSITIVE.has(lower)) return true;
    if (lower === 'hello' || lower === 'ismaster') {
      // Hello is sensitive when it carries speculativeAuthenticate; the driver then redacts it to {}.
      const body = 'command' in ev ? ev.command : 'reply' in ev ? ev.reply : undefined;
      return !isDocument(body) || Object.keys(body).length === 0 || 'speculativeAuthenticate' in body;
    }
    return false;
  }

  commandsStarted(): Doc[] {
    return this.observed.filter((o) => o.name === 'commandStartedEvent').map((o) => o.event);
  }
}

function checkOne(expected: Doc, actual: Observed, entities: MatchEntities, where: string): string | undefined {
  const keys = Object.keys(expected);
  if (keys.length !== 1) throw new RunnerError(`${where}: expected event must have one key`);
  const name = keys[0];
  if (!CHECKABLE_EVENT_NAMES.has(name)) throw new UnsupportedFeature(`checking ${name}`);
  if (actual.name !== name) return `${where}: expected ${name}, got ${actual.name} ${describe(actual)}`;
  const body = expected[name];
  if (!isDocument(body)) throw new RunnerError(`${where}: ${name} must be a document`);
  const ev = actual.event;
  for (const [k, v] of Object.entries(body)) {
    let r: string | undefined;
    if (k === 'command') {
      const [e, a] = tolerateDriver(v, ev.command, ev.commandName);
      r = match(e, a, { root: true, entities });
    }
    else if (k === 'reply') r = match(v, ev[k], { root: true, entities });
    else if (k === 'commandName' || k === 'databaseName') r = ev[k] === v ? undefined : `expected ${String(v)}, got ${String(ev[k])}`;
    else if (k === 'hasServiceId') r = Boolean(ev.serviceId) === v ? undefined : `serviceId presence is not ${String(v)}`;
    else if (k === 'hasServerConnectionId') {
      const id = ev.serverConnectionId;
      const present = id !== null && id !== undefined && Number(id) > 0;
      r = present === v ? undefined : `serverConnectionId presence is not ${String(v)}`;
    } else if (k === 'reason' || k === 'interruptInUseConnections') {
      r = ev[k] === v ? undefined : `expected ${String(v)}, got ${String(ev[k])}`;
    } else throw new UnsupportedFeature(`event assertion ${name}.${k}`);
    if (r) return `${where} ${name}.${k}: ${r}`;
  }
  return undefined;
}

function describe(o: Observed): string {
  if (o.kind === 'command') return `(${String(o.event.commandName)})`;
  return '';
}

/** Throws AssertionFailure when the observed events of a client do not match the expectation. */
export function checkExpectedEvents(
  exp: ExpectedEventsForClient,
  recorder: EventRecorder,
  entities: MatchEntities,
): void {
  const kind = exp.eventType ?? 'command';
  if (kind !== 'command' && kind !== 'cmap') throw new UnsupportedFeature(`expectEvents eventType ${kind}`);
  const actual = recorder.observed.filter((o) => o.kind === kind);
  const expected = exp.events;
  for (let i = 0; i < expected.length; i++) {
    const where = `${exp.client} ${kind} event #${i}`;
    if (i >= actual.length) {
      throw new AssertionFailure(
        `${where}: expected ${show(expected[i], 200)}, but only ${actual.length} event(s) observed: ${actual
          .map((a) => `${a.name}${describe(a)}`)
          .join(', ')}`,
      );
    }
    const r = checkOne(expected[i], actual[i], entities, where);
    if (r) throw new AssertionFailure(r);
  }
  if (!exp.ignoreExtraEvents && actual.length > expected.length) {
    const extra = actual.slice(expected.length).map((a) => `${a.name}${describe(a)}`);
    throw new AssertionFailure(`${exp.client}: ${extra.length} unexpected extra ${kind} event(s): ${extra.join(', ')}`);
  }
}
