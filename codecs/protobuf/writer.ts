// A Writer for protobufjs's generated encoders that writes bytes in place, whole frames (length prefix included) at a time.
import protobuf from "protobufjs";
import type { Message, Type, Writer } from "protobufjs";
import { writePrefix } from "../../core/framing/length.js";

const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
const { LongBits, float, base64, utf8 } = protobuf.util;
const HEADER = 4;
/** New slabs are this big, or bigger for a frame that needs more. */
const SLAB = 64 * 1024;

type Bytes = Uint8Array & { utf8Write?(s: string, at: number, length: number): number };

function alloc(size: number): Bytes {
  return NodeBuffer ? NodeBuffer.allocUnsafe(size) : new Uint8Array(size);
}

function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : n < 268435456 ? 4 : 5;
}

/** A plain Uint8Array view: half the cost of Buffer's subarray, and the socket takes either. */
function view(buf: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + start, end - start);
}

/**
 * protobufjs's Writer records every field as a queued operation (an object each) and copies them
 * into a fresh buffer at finish(); a frame then cost another buffer and copy for its length
 * prefix. This writer has the same methods the generated encoders call, but writes each value
 * where it goes, in a slab shared by every frame until it is full: a frame is the 4-byte
 * big-endian length and the message, one view of the slab, and frames written one after another
 * lie side by side, so a batch of them is one contiguous run of memory (batch-writer.ts writes
 * such a run without copying). Bytes once handed out are never written again: a full slab is
 * left to the frames that still use it, and the next frame starts a new one.
 *
 * A length-delimited field (fork/ldelim) is written in place after one byte kept for its length;
 * a field of 128 bytes or more is moved right once its length is known, which costs a copy of
 * such a field per level of nesting.
 */
export class SlabWriter {
  #buf: Bytes = alloc(0);
  /** Next byte to write. */
  pos = 0;
  /** Where the frame being written starts (its length prefix). */
  #start = 0;
  /** Starts of the open length-delimited fields (fork). */
  #forks: number[] = [];
  #busy = false;

