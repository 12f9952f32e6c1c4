// The envelope on protobuf connections (netrpc.Request / netrpc.Response), read and written field by field.
import type { Reader } from "protobufjs";
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";
import { readMetadata, hasMetadata, type TextMetadata as Metadata } from "../../core/metadata.js";
import { overrun, strictReader, utf8At } from "./reader.js";
import { beginFrame, type SlabWriter } from "./writer.js";
import type { Type, Message } from "protobufjs";

/**
 * The envelope schema, for peers written in other languages. Each frame (after the u32
 * big-endian length prefix) is one of these messages: the client sends Requests, the server
 * sends Responses. Fields at their proto3 default are left off the wire, as every proto3
 * encoder does; this module writes them in field order and skips fields it does not know.
 */
export const ENVELOPE_PROTO = `syntax = "proto3";
package netrpc;

// client -> server: a call, or (cancel = true) the caller giving up on call id; on streaming
// calls also one more request (streamed = true), the half-close (end = true), or credit.
message Request {
  uint64 id = 1;                      // our client counts from 0, so id 0 is a real call
  string method = 2;                  // "user.User.GetUser"
  optional uint32 timeout_ms = 3;     // absent: no deadline; 0: already due
  repeated MetadataEntry metadata = 4;
  bytes payload = 5;                  // the params, encoded as the rpc's request type
  bool cancel = 6;                    // true: abort call id; no other field is read
  bool stream = 7;                    // in a call: its requests follow as messages, then an end
  bool streamed = 8;                  // true: payload is one more request of call id
  bool end = 9;                       // true: the client has sent its last request of call id
  uint32 credit = 10;                 // > 0: the server may send this many more replies on call id
  bool ping = 11;                     // true: keepalive; the server answers with a pong of the same id
}

message MetadataEntry {
  string key = 1;                     // [0-9a-z_.-]+
  repeated string values = 2;
  bool list = 3;                      // the value was an array (else one value is a string)
}

// server -> client: the outcome of call id, or (connection_error = true) the server's last
// word about the connection itself before it closes (JSON's "id": null); on streaming calls
// also one reply (streamed = true; the call goes on) or credit.
message Response {
  uint64 id = 1;
  uint32 code = 2;                    // gRPC status code; 0 OK: payload is the result
  string message = 3;                 // the error text when code != 0
  bytes payload = 4;                  // the result, encoded as the rpc's response type
  bool connection_error = 5;          // true: id means nothing; an error (code != 0) follows
  bool streamed = 6;                  // true: payload is one reply of call id; more may follow
  uint32 credit = 7;                  // > 0: the client may send this many more requests on call id
  bool pong = 8;                      // true: the answer to the client's ping id
}
`;

// Tags: field number << 3 | wire type (0 varint, 2 length-delimited).
const REQ_ID = 0x08, REQ_METHOD = 0x12, REQ_TIMEOUT = 0x18, REQ_METADATA = 0x22, REQ_PAYLOAD = 0x2a, REQ_CANCEL = 0x30;
const REQ_STREAM = 0x38, REQ_MESSAGE = 0x40, REQ_END = 0x48, REQ_CREDIT = 0x50, REQ_PING = 0x58;
const MD_KEY = 0x0a, MD_VALUES = 0x12, MD_LIST = 0x18;
const RES_ID = 0x08, RES_CODE = 0x10, RES_MESSAGE = 0x1a, RES_PAYLOAD = 0x22, RES_CONNECTION = 0x28, RES_STREAMED = 0x30, RES_CREDIT = 0x38, RES_PONG = 0x40;

const MAX_ID = Number.MAX_SAFE_INTEGER;
const MAX_U32 = 0xffffffff;

/** "rpc: malformed protobuf message: ..." (INVALID_ARGUMENT), the one error a decoder throws. */
export function malformed(detail: string, cause?: unknown): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, `rpc: malformed protobuf message: ${detail}`, cause === undefined ? {} : { cause });
}

/**
 * Where a payload lies in the frame: the request or response type's bytes are decoded in place
 * from the envelope's own reader (payload.ts decodePayloadAt), without a slice or a second reader.
 */
export interface WirePayload {
  readonly reader: Reader;
  /** The payload's first byte in the reader, and its length (0: absent, the empty message). */
  readonly payloadAt: number;
  readonly payloadLength: number;
}

/** A call as the server reads it: the payload is still the request type's bytes. */
export interface WireRequest extends WirePayload {
  readonly kind: "request";
  readonly id: number;
  readonly method: string;
  readonly timeout: number | undefined;
  readonly metadata: Metadata | undefined;
  readonly stream: boolean;
}

