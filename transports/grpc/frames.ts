// gRPC's length-prefixed messages: a compressed flag byte, a u32 big-endian length, the bytes.
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";

export interface GrpcMessage {
  readonly compressed: boolean;
  readonly data: Uint8Array;
}

const HEADER = 5;

/** The 5-byte prefix of a message of `length` bytes. */
export function messageHeader(length: number, compressed: boolean): Buffer {
  return prefixInto(Buffer.allocUnsafe(HEADER), length, compressed);
}

function prefixInto(out: Buffer, length: number, compressed: boolean): Buffer {
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(length, 1);
  return out;
}

/** Messages up to this size are copied behind their prefix: one write, one DATA frame. */
const COPY_LIMIT = 16 * 1024;

/**
 * A message as the chunks to write: one Buffer with the 5-byte prefix for small messages (each
 * write becomes its own HTTP/2 DATA frame, so two writes per message cost a frame), the prefix
 * and the untouched body for large ones (no copy of a big body).
 */
export function framed(data: Uint8Array, compressed: boolean): [Buffer] | [Buffer, Uint8Array] {
  if (data.length > COPY_LIMIT) return [messageHeader(data.length, compressed), data];
  const out = prefixInto(Buffer.allocUnsafe(HEADER + data.length), data.length, compressed);
  out.set(data, HEADER);
  return [out];
}

/**
 * Splits a DATA byte stream into messages. The declared length is checked against the limit
 * before a byte of the body is kept, so a peer cannot make us buffer more than `maxMessageSize`.
 */
export class MessageReader {
  readonly #max: number;
  readonly #header = Buffer.alloc(HEADER);
  #headerAt = 0;
  #body: Buffer | undefined;
  #bodyAt = 0;
  #compressed = false;

  constructor(maxMessageSize: number) {
    this.#max = maxMessageSize;
  }

  /** True between messages: nothing of a started message is held. */
  get idle(): boolean {
    return this.#headerAt === 0 && this.#body === undefined;
  }

  /** Feeds bytes; calls `onMessage` for each whole message. Throws RESOURCE_EXHAUSTED or INTERNAL. */
  push(chunk: Uint8Array, onMessage: (message: GrpcMessage) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#body === undefined) {
        const take = Math.min(HEADER - this.#headerAt, chunk.length - at);
        this.#header.set(chunk.subarray(at, at + take), this.#headerAt);
        this.#headerAt += take;
        at += take;
        if (this.#headerAt < HEADER) return;
        const flag = this.#header[0]!;
        if (flag > 1) throw new RpcError(Code.INTERNAL, `rpc: grpc: bad message flag ${flag}`);
        const length = this.#header.readUInt32BE(1);
        if (length > this.#max) {
          throw new RpcError(Code.RESOURCE_EXHAUSTED, `rpc: grpc: received message larger than max (${length} vs. ${this.#max})`);
        }
        this.#headerAt = 0;
        this.#compressed = flag === 1;
        if (length === 0) {
          onMessage({ compressed: this.#compressed, data: new Uint8Array(0) });
          continue;
        }
        // A whole message inside this chunk is handed out as a view: no copy.
        if (chunk.length - at >= length) {
          onMessage({ compressed: this.#compressed, data: chunk.subarray(at, at + length) });
          at += length;
          continue;
        }
        this.#body = Buffer.allocUnsafe(length);
        this.#bodyAt = 0;
      }
      const body = this.#body;
      const take = Math.min(body.length - this.#bodyAt, chunk.length - at);
      body.set(chunk.subarray(at, at + take), this.#bodyAt);
      this.#bodyAt += take;
      at += take;
      if (this.#bodyAt === body.length) {
        this.#body = undefined;
        onMessage({ compressed: this.#compressed, data: body });
      }
    }
  }
}
