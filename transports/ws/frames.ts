// WebSocket messages batched into one socket write. ws frames each message (its Sender.frame:
// the header, and from a client the masking with a fresh key); we only gather a tick's frames
// so they leave in one write instead of two per message. Node only.
import * as ws from "ws";

interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}

/** ws's own framer: ws exports its Sender (its type declarations do not), whose static frame() is what ws sends with. */
const frame = (ws as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } }).Sender.frame;

const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;

/**
 * Larger messages are left to ws, one send each: for them the copy into a shared buffer would
 * cost more than the write it saves.
 */
export const MAX_BATCHED_MESSAGE = 16 * 1024;

/**
 * Messages queued for one socket write. ws sends each message with its own socket writes (a
 * header and a payload) and their stream bookkeeping; at high call rates that is most of the
 * cost of a small message. Here ws frames each message and the frames of a tick are joined.
 */
export class FrameBatch {
  readonly #options: FrameOptions;
  #frames: Buffer[] = [];
  #bytes = 0;
  #count = 0;

  /** `masked`: frames from a client. */
  constructor(masked: boolean) {
    // readOnly: a masked frame is a masked copy; the message's own bytes (maybe a codec's slab) stay as they are.
    this.#options = { fin: true, opcode: OPCODE_BINARY, mask: masked, readOnly: true, rsv1: false };
  }

  get size(): number {
    return this.#count;
  }

  /** Queues one message (text for a string unless `binary`); false, and nothing queued, for one larger than MAX_BATCHED_MESSAGE. */
  add(message: string | Uint8Array, binary: boolean): boolean {
    // A string's UTF-8 has at least a byte per UTF-16 unit: a long one is not measured.
    if ((typeof message === "string" ? message.length : message.byteLength) > MAX_BATCHED_MESSAGE) return false;
    const data = typeof message === "string" ? Buffer.from(message) : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    if (data.length > MAX_BATCHED_MESSAGE) return false;
    this.#options.opcode = binary ? OPCODE_BINARY : OPCODE_TEXT;
    for (const part of frame(data, this.#options)) {
      this.#frames.push(part);
      this.#bytes += part.length;
    }
    this.#count++;
    return true;
  }

  /** The queued frames as one buffer, and an empty batch. */
  take(): Buffer {
    const out = this.#frames.length === 1 ? this.#frames[0]! : Buffer.concat(this.#frames, this.#bytes);
    this.#frames = [];
    this.#bytes = 0;
    this.#count = 0;
    return out;
  }
}
