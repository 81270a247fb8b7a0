/**
 * PostgreSQL's binary COPY format, read tuple by tuple as the chunks of a `COPY ... TO STDOUT (FORMAT
 * binary)` arrive: an 11-byte signature, flags and a header extension, then per tuple a field count
 * (int16, -1 ends the data) and per field its length (int32, -1 for null) and bytes, all big-endian.
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * One tuple, valid only during the callback it is given to: field `i` is `buf[start[i], start[i] +
 * length[i])`, or null when `length[i]` is -1. No field is copied out of the chunk it came in.
 */
export interface BinaryTuple {
  buf: Buffer;
  /** A view of `buf`, made once a chunk rather than once a field. */
  view: DataView;
  readonly start: Int32Array;
  readonly length: Int32Array;
}

export class BinaryCopyReader {
  private held: Buffer | undefined;
  private joined = Buffer.allocUnsafe(1 << 17);
  /** Chunks that arrived while the held tuple still lacked bytes, and how many bytes it needs in all. */
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  private need = 0;
  private headerRead = false;
  private ended = false;
  private readonly tuple: BinaryTuple;

  constructor(readonly fields: number) {
    const buf = Buffer.alloc(0);
    this.tuple = {
      buf,
      view: new DataView(buf.buffer, buf.byteOffset, 0),
      start: new Int32Array(fields),
      length: new Int32Array(fields),
    };
  }

  /** Calls `onTuple` for every whole tuple the data so far holds; a tuple cut by the chunk's end waits. */
  push(chunk: Buffer, onTuple: (t: BinaryTuple) => void): void {
    // A tuple longer than many chunks (a large polygon) is joined once it is whole, not once a chunk.
    if (this.held && this.held.length + this.waitingBytes + chunk.length < this.need) {
      this.waiting.push(chunk);
      this.waitingBytes += chunk.length;
      return;
    }
    const buf = this.held ? this.join(chunk) : chunk;
    this.waiting = [];
    this.waitingBytes = 0;
    this.need = 0;
    let at = this.headerRead ? 0 : this.readHeader(buf);
    if (at < 0) {
      this.held = buf;
      return;
    }
    const t = this.tuple;
    t.buf = buf;
    t.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    while (!this.ended && at + 2 <= buf.length) {
      const n = buf.readInt16BE(at);
      if (n === -1) {
        this.ended = true;
        at += 2;
        break;
      }
      if (n !== this.fields) throw new Error(`binary COPY tuple of ${n} fields, expected ${this.fields}`);
      let p = at + 2;
      let whole = true;
      for (let i = 0; i < n; i++) {
        if (p + 4 > buf.length) {
          this.need = p + 4 - at;
          whole = false;
          break;
        }
        const len = buf.readInt32BE(p);
        p += 4;
        t.start[i] = p;
        t.length[i] = len;
        if (len > 0) p += len;
        if (p > buf.length) {
          this.need = p - at;
          whole = false;
          break;
        }
      }
      if (!whole) break;
      onTuple(t);
      at = p;
    }
    this.held = at < buf.length ? buf.subarray(at) : undefined;
  }

  /**
   * The held bytes and the chunks after them, in one buffer kept from push to push: a tuple straddles
   * nearly every chunk's end, and a new buffer each time would be as much garbage as the data itself.
   */
  private join(chunk: Buffer): Buffer {
    const held = this.held!;
    const need = held.length + this.waitingBytes + chunk.length;
    if (this.joined.length < need) {
      const next = Buffer.allocUnsafe(Math.max(need, this.joined.length * 2));
      held.copy(next, 0);
      this.joined = next;
    } else held.copy(this.joined, 0);
    let at = held.length;
    for (const c of [...this.waiting, chunk]) {
      c.copy(this.joined, at);
      at += c.length;
    }
    return this.joined.subarray(0, need);
  }

  /** Throws unless the data ended with the format's trailer and nothing after it. */
  end(): void {
    if (!this.ended || this.held || this.waitingBytes > 0)
      throw new Error('binary COPY data ended before its trailer');
  }

  private readHeader(buf: Buffer): number {
    if (buf.length < 19) return -1;
    if (!buf.subarray(0, 11).equals(SIGNATURE)) throw new Error('not binary COPY data (no PGCOPY signature)');
    const extension = buf.readUInt32BE(15);
    if (buf.length < 19 + extension) return -1;
    this.headerRead = true;
    return 19 + extension;
  }
}
