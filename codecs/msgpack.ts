// msgpack (msgpackr) on length-prefixed frames, gob-like: a record's keys go once per connection, then values only.
//
// Envelopes are msgpack arrays; params and results use msgpackr's record extension in
// sequential mode, so the first {Id, Name, Phone} on a connection carries its keys and every
// later one carries only values (as Go's gob sends a type once per stream).
//   request  [0, id, method, params, timeout|null, metadata|null]   metadata: [key, value, key, value, ...]
//   response [1, id, result]
//   error    [2, id|null, code, message]                              id null: about the connection itself
//   cancel   [3, id]
//   message  [4, id, payload]                                          a streaming call's request or reply
//   end      [5, id]                                                   the client's half-close
//   credit   [6, id, n]                                                the sender may send n more messages
//   ping     [7, seq]   pong [8, seq]                                  keepalive (seq is the ping's own number)
// A request whose requests follow as messages (client and bidi streams) has a seventh element, true.
import { Packr, Unpackr, RESERVE_START_SPACE, REUSE_BUFFER_MODE } from "msgpackr";
import { Code, isCode } from "../core/codes.js";
import { RpcError } from "../core/errors.js";
import { readMetadata, hasMetadata, type TextMetadata as Metadata } from "../core/metadata.js";
import { LengthFramer, PrefixedFrames, writePrefix } from "../core/framing/length.js";
import { checkMsgpackBounds } from "./msgpack-bounds.js";
import type { Codec, CodecSession, Encoded } from "../core/codec.js";
import type { CallId, ClientInbound, RequestEnvelope, ServerInbound, ResponseEnvelope } from "../core/envelope.js";

const REQUEST = 0;
const RESULT = 1;
const ERROR = 2;
const CANCEL = 3;
const MESSAGE = 4;
const END = 5;
const CREDIT = 6;
const PING = 7;
const PONG = 8;

/**
 * msgpackr leaves 4 bytes free ahead of each message, for the frame's length prefix, and hands
 * back its whole buffer with the message's start and end rather than a Buffer subarray (we make
 * plain views, which are cheaper).
 */
const PACK_MODE = RESERVE_START_SPACE | 4 | REUSE_BUFFER_MODE;

/** Record structures a peer may define on one connection; ours use at most 64. */
export const MAX_STRUCTURES = 1024;
/** Keys across all of a connection's record structures. */
export const MAX_STRUCTURE_KEYS = 65_536;

/**
 * msgpackr writes into the options object it is given, so every encoder and decoder gets a fresh
 * one. copyBuffers: binary values are copied out, so no value refers to the bytes it came from
 * (small frames are decoded from a scratch buffer, below).
 */
const options = () => ({ sequential: true, useBigIntExtension: true, copyBuffers: true });

/** Frames up to this size are decoded from the scratch buffer; below 140 bytes msgpackr decodes short strings in JS. */
const SMALL = 128;
const scratch = new Uint8Array(SMALL);
/** views[n]: the scratch's first n bytes, made once per length. */
const views: Uint8Array[] = [];

/**
 * A small frame, copied into a view made once for its length. msgpackr hangs a DataView on every
 * input it is given; on a fresh view per frame that costs more than the decode of a small message
 * itself, on these views only once. The copy stays valid until the next call: decode at once.
 */
function reusable(frame: Uint8Array): Uint8Array {
  const n = frame.length;
  for (let i = 0; i < n; i++) scratch[i] = frame[i]!;
  return (views[n] ??= new Uint8Array(scratch.buffer, 0, n));
}

function malformed(detail: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, `rpc: malformed msgpack message: ${detail}`);
}

function isId(id: unknown): id is CallId {
  return (typeof id === "number" && Number.isFinite(id)) || typeof id === "string";
}

function flatMetadata(md: Metadata | undefined): unknown[] | null {
  if (!hasMetadata(md)) return null;
  const flat: unknown[] = [];
  for (const key in md) flat.push(key, md[key]);
  return flat;
}