/** One more request of a streaming call; the payload is still the request type's bytes. */
export interface WireMessage extends WirePayload {
  readonly kind: "message";
  readonly id: number;
}

/** A frame that showed its id but nothing usable after it: answer `id` with `message`. */
export interface WireBad {
  readonly kind: "bad";
  readonly id: number;
  readonly message: string;
}

/** A Response as the client reads it: the payload is still the response type's bytes. */
export interface WireResponse extends WirePayload {
  /** null: connection_error was set. */
  readonly id: number | null;
  readonly code: number;
  readonly message: string;
  /** A streaming call's reply (the call goes on), or credit (> 0), rather than its outcome. */
  readonly streamed: boolean;
  readonly credit: number;
  /** The answer to the client's keepalive ping `id`. */
  readonly pong: boolean;
}

/**
 * The method names one connection has sent, by their UTF-8 bytes: a peer sends the same few
 * names again and again, so a name that matches the last one (or one of the few before it) is
 * compared byte by byte and reused, not decoded into a fresh string. Invalid UTF-8 is cached
 * as decoded (with U+FFFD), so the text is always what decoding would give.
 */
export class MethodNames {
  readonly #bytes: Uint8Array[] = [];
  readonly #names: string[] = [];
  #next = 0;

  /** Reads a length-delimited string field, as a strict Reader.string does. */
  read(r: Reader): string {
    const length = r.uint32();
    const start = r.pos;
    const end = start + length;
    if (end > r.len) throw overrun(r, length);
    r.pos = end;
    if (length === 0) return "";
    const buf = r.buf;
    const cached = this.#bytes;
    search: for (let k = 0; k < cached.length; k++) {
      const known = cached[k]!;
      if (known.length !== length) continue;
      for (let i = 0; i < length; i++) if (known[i] !== buf[start + i]) continue search;
      return this.#names[k]!;
    }
    const name = utf8At(buf, start, end);
    // Only short names are kept (a method name is a few dozen bytes), and only a few of them.
    if (length <= MAX_CACHED_NAME) {
      const slot = this.#next;
      this.#next = (slot + 1) % CACHED_NAMES;
      this.#bytes[slot] = buf.slice(start, end);
      this.#names[slot] = name;
    }
    return name;
  }
}

const CACHED_NAMES = 8;
const MAX_CACHED_NAME = 256;

// The writers return whole frames: the u32 big-endian length prefix, then the message.

/** Writes a Request. `timeout` in ms (rounded up, capped at 2^32-1); `metadata` is checked first. */
export function writeRequest(id: number, method: string | Uint8Array, timeout: number | undefined, metadata: Metadata | undefined, type: Type, payload: Message | null, stream = false): Uint8Array {
  const md = hasMetadata(metadata) ? readMetadata(metadata) : undefined;
  checkId(id);
  const ms = timeout === undefined ? undefined : timeoutMs(timeout);
  const w = beginFrame();
  try {
    writeId(w, REQ_ID, id);
    // The method as text, or as its UTF-8 bytes (the same field on the wire; a caller may cache them).
    if (typeof method !== "string") {
      if (method.length > 0) w.uint32(REQ_METHOD).raw(method);
    } else if (method.length > 0) w.uint32(REQ_METHOD).string(method);
    if (ms !== undefined) w.uint32(REQ_TIMEOUT).uint32(ms);
    if (md) {
      for (const key in md) {
        const value = md[key]!;
        w.uint32(REQ_METADATA).fork().uint32(MD_KEY).string(key);
        if (typeof value === "string") w.uint32(MD_VALUES).string(value);
        else {
          for (const v of value) w.uint32(MD_VALUES).string(v);
          w.uint32(MD_LIST).bool(true);
        }
        w.ldelim();
      }
    }
    if (payload !== null) w.message(REQ_PAYLOAD, type, payload);
    if (stream) w.uint32(REQ_STREAM).bool(true);
    return w.end();
  } catch (err) {
    w.abort();
    throw err;
  }
}

/** Writes a cancel: a Request with only id and cancel = true. */
export function writeCancel(id: number): Uint8Array {
  return writeFlag(id, REQ_ID, REQ_CANCEL, 1);
}

/** Writes a client's half-close: a Request with only id and end = true. */
export function writeEnd(id: number): Uint8Array {
  return writeFlag(id, REQ_ID, REQ_END, 1);
}

/** Writes a keepalive ping (a Request) or its pong (a Response) with sequence number `seq`. */
export function writePing(seq: number, pong: boolean): Uint8Array {
  return pong ? writeFlag(seq, RES_ID, RES_PONG, 1) : writeFlag(seq, REQ_ID, REQ_PING, 1);
}

