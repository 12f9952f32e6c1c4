// Messages that arrive whole (WebSocket): no delimiting, only the size limit.
import type { Encoded } from "../codec.js";
import type { Framer } from "./framer.js";
import { tooLarge } from "./newline.js";

const encoder = new TextEncoder();

/** Each chunk is one message already; text stays text, so JSON reads it without a decode. */
export class MessageFramer implements Framer {
  readonly #limit: number;

  constructor(maxMessageSize: number) {
    this.#limit = maxMessageSize;
  }

  get buffered(): number {
    return 0;
  }

  push(chunk: Encoded, onFrame: (frame: Encoded) => void): void {
    const size = typeof chunk === "string" ? (chunk.length > this.#limit / 3 ? encoder.encode(chunk).length : chunk.length) : chunk.length;
    if (size > this.#limit) throw tooLarge(size, this.#limit);
    onFrame(chunk);
  }

  frame(body: Encoded): Encoded {
    return body;
  }
}