function metadataOf(flat: unknown): Metadata | undefined {
  if (flat === null || flat === undefined) return undefined;
  if (!Array.isArray(flat) || flat.length % 2 !== 0) throw new RpcError(Code.INVALID_ARGUMENT, "rpc: metadata must be a flat list of keys and values");
  const md: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const key = flat[i];
    if (typeof key !== "string" || key === "__proto__") throw new RpcError(Code.INVALID_ARGUMENT, "rpc: metadata keys must be strings");
    md[key] = flat[i + 1];
  }
  return readMetadata(md);
}

function isCredit(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 0x7fffffff;
}

/**
 * A record definition is the ext marker 0xd4 0x72 or 0xd5 0x72 ("r"); look before counting.
 * Any such pair of bytes counts, wherever it is: a plain loop (faster on small frames than
 * indexOf), and no trust in where values begin.
 */
function mayDefineStructure(frame: Uint8Array): boolean {
  const last = frame.length - 1;
  for (let i = 0; i < last; i++) {
    const b = frame[i];
    if ((b === 0xd4 || b === 0xd5) && frame[i + 1] === 0x72) return true;
  }
  return false;
}

class MsgpackSession implements CodecSession {
  #packr = new Packr(options());
  readonly #unpackr = new Unpackr(options());
  readonly #structures: unknown[];
  readonly #frames = new PrefixedFrames();

  constructor() {
    this.#structures = (this.#unpackr as unknown as { structures: unknown[] }).structures;
  }

  /**
   * Messages are packed with room for their prefix, so framing copies nothing; frames arrive as
   * plain views, on which msgpackr's per-input DataView (for larger frames) is cheaper to hang
   * than on Buffers.
   */
  createFramer(maxMessageSize: number): LengthFramer {
    return new LengthFramer(maxMessageSize, { prefixed: this.#frames, plainViews: true });
  }

  #pack(value: unknown, what: string): Uint8Array {
    try {
      const out = this.#packr.pack(value, PACK_MODE) as Buffer & { start: number; end: number };
      return this.#frames.body(writePrefix(new Uint8Array(out.buffer, out.byteOffset + out.start, out.end - out.start)));
    } catch (err) {
      // A failed pack may have assigned record ids the peer never saw: a fresh encoder
      // defines every structure again before using it, so the stream stays in step.
      this.#packr = new Packr(options());
      throw new RpcError(Code.INTERNAL, `rpc: cannot encode ${what} as msgpack: ${(err as Error).message}`, { cause: err });
    }
  }

  #unpack(frame: Encoded): unknown {
    if (typeof frame === "string") throw malformed("text frame");
    checkMsgpackBounds(frame);
    let value: unknown;
    try {
      value = this.#unpackr.unpack(frame.length <= SMALL ? reusable(frame) : frame);
    } catch (err) {
      throw malformed((err as Error).message);
    }
    if (mayDefineStructure(frame)) this.#checkStructures();
    return value;
  }