/** Writes credit for call `id`: a Request (to the server) or a Response (to the client) with only id and credit. */
export function writeCredit(id: number, credit: number, toServer: boolean): Uint8Array {
  return toServer ? writeFlag(id, REQ_ID, REQ_CREDIT, credit) : writeFlag(id, RES_ID, RES_CREDIT, credit);
}

/** An envelope with an id and one varint field. */
function writeFlag(id: number, idTag: number, tag: number, value: number): Uint8Array {
  checkId(id);
  const w = beginFrame();
  try {
    writeId(w, idTag, id);
    w.uint32(tag).uint32(value);
    return w.end();
  } catch (err) {
    w.abort();
    throw err;
  }
}

/** Writes one message of streaming call `id`: a request (to the server) or a reply (to the client), encoded in place as `type`. */
export function writeStreamMessage(id: number, type: Type, payload: Message | null, toServer: boolean): Uint8Array {
  checkId(id);
  const w = beginFrame();
  try {
    writeId(w, toServer ? REQ_ID : RES_ID, id);
    if (payload !== null) w.message(toServer ? REQ_PAYLOAD : RES_PAYLOAD, type, payload);
    w.uint32(toServer ? REQ_MESSAGE : RES_STREAMED).bool(true);
    return w.end();
  } catch (err) {
    w.abort();
    throw err;
  }
}

/** Writes a successful Response for call `id`: the result encoded in place as `type`. */
export function writeResult(id: number, type: Type, payload: Message | null): Uint8Array {
  checkId(id);
  const w = beginFrame();
  try {
    writeId(w, RES_ID, id);
    if (payload !== null) w.message(RES_PAYLOAD, type, payload);
    return w.end();
  } catch (err) {
    w.abort();
    throw err;
  }
}

/** Writes a Response; `id` null sets connection_error. An error is any code but 0. */
export function writeResponse(id: number | null, code: number, message: string, payload: Uint8Array): Uint8Array {
  if (id !== null) checkId(id);
  const w = beginFrame();
  try {
    if (id !== null) writeId(w, RES_ID, id);
    if (code !== 0) w.uint32(RES_CODE).uint32(code);
    if (message.length > 0) w.uint32(RES_MESSAGE).string(message);
    if (payload.length > 0) w.uint32(RES_PAYLOAD).bytes(payload);
    if (id === null) w.uint32(RES_CONNECTION).bool(true);
    return w.end();
  } catch (err) {
    w.abort();
    throw err;
  }
}

/**
 * Reads a Request (or a cancel). Throws RpcError when the frame is unreadable before an id was
 * seen; a frame that fails after its id returns "bad" so the call can be answered.
 */
export function readRequest(
  frame: Uint8Array,
  names?: MethodNames,
): WireRequest | WireMessage | WireBad | { kind: "cancel" | "end" | "ping"; id: number } | { kind: "credit"; id: number; credit: number } {
  const r = strictReader(frame);
  let id: number | undefined;
  let method = "";
  let timeout: number | undefined;
  let entries: Array<[string, string[], boolean]> | undefined;
  let payloadAt = 0;
  let payloadLength = 0;
  let cancel = false;
  let stream = false;
  let message = false;
  let end = false;
  let credit = 0;
  let ping = false;
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      switch (tag) {
        case REQ_ID: id = readId(r); break;
        case REQ_PING: ping = r.bool(); break;
        case REQ_STREAM: stream = r.bool(); break;
        case REQ_MESSAGE: message = r.bool(); break;
        case REQ_END: end = r.bool(); break;
        case REQ_CREDIT: credit = r.uint32(); break;
        case REQ_METHOD: method = names ? names.read(r) : r.string(); break;
        case REQ_TIMEOUT: timeout = r.uint32(); break;
        case REQ_METADATA: (entries ??= []).push(readEntry(r)); break;
        case REQ_PAYLOAD: payloadLength = r.uint32(); payloadAt = r.pos; r.skip(payloadLength); break;
        case REQ_CANCEL: cancel = r.bool(); break;
        default: skipUnknown(r, tag, 11);
      }
    }
  } catch (err) {
    const rpc = asMalformed(err, "netrpc.Request");
    if (id === undefined) throw rpc;
    return { kind: "bad", id, message: rpc.message };
  }
  id ??= 0; // proto3: an absent id is id 0
  if (cancel) return { kind: "cancel", id };
  if (end) return { kind: "end", id };
  if (ping) return { kind: "ping", id };
  if (credit > 0) return { kind: "credit", id, credit: Math.min(credit, 0x7fffffff) };
  if (message) return { kind: "message", id, reader: r, payloadAt, payloadLength };
  let metadata: Metadata | undefined;
  if (entries) {
    try {
      metadata = readMetadata(collect(entries));
    } catch (err) {
      return { kind: "bad", id, message: (err as Error).message };
    }
  }
  return { kind: "request", id, method, timeout, metadata, stream, reader: r, payloadAt, payloadLength };
}

