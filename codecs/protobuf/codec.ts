// The protobuf CodecSession: envelopes from envelope.ts, payload types from the method table, per-connection call bookkeeping.
import { Code, isCode } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";
import { LengthFramer, PrefixedFrames } from "../../core/framing/length.js";
import type { CodecSession, Encoded } from "../../core/codec.js";
import type { CallId, ClientInbound, RequestEnvelope, ResponseEnvelope, ServerInbound, WireError } from "../../core/envelope.js";
import type { MethodDescriptor, MethodTable } from "./descriptors.js";
import type { Message } from "protobufjs";
import { checkId, malformed, MethodNames, readRequest, readResponse, writeCancel, writeCredit, writeEnd, writePing, writeRequest, writeResponse, writeResult, writeStreamMessage } from "./envelope.js";
import { decodePayloadAt, preparePayload, type Longs } from "./payload.js";

const EMPTY: Uint8Array = new Uint8Array(0);
const utf8 = new TextEncoder();
/** Each method's wire name as UTF-8, encoded once. */
const methodBytes = new WeakMap<MethodDescriptor, Uint8Array>();

/**
 * One connection's session. A response carries only its call id, so the session remembers the
 * method of every call still owed a reply: on a client, from encodeRequest until its response
 * or cancel; on a server, from decodeRequest until encodeResponse or a cancel. Entries exist
 * only for calls in flight, so the tables are as bounded as the connection's own.
 */
export class ProtobufSession implements CodecSession {
  readonly #methods: MethodTable;
  readonly #longs: Longs;
  /** Client side: calls awaiting a response. */
  readonly #awaiting = new Map<number, MethodDescriptor>();
  /** Server side: calls awaiting our response. */
  readonly #serving = new Map<number, MethodDescriptor>();
  /** Server side: ids with more than one request still owed a response, and how many more (rare: a peer reusing an id). */
  readonly #repeats = new Map<number, number>();
  /** Server side: the names requests arrive with, and the last one's descriptor. */
  readonly #names = new MethodNames();
  #lastName = "";
  #lastMd: MethodDescriptor | undefined;
  /** Client side: the method of the last request sent, its descriptor and its name as UTF-8. */
  #sent: { method: string; md: MethodDescriptor; name: Uint8Array } | undefined;
  readonly #frames = new PrefixedFrames();

  constructor(methods: MethodTable, longs: Longs) {
    this.#methods = methods;
    this.#longs = longs;
  }

