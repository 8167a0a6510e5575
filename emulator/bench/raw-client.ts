// A minimal wire-protocol client (no driver): used by tests for checks the driver would hide and by
// the benchmark to measure the emulator without driver overhead.
import net from 'node:net';
import { deserialize, serialize, type Document } from 'bson';

/** A minimal wire-protocol client: one request at a time, OP_MSG or legacy OP_QUERY. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiting: ((b: Buffer) => void) | null = null;
  private failWaiting: ((e: Error) => void) | null = null;
  private requestId = 1;

  private constructor(private readonly sock: net.Socket) {
    sock.on('close', () => this.failWaiting?.(new Error('connection closed')));
    sock.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      if (this.buf.length >= 4 && this.buf.length >= this.buf.readInt32LE(0) && this.waiting) {
        const len = this.buf.readInt32LE(0);
        const msg = this.buf.subarray(0, len);
        this.buf = this.buf.subarray(len);
        const w = this.waiting;
        this.waiting = null;
        w(msg);
      }
    });
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const sock = net.connect(port, host);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    });
    return new RawClient(sock);
  }

  private roundTrip(frame: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
      this.sock.write(frame);
    });
  }

  async command(doc: Document): Promise<Document> {
    const body = serialize(doc);
    const head = Buffer.alloc(21);
    head.writeInt32LE(21 + body.length, 0);
    head.writeInt32LE(this.requestId++, 4);
    head.writeInt32LE(2013, 12);
    const reply = await this.roundTrip(Buffer.concat([head, body]));
    expect16(reply, 2013);
    return deserialize(reply.subarray(21));
  }

  /** Legacy OP_QUERY on db.$cmd; returns [opCode of the reply, reply document]. */
  async legacyQuery(db: string, doc: Document): Promise<[number, Document]> {
    const ns = Buffer.from(`${db}.$cmd\0`);
    const body = serialize(doc);
    const fixed = Buffer.alloc(16 + 4);
    const tail = Buffer.alloc(8);
    tail.writeInt32LE(0, 0);
    tail.writeInt32LE(-1, 4);
    const len = fixed.length + ns.length + tail.length + body.length;
    fixed.writeInt32LE(len, 0);
    fixed.writeInt32LE(this.requestId++, 4);
    fixed.writeInt32LE(2004, 12);
    const reply = await this.roundTrip(Buffer.concat([fixed, ns, tail, body]));
    const opCode = reply.readInt32LE(12);
    return [opCode, deserialize(reply.subarray(36))];
  }

  close(): void {
    this.sock.destroy();
  }
}

function expect16(reply: Buffer, opCode: number): void {
  if (reply.readInt32LE(12) !== opCode) throw new Error(`unexpected opCode ${reply.readInt32LE(12)}`);
}
