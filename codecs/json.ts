// JSON over newline-delimited frames, byte-compatible with Go's net/rpc/jsonrpc.
//
// Request:  {"method":"Arith.Multiply","params":[{"A":7,"B":8}],"id":0}
// Response: {"id":0,"result":56,"error":null}  |  {"id":0,"result":null,"error":"divide by zero","code":2}
// Cancel:   {"id":0,"cancel":true}
// Streams:  a request with "stream":true sends its requests as {"id":0,"message":<value>}, then
//           {"id":0,"end":true}; replies come as messages, then the response; either side grants
//           the other more messages with {"id":0,"credit":16}. A message of undefined is
//           {"id":0,"message":null,"void":true}.
// Keepalive: {"id":-1,"ping":true} from the client, {"id":-1,"pong":true} back: the id is the ping's
// own number, negated so that a server that knows no pings (Go's) answers an id no call has.
// Our extensions are extra members Go ignores: "timeout" (ms) and "metadata" on requests, "code"
// on errors, "void"/"null" on results that are undefined/null (Go's client rejects "result":null,
// so those travel as {} and the member restores them).
import { Code, isCode } from "../core/codes.js";
import { RpcError } from "../core/errors.js";
import { readMetadata, hasMetadata } from "../core/metadata.js";
import { decodeUtf8 } from "../core/utf8.js";
import { NewlineFramer } from "../core/framing/newline.js";
import type { Codec, CodecSession, Encoded } from "../core/codec.js";
import type { CallId, ClientInbound, MessageEnvelope, RequestEnvelope, ResponseEnvelope, ServerInbound } from "../core/envelope.js";

/** Go's server sends these texts without a code; we give them the code a netrpc server would. */
const GO_TEXTS: ReadonlyArray<readonly [string, Code]> = [
  ["rpc: can't find service ", Code.UNIMPLEMENTED],
  ["rpc: can't find method ", Code.UNIMPLEMENTED],
  ["rpc: service/method request ill-formed: ", Code.UNIMPLEMENTED],
];

function malformed(detail: string): RpcError {
  return new RpcError(Code.INVALID_ARGUMENT, `rpc: malformed JSON message: ${detail}`);
}

function parse(frame: Encoded): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(typeof frame === "string" ? frame : decodeUtf8(frame));
  } catch (err) {
    throw malformed((err as Error).message);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw malformed("not an object");
  return value as Record<string, unknown>;
}

function isId(id: unknown): id is CallId {
  return (typeof id === "number" && Number.isFinite(id)) || typeof id === "string";
}

function stringify(value: unknown, what: string): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw new RpcError(Code.INTERNAL, `rpc: cannot encode ${what} as JSON: ${(err as Error).message}`, { cause: err });
  }
}

function invalid(id: CallId, message: string): ServerInbound {
  return { kind: "invalid", id, error: { code: Code.INVALID_ARGUMENT, message } };
}

/** A streaming call's message or credit, if `msg` is one. */
function streamed(msg: Record<string, unknown>, id: CallId): MessageEnvelope | ServerInbound | undefined {
  if ("message" in msg) return { kind: "message", id, payload: msg.void === true ? undefined : msg.message };
  if ("credit" in msg) {
    const credit = msg.credit;
    if (typeof credit !== "number" || !Number.isInteger(credit) || credit < 1 || credit > 0x7fffffff) {
      return invalid(id, "rpc: credit must be a positive integer");
    }
    return { kind: "credit", id, credit };
  }
  return undefined;
}

function decodeRequest(frame: Encoded): ServerInbound {
  const msg = parse(frame);
  const id = msg.id;
  if (!isId(id)) throw malformed("request has no usable id");
  if (msg.cancel === true) return { kind: "cancel", id };
  if (msg.end === true) return { kind: "end", id };
  if (msg.ping === true) return typeof id === "number" ? { kind: "ping", id: -id } : invalid(id, "rpc: a ping's id must be a number");
  const stream = streamed(msg, id);
  if (stream) return stream as ServerInbound;
  const method = msg.method;
  if (typeof method !== "string") return invalid(id, "rpc: request has no method");
  // Go sends params as a one-element array; a bare value is accepted for other JSON-RPC clients.
  let params = msg.params;
  if (Array.isArray(params)) {
    if (params.length > 1) return invalid(id, `rpc: params must be an array of one value, got ${params.length}`);
    params = params[0];
  }
  let timeout: number | undefined;
  if (msg.timeout !== undefined) {
    if (typeof msg.timeout !== "number" || !(msg.timeout >= 0) || !Number.isFinite(msg.timeout)) {
      return invalid(id, "rpc: timeout must be a non-negative number of milliseconds");
    }
    timeout = msg.timeout;
  }
  let metadata;
  try {
    metadata = msg.metadata === undefined ? undefined : readMetadata(msg.metadata);
  } catch (err) {
    return invalid(id, (err as Error).message);
  }
  return msg.stream === true ? { kind: "request", id, method, params, timeout, metadata, stream: true } : { kind: "request", id, method, params, timeout, metadata };
}