  #checkStructures(): void {
    let count = 0;
    let keys = 0;
    for (const slot of Object.keys(this.#structures)) {
      const structure = (this.#structures as unknown as Record<string, unknown>)[slot];
      if (!Array.isArray(structure)) continue;
      count++;
      keys += structure.length;
    }
    if (count > MAX_STRUCTURES || keys > MAX_STRUCTURE_KEYS) {
      throw new RpcError(
        Code.RESOURCE_EXHAUSTED,
        `rpc: msgpack peer defined ${count} record structures with ${keys} keys (limits ${MAX_STRUCTURES} and ${MAX_STRUCTURE_KEYS} per connection)`,
      );
    }
  }

  encodeRequest(req: RequestEnvelope): Uint8Array {
    const envelope = [REQUEST, req.id, req.method, req.params, req.timeout ?? null, flatMetadata(req.metadata)];
    if (req.stream) envelope.push(true);
    return this.#pack(envelope, "params");
  }

  encodeMessage(id: CallId, _method: string, payload: unknown): Uint8Array {
    return this.#pack([MESSAGE, id, payload], "message");
  }

  encodeEnd(id: CallId): Uint8Array {
    return this.#pack([END, id], "end");
  }

  encodeCredit(id: CallId, credit: number): Uint8Array {
    return this.#pack([CREDIT, id, credit], "credit");
  }

  encodePing(seq: number, pong: boolean): Uint8Array {
    return this.#pack([pong ? PONG : PING, seq], "ping");
  }

  encodeCancel(id: CallId): Uint8Array {
    return this.#pack([CANCEL, id], "cancel");
  }

  encodeResponse(res: ResponseEnvelope): Uint8Array {
    if (res.error) return this.#pack([ERROR, res.id, res.error.code, res.error.message], "error");
    return this.#pack([RESULT, res.id, res.result], "result");
  }

  decodeRequest(frame: Encoded): ServerInbound {
    const msg = this.#unpack(frame);
    if (!Array.isArray(msg) || !isId(msg[1])) throw malformed("not an envelope with an id");
    const id = msg[1];
    if (msg[0] === CANCEL) return { kind: "cancel", id };
    if (msg[0] === MESSAGE) return { kind: "message", id, payload: msg[2] };
    if (msg[0] === END) return { kind: "end", id };
    if (msg[0] === PING) return typeof id === "number" ? { kind: "ping", id } : { kind: "invalid", id, error: { code: Code.INVALID_ARGUMENT, message: "rpc: a ping's id must be a number" } };
    if (msg[0] === CREDIT) return isCredit(msg[2]) ? { kind: "credit", id, credit: msg[2] } : { kind: "invalid", id, error: { code: Code.INVALID_ARGUMENT, message: "rpc: credit must be a positive integer" } };
    if (msg[0] !== REQUEST || typeof msg[2] !== "string") {
      return { kind: "invalid", id, error: { code: Code.INVALID_ARGUMENT, message: "rpc: msgpack envelope is not a request" } };
    }
    const timeout = msg[4];
    if (timeout !== null && timeout !== undefined && (typeof timeout !== "number" || !(timeout >= 0) || !Number.isFinite(timeout))) {
      return { kind: "invalid", id, error: { code: Code.INVALID_ARGUMENT, message: "rpc: timeout must be a non-negative number of milliseconds" } };
    }
    let metadata: Metadata | undefined;
    try {
      metadata = metadataOf(msg[5]);
    } catch (err) {
      return { kind: "invalid", id, error: { code: Code.INVALID_ARGUMENT, message: (err as Error).message } };
    }
    const request: RequestEnvelope = { kind: "request", id, method: msg[2], params: msg[3], timeout: timeout ?? undefined, metadata };
    return msg[6] === true ? { ...request, stream: true } : request;
  }

  decodeResponse(frame: Encoded): ClientInbound {
    const msg = this.#unpack(frame);
    if (!Array.isArray(msg)) throw malformed("not an envelope");
    const id = msg[1];
    if (msg[0] === ERROR && (id === null || isId(id))) {
      const code = isCode(msg[2]) && msg[2] !== Code.OK ? msg[2] : Code.UNKNOWN;
      return { kind: "response", id, error: { code, message: typeof msg[3] === "string" ? msg[3] : "rpc: error without a message" } };
    }
    if (msg[0] === RESULT && isId(id)) return { kind: "response", id, result: msg[2] };
    if (msg[0] === MESSAGE && isId(id)) return { kind: "message", id, payload: msg[2] };
    if (msg[0] === PONG && typeof id === "number") return { kind: "pong", id };
    if (msg[0] === CREDIT && isId(id) && isCredit(msg[2])) return { kind: "credit", id, credit: msg[2] };
    throw malformed("not a response");
  }
}

/** The msgpack codec: one encoder/decoder pair per connection, because record structures are per stream. */
export const msgpack: Codec = {
  name: "msgpack",
  fork: () => new MsgpackSession(),
};
