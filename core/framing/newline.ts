// Newline-delimited frames: the framing of Go's net/rpc/jsonrpc (one JSON text per line).
import { Code } from "../codes.js";
import { RpcError } from "../errors.js";
import { decodeUtf8 } from "../utf8.js";
import type { Encoded } from "../codec.js";
import type { Framer } from "./framer.js";
import { joinBytes } from "./bytes.js";

const NL = 0x0a;

export function tooLarge(size: number, limit: number): RpcError {
  return new RpcError(Code.RESOURCE_EXHAUSTED, `rpc: message of ${size}+ bytes exceeds maxMessageSize ${limit}`);
}

/**
 * Splits on '\n' (JSON escapes newlines inside strings, and no UTF-8 sequence contains 0x0a)
 * and yields text. The whole lines of a chunk are decoded with one UTF-8 decode and split as a
 * string, which costs far less than a Buffer slice and a decode per line. An incomplete line
 * is kept as a list of chunks, joined once, so a line arriving in many pieces costs O(n); it is
 * refused as soon as it passes the limit, without waiting for its end.
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

  push(chunk: Uint8Array, onFrame: (frame: string) => void): void {
    const last = chunk.lastIndexOf(NL);
    if (last === -1) return this.#keep(chunk);
    let bytes: Uint8Array = chunk.subarray(0, last);
    if (this.#partLength > 0) {
      this.#parts.push(bytes);
      bytes = joinBytes(this.#parts, this.#partLength + bytes.length);
      this.#parts = [];
      this.#partLength = 0;
    }
    const text = decodeUtf8(bytes);
    let start = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
      this.#emit(text.slice(start, nl), onFrame);
      start = nl + 1;
    }
    this.#emit(start === 0 ? text : text.slice(start), onFrame);
    if (last + 1 < chunk.length) this.#keep(chunk.subarray(last + 1));
  }

  #keep(rest: Uint8Array): void {
    this.#partLength += rest.length;
    if (this.#partLength > this.#limit) throw tooLarge(this.#partLength, this.#limit);
    this.#parts.push(rest);
  }

  #emit(line: string, onFrame: (frame: string) => void): void {
    // UTF-8 never takes fewer bytes than UTF-16 units, and at most three per unit: count bytes only when it matters.
    if (line.length * 3 > this.#limit) {
      const size = line.length > this.#limit ? line.length : utf8Length(line);
      if (size > this.#limit) throw tooLarge(size, this.#limit);
    }
    // Tolerate CRLF and blank keep-alive lines from hand-written clients.
    const end = line.charCodeAt(line.length - 1) === 0x0d ? line.length - 1 : line.length;
    if (end > 0) onFrame(end === line.length ? line : line.slice(0, end));
  }

  frame(body: Encoded): Encoded {
    return typeof body === "string" ? body + "\n" : joinBytes([body, NEWLINE], body.length + 1);
  }
}

const NEWLINE = new Uint8Array([NL]);
const encoder = new TextEncoder();

function utf8Length(s: string): number {
  return encoder.encode(s).length;
}
