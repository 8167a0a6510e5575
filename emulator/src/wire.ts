// MongoDB wire protocol framing: OP_MSG (body + document sequences, optional CRC-32C checksum,
// which we accept without verifying) and legacy OP_QUERY/OP_REPLY, used by drivers for the first
// handshake.
import { deserialize, serialize, type Long } from 'bson';
import type { Doc } from './values.js';

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

export const MSG_CHECKSUM_PRESENT = 1;
export const MSG_MORE_TO_COME = 2;
export const MSG_EXHAUST_ALLOWED = 1 << 16;

export interface Header {
  length: number;
  requestId: number;
  responseTo: number;
  opCode: number;
}

export type Request =
  | { kind: 'msg'; header: Header; flags: number; body: Doc }
  | { kind: 'query'; header: Header; collection: string; body: Doc }
  | { kind: 'unsupported'; header: Header };

// int64 values are decoded as Long so that those a write stores keep their type (a NumberLong(5)
// reads back as a long, as from mongod); everywhere else they become numbers (demoteLongs).
const deserializeOptions = { promoteValues: true, promoteLongs: false, promoteBuffers: false, bsonRegExp: false } as const;

const isLong = (v: unknown): v is Long => v !== null && typeof v === 'object' && (v as { _bsontype?: string })._bsontype === 'Long';

/** Longs within 2^53 become numbers (wider ones stay Long, as with the driver's promoteLongs). */
function demote(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (isLong(v)) {
    const n = v.toNumber();
    return Number.isSafeInteger(n) ? n : v;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = demote(v[i]);
    return v;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return v;
  const d = v as Doc;
  for (const k of Object.keys(d)) d[k] = demote(d[k]);
  return d;
}

/**
 * Command fields (txnNumber, cursor ids, limits, filters, pipelines) are read as numbers. Only
 * what a write stores as sent keeps its Longs: inserted documents, replacement documents and
 * operator-update values (a pipeline update is made of expressions, so it is demoted).
 */
function demoteLongs(body: Doc): void {
  const cmd = Object.keys(body)[0];
  for (const k of Object.keys(body)) {
    const v = body[k];
    if (cmd === 'insert' && k === 'documents') continue;
    if ((cmd === 'findAndModify' || cmd === 'findandmodify') && k === 'update' && !Array.isArray(v)) continue;
    if (cmd === 'update' && k === 'updates' && Array.isArray(v)) {
      for (const stmt of v) {
        if (stmt === null || typeof stmt !== 'object') continue;
        const st = stmt as Doc;
        for (const sk of Object.keys(st)) if (sk !== 'u' || Array.isArray(st.u)) st[sk] = demote(st[sk]);
      }
      continue;
    }
    body[k] = demote(v);
  }
}

export function readHeader(buf: Buffer, offset = 0): Header {
  return {
    length: buf.readInt32LE(offset),
    requestId: buf.readInt32LE(offset + 4),
    responseTo: buf.readInt32LE(offset + 8),
    opCode: buf.readInt32LE(offset + 12),
  };
}

function readCString(buf: Buffer, offset: number): [string, number] {
  const end = buf.indexOf(0, offset);
  if (end < 0) throw new Error('unterminated cstring');
  return [buf.toString('utf8', offset, end), end + 1];
}

/** Decodes one complete message (buf holds exactly header.length bytes). */
export function decode(buf: Buffer): Request {
  const header = readHeader(buf);
  if (header.opCode === OP_MSG) {
    const flags = buf.readUInt32LE(16);
    const end = flags & MSG_CHECKSUM_PRESENT ? buf.length - 4 : buf.length;
    let pos = 20;
    let body: Doc | undefined;
    const sequences: [string, Doc[]][] = [];
    while (pos < end) {
      const kind = buf[pos++];
      if (kind === 0) {
        const size = buf.readInt32LE(pos);
        body = deserialize(buf.subarray(pos, pos + size), deserializeOptions) as Doc;
        pos += size;
      } else if (kind === 1) {
        const size = buf.readInt32LE(pos);
        const stop = pos + size;
        const [id, start] = readCString(buf, pos + 4);
        const docs: Doc[] = [];
        let p = start;
        while (p < stop) {
          const dsize = buf.readInt32LE(p);
          docs.push(deserialize(buf.subarray(p, p + dsize), deserializeOptions) as Doc);
          p += dsize;
        }
        sequences.push([id, docs]);
        pos = stop;
      } else {
        throw new Error(`unknown OP_MSG section kind ${kind}`);
      }
    }
    if (!body) throw new Error('OP_MSG without body section');
    for (const [id, docs] of sequences) body[id] = docs;
    demoteLongs(body);
    return { kind: 'msg', header, flags, body };
  }
  if (header.opCode === OP_QUERY) {
    const [collection, p] = readCString(buf, 20);
    const qpos = p + 8; // numberToSkip, numberToReturn
    const size = buf.readInt32LE(qpos);
    let body = deserialize(buf.subarray(qpos, qpos + size), deserializeOptions) as Doc;
    // Legacy wrapping: { $query: {...}, $readPreference: ... }
    if (body.$query && typeof body.$query === 'object') body = body.$query as Doc;
    demote(body);
    return { kind: 'query', header, collection, body };
  }
  return { kind: 'unsupported', header };
}

const serializeOptions = { ignoreUndefined: true } as const;

function header(length: number, requestId: number, responseTo: number, opCode: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(requestId, 4);
  h.writeInt32LE(responseTo, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

export function encodeMsg(doc: Doc, requestId: number, responseTo: number, flags = 0): Buffer {
  const body = serialize(doc, serializeOptions);
  const len = 16 + 4 + 1 + body.length;
  const pre = Buffer.alloc(5);
  pre.writeUInt32LE(flags, 0);
  pre[4] = 0;
  return Buffer.concat([header(len, requestId, responseTo, OP_MSG), pre, body], len);
}

export function encodeReply(doc: Doc, requestId: number, responseTo: number): Buffer {
  const body = serialize(doc, serializeOptions);
  const fixed = Buffer.alloc(20);
  fixed.writeInt32LE(8, 0); // AwaitCapable
  fixed.writeBigInt64LE(0n, 4);
  fixed.writeInt32LE(0, 12);
  fixed.writeInt32LE(1, 16);
  const len = 16 + 20 + body.length;
  return Buffer.concat([header(len, requestId, responseTo, OP_REPLY), fixed, body], len);
}
