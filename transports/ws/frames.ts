// WebSocket data frames written by us, many to one socket write: what ws would send message by
// message (RFC 6455 section 5.2), without its per-message work. Node only.
import { randomFillSync } from "node:crypto";

const FIN = 0x80;
const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const MASKED = 0x80;

/**
 * Larger messages are left to ws, one send each: for them the copy into a shared buffer (and,
 * from a client, the masking in JavaScript) would cost more than the write it saves.
 */
export const MAX_BATCHED_MESSAGE = 16 * 1024;

/** Masking keys are cut from this much randomness at a time, as ws does. */
const MASK_POOL = 8 * 1024;

/**
 * Messages queued for one socket write. ws sends each message with its own socket writes (a
 * header and a payload) and their stream bookkeeping; at high call rates that is most of the
 * cost of a small message. Here the frames of a batch are laid out in one buffer: a header, the
 * payload (text written as UTF-8 in place), and for a client the masking key and a masked
 * payload, with a fresh random key per frame as the RFC requires of clients.
 */
export class FrameBatch {
  readonly #masked: boolean;
  #messages: Array<string | Uint8Array> = [];
  #sizes: number[] = [];
  #binary: boolean[] = [];
  #bytes = 0;
  #pool: Buffer | undefined;
  #poolAt = MASK_POOL;

  /** `masked`: frames from a client. */
  constructor(masked: boolean) {
    this.#masked = masked;
  }

  get size(): number {
    return this.#messages.length;
  }

  /** Queues one message (text for a string unless `binary`); false, and nothing queued, for one larger than MAX_BATCHED_MESSAGE. */
  add(message: string | Uint8Array, binary: boolean): boolean {
    // A string's UTF-8 has at least a byte per UTF-16 unit: a long one is not measured.
    const size = typeof message !== "string" ? message.byteLength : message.length > MAX_BATCHED_MESSAGE ? message.length : Buffer.byteLength(message);
    if (size > MAX_BATCHED_MESSAGE) return false;
    this.#messages.push(message);
    this.#sizes.push(size);
    this.#binary.push(binary);
    this.#bytes += size + (size < 126 ? 2 : 4) + (this.#masked ? 4 : 0);
    return true;
  }

  /** The queued frames as one buffer, and an empty batch. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.#bytes);
    const messages = this.#messages;
    let at = 0;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      const size = this.#sizes[i]!;
      out[at] = FIN | (this.#binary[i] ? OPCODE_BINARY : OPCODE_TEXT);
      const mask = this.#masked ? MASKED : 0;
      if (size < 126) {
        out[at + 1] = mask | size;
        at += 2;
      } else {
        out[at + 1] = mask | 126;
        out.writeUInt16BE(size, at + 2);
        at += 4;
      }
      if (this.#masked) {
        const key = this.#key();
        out[at] = key[0]!;
        out[at + 1] = key[1]!;
        out[at + 2] = key[2]!;
        out[at + 3] = key[3]!;
        at += 4;
        const start = at;
        at += typeof message === "string" ? out.write(message, at, size, "utf8") : (out.set(message, at), size);
        for (let j = 0; j < size; j++) out[start + j] = out[start + j]! ^ out[start - 4 + (j & 3)]!;
      } else {
        at += typeof message === "string" ? out.write(message, at, size, "utf8") : (out.set(message, at), size);
      }
    }
    this.#messages = [];
    this.#sizes = [];
    this.#binary = [];
    this.#bytes = 0;
    return out;
  }

  /** Four random bytes, a view into the pool (copied into the frame before the pool is refilled). */
  #key(): Buffer {
    if (this.#poolAt === MASK_POOL) {
      this.#pool = randomFillSync(this.#pool ?? Buffer.allocUnsafe(MASK_POOL));
      this.#poolAt = 0;
    }
    const at = this.#poolAt;
    this.#poolAt += 4;
    return this.#pool!.subarray(at, at + 4);
  }
}
