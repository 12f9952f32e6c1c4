// Length-prefixed frames for binary codecs: a u32 big-endian byte count, then that many bytes.
import type { Encoded } from "../codec.js";
import type { Framer } from "./framer.js";
import { joinBytes } from "./bytes.js";
import { tooLarge } from "./newline.js";

const HEADER = 4;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

/**
 * For encoders that write whole frames, length prefix included (into space they reserved ahead
 * of the message): the session hands out the message after the prefix, and the framer gives
 * back the frame it came from instead of copying it into a new one.
 */
export class PrefixedFrames {
  #body: Uint8Array | undefined;
  #frame: Uint8Array | undefined;

  /** The message inside `frame`, whose first 4 bytes already hold its length. */
  body(frame: Uint8Array): Uint8Array {
    const body = new Uint8Array(frame.buffer, frame.byteOffset + HEADER, frame.length - HEADER);
    this.#body = body;
    this.#frame = frame;
    return body;
  }

  /** The frame of `body`, if it is the message handed out last (each is framed once). */
  take(body: Uint8Array): Uint8Array | undefined {
    if (body !== this.#body) return undefined;
    const frame = this.#frame;
    // Let the encoder's buffer go once its frame is on its way.
    this.#body = this.#frame = undefined;
    return frame;
  }
}

/** Writes a frame's length prefix into its first 4 bytes (reserved by the encoder). */
export function writePrefix(frame: Uint8Array): Uint8Array {
  const n = frame.length - HEADER;
  frame[0] = n >>> 24;
  frame[1] = (n >>> 16) & 0xff;
  frame[2] = (n >>> 8) & 0xff;
  frame[3] = n & 0xff;
  return frame;
}

export interface LengthFramerOptions {
  /** Frames its session's encoder already wrote whole. */
  prefixed?: PrefixedFrames;
  /**
   * Hand out frames as plain Uint8Array views rather than Buffer subarrays: cheaper to make, and
   * cheaper for a decoder that attaches state to its input (msgpackr caches a DataView on it).
   */
  plainViews?: boolean;
}

/**
 * A state machine with two states: reading a header, reading a body. The declared length is
 * checked against the limit the moment the header is complete, so a peer cannot make us
 * buffer a byte of an oversized body. Frames that arrive whole inside one chunk are handed out
 * as views, without a copy; only frames split across chunks are assembled.
 */
export class LengthFramer implements Framer {
  readonly #limit: number;
  readonly #prefixed: PrefixedFrames | undefined;
  readonly #plainViews: boolean;
  #state: "header" | "body" = "header";
  /** Pieces of the header or body being assembled, and their total length. */
  #parts: Uint8Array[] = [];
  #have = 0;
  /** Body length, in the "body" state. */
  #need = 0;

  constructor(maxMessageSize: number, options: LengthFramerOptions = {}) {
    this.#limit = maxMessageSize;
    this.#prefixed = options.prefixed;
    this.#plainViews = options.plainViews === true;
  }

  /** Body bytes held for an incomplete message (a partial header is at most 3 bytes more). */
  get buffered(): number {
    return this.#state === "body" ? this.#have : 0;
  }

  push(chunk: Uint8Array, onFrame: (frame: Encoded) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#state === "header") {
        if (this.#have === 0 && chunk.length - at >= HEADER) {
          const size = this.#checked(readU32(chunk, at));
          at += HEADER;
          if (chunk.length - at >= size) {
            onFrame(this.#plainViews ? new Uint8Array(chunk.buffer, chunk.byteOffset + at, size) : chunk.subarray(at, at + size));
            at += size;
          } else this.#startBody(size);
          continue;
        }
        at = this.#collect(chunk, at, HEADER);
        if (this.#have < HEADER) return;
        const size = this.#checked(readU32(joinBytes(this.#parts, HEADER), 0));
        this.#parts = [];
        this.#have = 0;
        if (size === 0) onFrame(EMPTY);
        else this.#startBody(size);
        continue;
      }
      at = this.#collect(chunk, at, this.#need);
      if (this.#have < this.#need) return;
      const body = joinBytes(this.#parts, this.#need);
      this.#state = "header";
      this.#parts = [];
      this.#have = 0;
      onFrame(body);
    }
  }

  #checked(size: number): number {
    if (size > this.#limit) throw tooLarge(size, this.#limit);
    return size;
  }

  #startBody(size: number): void {
    this.#state = "body";
    this.#need = size;
  }

  /** Takes bytes from chunk until `target` are held; returns the new read position. */
  #collect(chunk: Uint8Array, at: number, target: number): number {
    const take = Math.min(target - this.#have, chunk.length - at);
    this.#parts.push(chunk.subarray(at, at + take));
    this.#have += take;
    return at + take;
  }

  frame(body: Encoded): Encoded {
    if (typeof body !== "string") {
      const whole = this.#prefixed?.take(body);
      if (whole) return whole;
    }
    const bytes = typeof body === "string" ? encoder.encode(body) : body;
    // Buffer.allocUnsafe draws on Node's pool: far cheaper per message than a fresh Uint8Array.
    const out = NodeBuffer ? NodeBuffer.allocUnsafe(HEADER + bytes.length) : new Uint8Array(HEADER + bytes.length);
    out.set(bytes, HEADER);
    return writePrefix(out);
  }
}

function readU32(bytes: Uint8Array, at: number): number {
  return bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}