/** Reads a Response. Throws RpcError for anything else. */
export function readResponse(frame: Uint8Array): WireResponse {
  const r = strictReader(frame);
  let id = 0;
  let code = 0;
  let message = "";
  let payloadAt = 0;
  let payloadLength = 0;
  let connection = false;
  let streamed = false;
  let credit = 0;
  let pong = false;
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      switch (tag) {
        case RES_ID: id = readId(r); break;
        case RES_PONG: pong = r.bool(); break;
        case RES_STREAMED: streamed = r.bool(); break;
        case RES_CREDIT: credit = r.uint32(); break;
        case RES_CODE: code = r.uint32(); break;
        case RES_MESSAGE: message = r.string(); break;
        case RES_PAYLOAD: payloadLength = r.uint32(); payloadAt = r.pos; r.skip(payloadLength); break;
        case RES_CONNECTION: connection = r.bool(); break;
        default: skipUnknown(r, tag, 8);
      }
    }
  } catch (err) {
    throw asMalformed(err, "netrpc.Response");
  }
  return { id: connection ? null : id, code, message, streamed, pong, credit: Math.min(credit, 0x7fffffff), reader: r, payloadAt, payloadLength };
}

/** Call ids on protobuf connections are integers from 0 to 2^53-1 (our client's are). */
export function checkId(id: unknown): number {
  if (typeof id === "number" && Number.isSafeInteger(id) && id >= 0) return id;
  throw new RpcError(Code.INVALID_ARGUMENT, `rpc: protobuf: call ids must be integers from 0 to 2^53-1, got ${typeof id === "string" ? JSON.stringify(id) : String(id)}`);
}

/** Writes a checked id (checkId); id 0 is the proto3 default, left off. */
function writeId(w: SlabWriter, tag: number, id: number): void {
  if (id === 0) return;
  w.uint32(tag);
  if (id <= MAX_U32) w.uint32(id);
  else w.uint64(id);
}

function timeoutMs(ms: number): number {
  if (typeof ms !== "number" || !(ms >= 0)) throw new RpcError(Code.INVALID_ARGUMENT, `rpc: protobuf: timeout must be a non-negative number of milliseconds, got ${String(ms)}`);
  return Math.min(Math.ceil(ms), MAX_U32);
}

/** A uint64 varint as a number; past 2^53-1 the id cannot be echoed, so the frame is refused. */
function readId(r: Reader): number {
  const buf = r.buf;
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (r.pos >= r.len) throw new Error("truncated id");
    const b = buf[r.pos++]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (value > MAX_ID) throw new Error("id is above 2^53-1");
      return value;
    }
    scale *= 128;
  }
  throw new Error("id varint is longer than 10 bytes");
}

function readEntry(r: Reader): [string, string[], boolean] {
  const end = r.uint32() + r.pos;
  if (end > r.len) throw new Error("metadata entry overruns the frame");
  let key = "";
  const values: string[] = [];
  let list = false;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case MD_KEY: key = r.string(); break;
      case MD_VALUES: values.push(r.string()); break;
      case MD_LIST: list = r.bool(); break;
      default: skipUnknown(r, tag, 3);
    }
  }
  if (r.pos !== end) throw new Error("metadata entry overruns its length");
  return [key, values, list];
}

/** Entries -> a metadata object; a key that repeats has its values appended (as gRPC headers). */
function collect(entries: Array<[string, string[], boolean]>): Record<string, string | string[]> {
  const lists = new Map<string, { values: string[]; list: boolean }>();
  for (const [key, values, list] of entries) {
    const seen = lists.get(key);
    if (seen) {
      seen.values.push(...values);
      seen.list = true;
    } else lists.set(key, { values, list });
  }
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const [key, { values, list }] of lists) out[key] = list || values.length !== 1 ? values : values[0]!;
  return out;
}

/** Skips a field we do not know; a known field number with the wrong wire type is malformed. */
function skipUnknown(r: Reader, tag: number, lastKnown: number): void {
  const field = tag >>> 3;
  const wire = tag & 7;
  if (field === 0) throw new Error("field number 0");
  if (field <= lastKnown) throw new Error(`field ${field} has wire type ${wire}`);
  if (wire === 3 || wire === 4) throw new Error("groups are not supported");
  r.skipType(wire);
}

function asMalformed(err: unknown, what: string): RpcError {
  if (err instanceof RpcError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return malformed(`${what}: ${detail}`, err);
}
