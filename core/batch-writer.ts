// Coalesces the frames written while handling one event into a single socket write.
import type { Duplex } from "node:stream";
import type { Encoded } from "./codec.js";

/**
 * One write per event instead of one per message: at high call rates the syscall and stream
 * bookkeeping per write dominate, and batching lets a server answer many in-flight calls with
 * one write. The flush runs on process.nextTick, which Node runs only after the promise
 * continuations queued by the same event, so replies from sync and already-resolved handlers
 * share a write, without setImmediate's extra latency. Strings are concatenated (cheap for
 * JSON); bytes are joined once, or not at all when they are already contiguous.
 */
export class BatchWriter {
  readonly #stream: Duplex;
  #queue: Encoded[] = [];
  #allStrings = true;
  #queued = 0;
  #scheduled = false;
  readonly #flush = () => this.flush();

  constructor(stream: Duplex) {
    this.#stream = stream;
  }

  write(chunk: Encoded): void {
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    if (typeof chunk !== "string") this.#allStrings = false;
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#flush);
    }
  }

  /** Roughly the bytes waiting for the next flush (string length for text). */
  get queued(): number {
    return this.#queued;
  }

  /** Writes what is queued now. Returns false when the stream asks the sender to wait for 'drain'. */
  flush(): boolean {
    this.#scheduled = false;
    const queue = this.#queue;
    const allStrings = this.#allStrings;
    this.#queue = [];
    this.#allStrings = true;
    this.#queued = 0;
    const stream = this.#stream;
    if (queue.length === 0 || stream.destroyed || stream.writableEnded) return !stream.writableNeedDrain;
    if (queue.length === 1) return stream.write(queue[0]!);
    if (stream.writableObjectMode) return writeEach(stream, queue);
    if (allStrings) return stream.write((queue as string[]).join(""));
    return stream.write(joined(queue));
  }
}

/** A message stream (WebSocket): each chunk is one message, so they go out one by one, corked together. */
function writeEach(stream: Duplex, queue: Encoded[]): boolean {
  stream.cork();
  let more = true;
  for (const chunk of queue) more = stream.write(chunk);
  stream.uncork();
  return more;
}

/**
 * The chunks as one Buffer. Views that lie side by side in one ArrayBuffer (frames an encoder
 * wrote one after another into a slab) are already that Buffer: it is handed out as one view,
 * with no copy. Otherwise the bytes are copied once.
 */
function joined(queue: Encoded[]): Buffer {
  const first = queue[0]!;
  if (typeof first !== "string") {
    const memory = first.buffer;
    const start = first.byteOffset;
    let end = start + first.length;
    let i = 1;
    for (; i < queue.length; i++) {
      const c = queue[i]!;
      if (typeof c === "string" || c.buffer !== memory || c.byteOffset !== end) break;
      end += c.length;
    }
    if (i === queue.length) return Buffer.from(memory, start, end - start);
  }
  let size = 0;
  for (const c of queue) size += typeof c === "string" ? Buffer.byteLength(c) : c.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const c of queue) {
    if (typeof c === "string") at += out.write(c, at);
    else {
      out.set(c, at);
      at += c.length;
    }
  }
  return out;
}
