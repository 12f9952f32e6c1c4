// The framer seam: a byte stream <-> whole messages, with the size limit checked before buffering.
import type { Encoded } from "../codec.js";

export interface Framer {
  /**
   * Feeds bytes; calls onFrame for each whole message, as text for text framings (newline) and
   * bytes for binary ones. Throws RESOURCE_EXHAUSTED past the limit.
   */
  push(chunk: Uint8Array, onFrame: (frame: Encoded) => void): void;
  /** Wraps one encoded message for the wire. */
  frame(body: Encoded): Encoded;
  /** Bytes held for an incomplete message. */
  readonly buffered: number;
}
