// The `failCommand` fail point (configureFailPoint on the admin database), with mongod's modes
// (alwaysOn, off, {times}, {skip}) and data options (failCommands, errorCode, errorLabels,
// closeConnection, writeConcernError, blockConnection/blockTimeMS, appName).
import { Codes, MongoCommandError } from './errors.js';
import { isPlainObject, type Doc } from './values.js';

export interface FailCommandData {
  failCommands: string[];
  errorCode?: number;
  errorLabels?: string[];
  closeConnection?: boolean;
  writeConcernError?: Doc;
  blockConnection?: boolean;
  blockTimeMS?: number;
  appName?: string;
  errmsg?: string;
}

interface Armed {
  data: FailCommandData;
  /** Remaining activations, Infinity for alwaysOn. */
  times: number;
  /** Matching commands to let through before activating. */
  skip: number;
}

const knownData = new Set(['failCommands', 'errorCode', 'errorLabels', 'closeConnection', 'writeConcernError', 'blockConnection', 'blockTimeMS', 'appName', 'failInternalCommands', 'errmsg']);

export class FailPoints {
  private armed: Armed | null = null;
  /** How often the fail point fired since the emulator started (mongod's timesEntered). */
  private timesEntered = 0;

  /** Reply of configureFailPoint: mongod reports how often the fail point fired before this change. */
  configure(body: Doc): Doc {
    const count = this.timesEntered;
    this.apply(body);
    return { count };
  }

  private apply(body: Doc): void {
    const name = body.configureFailPoint;
    if (name !== 'failCommand') {
      throw new MongoCommandError(Codes.NotImplemented, `The emulator supports only the 'failCommand' fail point, not '${String(name)}'`);
    }
    const mode = body.mode;
    let times = Infinity;
    let skip = 0;
    if (mode === 'off') {
      this.armed = null;
      return;
    } else if (mode === 'alwaysOn') {
      times = Infinity;
    } else if (isPlainObject(mode) && typeof mode.times === 'number') {
      times = mode.times;
    } else if (isPlainObject(mode) && typeof mode.skip === 'number') {
      skip = mode.skip;
    } else if (isPlainObject(mode) && 'activationProbability' in mode) {
      throw new MongoCommandError(Codes.NotImplemented, "fail point mode 'activationProbability' is not supported by the emulator");
    } else {
      throw new MongoCommandError(Codes.TypeMismatch, "'mode' must be one of 'off', 'alwaysOn', {times: n}, {skip: n}");
    }
    const data = body.data;
    if (!isPlainObject(data) || !Array.isArray(data.failCommands)) {
      throw new MongoCommandError(Codes.BadValue, "failCommand fail point requires data.failCommands (array of command names)");
    }
    for (const k of Object.keys(data)) {
      if (!knownData.has(k)) throw new MongoCommandError(Codes.NotImplemented, `failCommand data option '${k}' is not supported by the emulator`);
    }
    this.armed = { data: data as unknown as FailCommandData, times, skip };
  }

  /** The fail point's data if it fires for this command now (consuming one activation). */
  check(cmd: string, appName: string | undefined): FailCommandData | undefined {
    const a = this.armed;
    if (!a || !a.data.failCommands.includes(cmd)) return undefined;
    if (a.data.appName !== undefined && a.data.appName !== appName) return undefined;
    if (a.skip > 0) {
      a.skip--;
      return undefined;
    }
    if (a.times <= 0) return undefined;
    a.times--;
    this.timesEntered++;
    if (a.times <= 0) this.armed = null;
    return a.data;
  }

  clear(): void {
    this.armed = null;
  }
}
