// The codec seam: values <-> bytes for one connection, on stream transports (TCP, unix, WebSocket).
import type { Framer } from "./framing/framer.js";
import type { CallId, ClientInbound, RequestEnvelope, ResponseEnvelope, ServerInbound } from "./envelope.js";

/** An encoded message body: strings stay strings until the socket, which saves a copy for JSON. */
export type Encoded = string | Uint8Array;

/**
 * A codec names a wire format and makes one session per connection (`fork()`), because
 * stateful codecs (a gob-like stream that sends each record's shape once) keep per-connection
 * tables, as Go builds one gob codec per ServeConn.
 */
export interface Codec {
  /** "json", "msgpack", "protobuf". */
  readonly name: string;
  fork(): CodecSession;
}

export interface CodecSession {
  /** How messages are delimited on a byte stream. */
  createFramer(maxMessageSize: number): Framer;
  encodeRequest(req: RequestEnvelope): Encoded;
  encodeCancel(id: CallId): Encoded;
  encodeResponse(res: ResponseEnvelope): Encoded;
  /** One message of streaming call `id` to `method`: a request when `request` is true, else a reply. */
  encodeMessage(id: CallId, method: string, payload: unknown, request: boolean): Encoded;
  /** The client's half-close of call `id`. */
  encodeEnd(id: CallId): Encoded;
  /** Grants the peer `credit` more messages on call `id`. */
  encodeCredit(id: CallId, credit: number): Encoded;
  /** Keepalive: a client's ping `seq`, or the server's pong answering it. */
  encodePing(seq: number, pong: boolean): Encoded;
  /**
   * Server side. Returns "invalid" (with an error to send back) for a frame whose id could be
   * read; throws an RpcError when even the id cannot be read, which closes the connection.
   */
  decodeRequest(frame: Encoded): ServerInbound;
  /** Client side. Throws an RpcError for a frame that is not a response, message or credit. */
  decodeResponse(frame: Encoded): ClientInbound;
}