  /** The envelope writers return whole frames, length prefix included: framing them copies nothing. */
  createFramer(maxMessageSize: number): LengthFramer {
    return new LengthFramer(maxMessageSize, { prefixed: this.#frames });
  }

  /** Throws UNIMPLEMENTED for a method with no descriptor, INVALID_ARGUMENT for params or a string id. */
  encodeRequest(req: RequestEnvelope): Uint8Array {
    const id = checkId(req.id);
    // Calls tend to repeat one method: the last one's descriptor and UTF-8 name are kept at hand.
    let sent = this.#sent;
    if (sent === undefined || sent.method !== req.method) {
      const md = this.#methods.get(req.method);
      if (!md) throw new RpcError(Code.UNIMPLEMENTED, `rpc: protobuf: no descriptor for method ${req.method} (hint: load its .proto: protobuf({ proto: "path/to/file.proto" }))`);
      let name = methodBytes.get(md);
      if (name === undefined) methodBytes.set(md, (name = utf8.encode(md.name)));
      sent = this.#sent = { method: req.method, md, name };
    }
    const { md, name } = sent;
    let payload: Message | null = null;
    if (!req.stream) {
      try {
        payload = preparePayload(md.requestType, req.params);
      } catch (err) {
        throw new RpcError(Code.INVALID_ARGUMENT, `rpc: protobuf: bad params for ${md.name}: ${detail(err)}`, { cause: err });
      }
    }
    const frame = writeRequest(id, name, req.timeout, req.metadata, md.requestType, payload, req.stream === true);
    this.#awaiting.set(id, md);
    return this.#frames.body(frame);
  }

  encodeCancel(id: CallId): Uint8Array {
    const n = checkId(id);
    this.#awaiting.delete(n);
    return this.#frames.body(writeCancel(n));
  }

  /** A request (client) or reply (server) of streaming call `id`, as the call's request or response type. */
  encodeMessage(id: CallId, method: string, value: unknown, request: boolean): Uint8Array {
    const n = checkId(id);
    const md = (request ? this.#awaiting : this.#serving).get(n);
    if (!md) throw new RpcError(Code.INTERNAL, `rpc: protobuf: no call ${n} to ${method} is open`);
    const type = request ? md.requestType : md.responseType;
    let payload: Message | null;
    try {
      payload = preparePayload(type, value);
    } catch (err) {
      const what = request ? `bad request for ${md.name}` : `cannot encode a reply of ${md.name}`;
      throw new RpcError(request ? Code.INVALID_ARGUMENT : Code.INTERNAL, `rpc: protobuf: ${what}: ${detail(err)}`, { cause: err });
    }
    return this.#frames.body(writeStreamMessage(n, type, payload, request));
  }

  encodeEnd(id: CallId): Uint8Array {
    return this.#frames.body(writeEnd(checkId(id)));
  }

  encodePing(seq: number, pong: boolean): Uint8Array {
    return this.#frames.body(writePing(checkId(seq), pong));
  }

  /** Credit goes the other way from the messages it answers: the client grants replies, the server requests. */
  encodeCredit(id: CallId, credit: number): Uint8Array {
    const n = checkId(id);
    return this.#frames.body(writeCredit(n, credit, this.#awaiting.has(n)));
  }

  /**
   * Errors never fail to encode (server-conn relies on that). A result fails with INTERNAL when
   * it does not fit the response type or no call `id` is awaiting it.
   */
  encodeResponse(res: ResponseEnvelope): Uint8Array {
    if (res.id === null) return this.#frames.body(writeResponse(null, errorCode(res.error), errorText(res.error), EMPTY));
    const id = checkId(res.id);
    if (res.error) {
      this.#release(id);
      return this.#frames.body(writeResponse(id, errorCode(res.error), errorText(res.error), EMPTY));
    }
    const md = this.#serving.get(id);
    if (!md) throw new RpcError(Code.INTERNAL, `rpc: protobuf: no call ${id} is awaiting a result`);
    let payload: Message | null;
    try {
      payload = preparePayload(md.responseType, res.result);
    } catch (err) {
      throw new RpcError(Code.INTERNAL, `rpc: protobuf: cannot encode the result of ${md.name}: ${detail(err)}`, { cause: err });
    }
    this.#release(id);
    return this.#frames.body(writeResult(id, md.responseType, payload));
  }

  decodeRequest(frame: Encoded): ServerInbound {
    const wire = readRequest(bytesOf(frame), this.#names);
    switch (wire.kind) {
      case "cancel":
        this.#serving.delete(wire.id);
        this.#repeats.delete(wire.id);
        return wire;
      case "end":
      case "credit":
      case "ping":
        return wire;
      case "bad":
        return invalid(wire.id, Code.INVALID_ARGUMENT, wire.message);
      case "message": {
        const md = this.#serving.get(wire.id);
        // A message for a call that has ended is dropped by the connection; nothing to decode it as.
        if (!md) return { kind: "message", id: wire.id, payload: undefined };
        try {
          return { kind: "message", id: wire.id, payload: decodePayloadAt(md.requestType, wire.reader, wire.payloadAt, wire.payloadLength, this.#longs) };
        } catch (err) {
          return invalid(wire.id, Code.INVALID_ARGUMENT, `rpc: malformed protobuf message: ${md.requestType.fullName.slice(1)}: ${detail(err)}`);
        }
      }
    }
    const { id, method } = wire;
    if (method === "") return invalid(id, Code.INVALID_ARGUMENT, "rpc: request has no method");
    const md = method === this.#lastName ? this.#lastMd : this.#methods.get(method);
    if (!md) return invalid(id, Code.UNIMPLEMENTED, `rpc: protobuf: no descriptor for method ${method}`);
    this.#lastName = method;
    this.#lastMd = md;
    let params: unknown;
    if (!wire.stream) {
      try {
        params = decodePayloadAt(md.requestType, wire.reader, wire.payloadAt, wire.payloadLength, this.#longs);
      } catch (err) {
        return invalid(id, Code.INVALID_ARGUMENT, `rpc: malformed protobuf message: ${md.requestType.fullName.slice(1)}: ${detail(err)}`);
      }
    }
    // A second request under an id still in flight is answered with an error at once; the first keeps the entry.
    if (this.#serving.has(id)) this.#repeats.set(id, (this.#repeats.get(id) ?? 0) + 1);
    else this.#serving.set(id, md);
    return wire.stream ? { kind: "request", id, method, params, timeout: wire.timeout, metadata: wire.metadata, stream: true } : { kind: "request", id, method, params, timeout: wire.timeout, metadata: wire.metadata };
  }

  /**
   * Throws RpcError for a frame that is not a Response. A result whose payload does not decode
   * fails only its own call, with INTERNAL (as gRPC does). A result for a call we no longer
   * await (we cancelled it) comes back as `result: undefined` for the client to drop.
   */
  decodeResponse(frame: Encoded): ClientInbound {
    const wire = readResponse(bytesOf(frame));
    if (wire.id === null) {
      return { kind: "response", id: null, error: { code: peerCode(wire.code), message: wire.message || "rpc: the server closed the connection" } };
    }
    const id = wire.id;
    if (wire.credit > 0) return { kind: "credit", id, credit: wire.credit };
    if (wire.pong) return { kind: "pong", id };
    if (wire.streamed) {
      const md = this.#awaiting.get(id);
      if (!md) return { kind: "message", id, payload: undefined };
      try {
        return { kind: "message", id, payload: decodePayloadAt(md.responseType, wire.reader, wire.payloadAt, wire.payloadLength, this.#longs) };
      } catch (err) {
        // A reply that does not decode fails its own call (INTERNAL, as gRPC), not the connection.
        return { kind: "message", id, payload: undefined, error: { code: Code.INTERNAL, message: `rpc: malformed protobuf message: ${md.responseType.fullName.slice(1)}: ${detail(err)}` } };
      }
    }
    const md = this.#awaiting.get(id);
    this.#awaiting.delete(id);
    if (wire.code !== 0) return { kind: "response", id, error: { code: peerCode(wire.code), message: wire.message } };
    // A server stream's replies came as messages; its final Response carries only the status.
    if (!md || md.responseStream) return { kind: "response", id, result: undefined };
    try {
      return { kind: "response", id, result: decodePayloadAt(md.responseType, wire.reader, wire.payloadAt, wire.payloadLength, this.#longs) };
    } catch (err) {
      return { kind: "response", id, error: { code: Code.INTERNAL, message: `rpc: malformed protobuf message: ${md.responseType.fullName.slice(1)}: ${detail(err)}` } };
    }
  }

  /** Server: a response for `id` went out. */
  #release(id: number): void {
    const more = this.#repeats.size === 0 ? undefined : this.#repeats.get(id);
    if (more === undefined) this.#serving.delete(id);
    else if (more === 1) this.#repeats.delete(id);
    else this.#repeats.set(id, more - 1);
  }
}

function invalid(id: number, code: Code, message: string): ServerInbound {
  return { kind: "invalid", id, error: { code, message } };
}

function bytesOf(frame: Encoded): Uint8Array {
  if (typeof frame === "string") throw malformed("a protobuf frame is bytes, not text");
  return frame;
}

/** An error on the wire is never code 0, and never an empty text. */
function errorCode(error: WireError | undefined): number {
  return error && isCode(error.code) && error.code !== Code.OK ? error.code : Code.UNKNOWN;
}

function errorText(error: WireError | undefined): string {
  const message = error?.message;
  return typeof message === "string" && message.length > 0 ? message : "unspecified error";
}

/** Codes from the wire: anything that is not a known error code reads as UNKNOWN. */
function peerCode(code: number): Code {
  return isCode(code) && code !== Code.OK ? code : Code.UNKNOWN;
}

function detail(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    return "an unreadable error";
  }
}
