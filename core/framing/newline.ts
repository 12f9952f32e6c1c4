// Newline-delimited frames: the framing of Go's net/rpc/jsonrpc (one JSON text per line).
import { Code } from "../codes.js";
import { RpcError } from "../errors.js";
import type { Encoded } from "../codec.js";
import type { Framer } from "./framer.js";

const NL = 0x0a;

export function tooLarge(size: number, limit: number): RpcError {
  return new RpcError(Code.RESOURCE_EXHAUSTED, `rpc: message of ${size}+ bytes exceeds maxMessageSize ${limit}`);
}

/**
 * Splits on '\n' (JSON escapes newlines inside strings, and no UTF-8 sequence contains 0x0a).
 * An incomplete line is kept as a list of chunks, joined once, so a line arriving in many
 * pieces costs O(n); it is refused as soon as it passes the limit, without waiting for its end.
 */
export class NewlineFramer implements Framer {
  readonly #limit: number;
  #parts: Uint8Array[] = [];
  #partLength = 0;

  constructor(maxMessageSize: number) {
    this.#limit = maxMessageSize;
  }

  get buffered(): number {
    return this.#partLength;
  }

  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    let start = 0;
    let nl = chunk.indexOf(NL);
    if (nl !== -1 && this.#partLength > 0) {
      const head = chunk.subarray(0, nl);
      const size = this.#partLength + head.length;
      if (size > this.#limit) throw tooLarge(size, this.#limit);
      this.#parts.push(head);
      const line = Buffer.concat(this.#parts, size);
      this.#parts = [];
      this.#partLength = 0;
      start = nl + 1;
      this.#emit(line, onFrame);
      nl = chunk.indexOf(NL, start);
    }
    while (nl !== -1) {
      if (nl - start > this.#limit) throw tooLarge(nl - start, this.#limit);
      if (nl > start) this.#emit(chunk.subarray(start, nl), onFrame);
      start = nl + 1;
      nl = chunk.indexOf(NL, start);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.#partLength += rest.length;
      if (this.#partLength > this.#limit) throw tooLarge(this.#partLength, this.#limit);
      this.#parts.push(rest);
    }
  }

  #emit(line: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    // Tolerate CRLF and blank keep-alive lines from hand-written clients.
    const end = line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
    if (end > 0) onFrame(end === line.length ? line : line.subarray(0, end));
  }

  frame(body: Encoded): Encoded {
    return typeof body === "string" ? body + "\n" : Buffer.concat([body, NEWLINE]);
  }
}

const NEWLINE = Buffer.from("\n");