function decodeResponse(frame: Encoded): ClientInbound {
  const msg = parse(frame);
  if (msg.pong === true && typeof msg.id === "number") return { kind: "pong", id: -msg.id };
  if (isId(msg.id) && ("message" in msg || "credit" in msg)) {
    const stream = streamed(msg, msg.id);
    if (stream?.kind === "message" || stream?.kind === "credit") return stream;
    throw malformed("bad credit");
  }
  const error = msg.error;
  // id null with an error: the server's last word about the connection itself.
  if (!isId(msg.id) && !(msg.id === null && typeof error === "string")) throw malformed("response has no usable id");
  const id = msg.id as CallId | null;
  if (error !== null && error !== undefined) {
    const message = typeof error === "string" ? error : JSON.stringify(error);
    let code: Code = isCode(msg.code) && msg.code !== Code.OK ? msg.code : Code.UNKNOWN;
    if (!isCode(msg.code)) for (const [prefix, c] of GO_TEXTS) if (message.startsWith(prefix)) code = c;
    return { kind: "response", id, error: { code, message } };
  }
  if (msg.void === true) return { kind: "response", id, result: undefined };
  if (msg.null === true) return { kind: "response", id, result: null };
  return { kind: "response", id, result: msg.result };
}

function encodeRequest(req: RequestEnvelope): string {
  let out = `{"method":${JSON.stringify(req.method)},"params":[${stringify(req.params ?? null, "params")}],"id":${JSON.stringify(req.id)}`;
  if (req.timeout !== undefined) out += `,"timeout":${Math.ceil(req.timeout)}`;
  if (hasMetadata(req.metadata)) out += `,"metadata":${JSON.stringify(req.metadata)}`;
  if (req.stream) out += `,"stream":true`;
  return out + "}";
}

function encodeMessage(id: CallId, _method: string, payload: unknown): string {
  if (payload === undefined) return `{"id":${JSON.stringify(id)},"message":null,"void":true}`;
  const json = stringify(payload, "message");
  return json === undefined ? `{"id":${JSON.stringify(id)},"message":null,"void":true}` : `{"id":${JSON.stringify(id)},"message":${json}}`;
}

function encodeResponse(res: ResponseEnvelope): string {
  const id = JSON.stringify(res.id);
  if (res.error) {
    const message = res.error.message || "unspecified error";
    return `{"id":${id},"result":null,"error":${JSON.stringify(message)},"code":${res.error.code}}`;
  }
  const result = res.result;
  if (result === undefined) return `{"id":${id},"result":{},"error":null,"void":true}`;
  if (result === null) return `{"id":${id},"result":{},"error":null,"null":true}`;
  const json = stringify(result, "result");
  // JSON.stringify gives undefined for functions and symbols, and "null" for NaN, Infinity and
  // toJSON()s that return null: keep "result":null off the wire all the same.
  if (json === undefined) return `{"id":${id},"result":{},"error":null,"void":true}`;
  if (json === "null") return `{"id":${id},"result":{},"error":null,"null":true}`;
  return `{"id":${id},"result":${json},"error":null}`;
}

const session: CodecSession = {
  createFramer: (max) => new NewlineFramer(max),
  encodeRequest,
  encodeCancel: (id) => `{"id":${JSON.stringify(id)},"cancel":true}`,
  encodeMessage,
  encodeEnd: (id) => `{"id":${JSON.stringify(id)},"end":true}`,
  encodeCredit: (id, credit) => `{"id":${JSON.stringify(id)},"credit":${credit}}`,
  encodePing: (seq, pong) => `{"id":${-seq},"${pong ? "pong" : "ping"}":true}`,
  encodeResponse,
  decodeRequest,
  decodeResponse,
};

/** The default codec. Stateless, so every connection shares one session. */
export const json: Codec = {
  name: "json",
  fork: () => session,
};