  /** Starts a frame: room for its length prefix. */
  begin(): this {
    if (this.#busy) throw new Error("SlabWriter: a frame is already being written");
    this.#busy = true;
    if (this.#forks.length !== 0) this.#forks = [];
    this.#start = this.pos;
    this.#ensure(HEADER + 64);
    this.pos += HEADER;
    return this;
  }

  /** Ends the frame: fills in its length and returns it, prefix included. */
  end(): Uint8Array {
    if (this.#forks.length !== 0) throw new Error("SlabWriter: a field is still open");
    this.#busy = false;
    return writePrefix(view(this.#buf, this.#start, this.pos));
  }

  /** Drops the frame being written (an encode threw). */
  abort(): void {
    this.pos = this.#start;
    this.#forks = [];
    this.#busy = false;
  }

  get busy(): boolean {
    return this.#busy;
  }

  /** Makes room for `n` more bytes, moving the frame begun so far to a new slab if need be. */
  #ensure(n: number): void {
    if (this.pos + n <= this.#buf.length) return;
    const start = this.#start;
    const used = this.pos - start;
    const next = alloc(Math.max(SLAB, 2 * (used + n)));
    next.set(this.#buf.subarray(start, this.pos), 0);
    const forks = this.#forks;
    for (let i = 0; i < forks.length; i++) forks[i]! -= start;
    this.#buf = next;
    this.#start = 0;
    this.pos = used;
  }

  // The methods protobufjs's generated encoders call, writing what protobufjs's BufferWriter writes.

  uint32(value: number): this {
    this.#ensure(5);
    let v = value >>> 0;
    const buf = this.#buf;
    let pos = this.pos;
    while (v > 127) {
      buf[pos++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
    return this;
  }

  int32(value: number): this {
    return (value |= 0) < 0 ? this.#varint64(LongBits.fromNumber(value)) : this.uint32(value);
  }

  sint32(value: number): this {
    return this.uint32(((value << 1) ^ (value >> 31)) >>> 0);
  }

  uint64(value: number | string | protobuf.Long): this {
    return this.#varint64(LongBits.from(value));
  }

  int64(value: number | string | protobuf.Long): this {
    return this.#varint64(LongBits.from(value));
  }

  sint64(value: number | string | protobuf.Long): this {
    return this.#varint64(LongBits.from(value).zzEncode());
  }

  #varint64(bits: { lo: number; hi: number }): this {
    this.#ensure(10);
    const buf = this.#buf;
    let pos = this.pos;
    let lo = bits.lo;
    let hi = bits.hi;
    while (hi) {
      buf[pos++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 127) {
      buf[pos++] = (lo & 127) | 128;
      lo = lo >>> 7;
    }
    buf[pos++] = lo;
    this.pos = pos;
    return this;
  }

  bool(value: boolean): this {
    this.#ensure(1);
    this.#buf[this.pos++] = value ? 1 : 0;
    return this;
  }

  fixed32(value: number): this {
    this.#ensure(4);
    this.#fixed32(value >>> 0);
    return this;
  }

  sfixed32(value: number): this {
    return this.fixed32(value);
  }

  fixed64(value: number | string | protobuf.Long): this {
    const bits = LongBits.from(value);
    this.#ensure(8);
    this.#fixed32(bits.lo);
    this.#fixed32(bits.hi);
    return this;
  }

  sfixed64(value: number | string | protobuf.Long): this {
    return this.fixed64(value);
  }

  #fixed32(v: number): void {
    const buf = this.#buf;
    const pos = this.pos;
    buf[pos] = v & 255;
    buf[pos + 1] = (v >>> 8) & 255;
    buf[pos + 2] = (v >>> 16) & 255;
    buf[pos + 3] = v >>> 24;
    this.pos = pos + 4;
  }

  float(value: number): this {
    this.#ensure(4);
    float.writeFloatLE(value, this.#buf, this.pos);
    this.pos += 4;
    return this;
  }

  double(value: number): this {
    this.#ensure(8);
    float.writeDoubleLE(value, this.#buf, this.pos);
    this.pos += 8;
    return this;
  }

  bytes(value: Uint8Array | string): this {
    let bytes: Uint8Array;
    if (typeof value === "string") {
      // As protobufjs's Writer decodes base64 (checkMessage has turned base64 params into bytes already).
      bytes = alloc(base64.length(value));
      base64.decode(value, bytes, 0);
    } else bytes = value;
    const len = bytes.length;
    this.uint32(len);
    if (len > 0) {
      this.#ensure(len);
      const buf = this.#buf;
      const at = this.pos;
      // A few bytes are copied faster by hand than through TypedArray.set.
      if (len <= 32) for (let i = 0; i < len; i++) buf[at + i] = bytes[i]!;
      else buf.set(bytes, at);
      this.pos = at + len;
    }
    return this;
  }

  /** Raw bytes, already encoded (a cached UTF-8 name), as a length-delimited value. */
  raw(bytes: Uint8Array): this {
    return this.bytes(bytes);
  }

  string(value: string): this {
    const n = value.length;
    // ASCII, the common case, in JS: one length byte (fewer than 128 units), one byte per unit.
    if (n < 128) {
      this.#ensure(n + 1);
      const buf = this.#buf;
      const at = this.pos;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + 1 + i] = c;
      }
      if (i === n) {
        buf[at] = n;
        this.pos = at + 1 + n;
        return this;
      }
    }
    // Otherwise exactly what protobufjs's BufferWriter writes: Buffer's byte length, then
    // protobufjs's own UTF-8 writer below 40 units (it writes a lone surrogate as ED A0 80, where
    // Buffer writes U+FFFD) and Buffer's above.
    const len = NodeBuffer ? NodeBuffer.byteLength(value) : utf8.length(value);
    this.uint32(len);
    this.#ensure(len);
    const buf = this.#buf;
    if (n < 40 || !buf.utf8Write) utf8.write(value, buf, this.pos);
    else buf.utf8Write(value, this.pos, len);
    this.pos += len;
    return this;
  }

  /** Opens a length-delimited field, with one byte kept for its length: enough below 128 bytes. */
  fork(): this {
    this.#ensure(1);
    this.#forks.push(this.pos++);
    return this;
  }

  /** Closes the field fork() opened: its length goes in the byte kept for it, the bytes moving right if it needs more. */
  ldelim(): this {
    const at = this.#forks.pop();
    if (at === undefined) throw new Error("SlabWriter: ldelim without fork");
    let len = this.pos - at - 1;
    if (len < 128) {
      this.#buf[at] = len;
      return this;
    }
    const more = varintSize(len) - 1;
    this.#ensure(more);
    const buf = this.#buf;
    // #ensure may have moved the frame: the field moved with it.
    const from = this.pos - len;
    buf.copyWithin(from + more, from, this.pos);
    let pos = from - 1;
    while (len > 127) {
      buf[pos++] = (len & 127) | 128;
      len >>>= 7;
    }
    buf[pos] = len;
    this.pos += more;
    return this;
  }

  /**
   * Writes `message` as `type` in a length-delimited field `tag`, in place. An empty message
   * writes nothing at all, not even the tag: the proto3 default of a bytes field.
   */
  message(tag: number, type: Type, message: Message): this {
    this.uint32(tag).fork();
    type.encode(message, this.asWriter);
    // Positions are read after the encode: a frame that outgrew its slab has moved.
    const at = this.#forks[this.#forks.length - 1]!;
    if (this.pos > at + 1) return this.ldelim();
    this.#forks.pop();
    this.pos = at - varintSize(tag >>> 0);
    return this;
  }

  /** This writer, typed as what protobufjs's encoders take. */
  get asWriter(): Writer {
    return this as unknown as Writer;
  }
}

/** The writer encodes share: encoding is synchronous, so one is enough unless an encode starts inside another. */
const shared = new SlabWriter();

/** A writer with a frame begun: write, then end() it, or abort() it if anything throws. */
export function beginFrame(): SlabWriter {
  return (shared.busy ? new SlabWriter() : shared).begin();
}

/** Writes one frame with `write`; the frame (length prefix included) comes back. */
export function writeFrame(write: (w: SlabWriter) => void): Uint8Array {
  const w = beginFrame();
  try {
    write(w);
    return w.end();
  } catch (err) {
    w.abort();
    throw err;
  }
}
