// Picks a connection's codec from its first bytes, so one port serves every codec the server speaks.
import type { Duplex } from "node:stream";
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import { debug } from "./debug.js";
import { ACK_OK, ACK_UNKNOWN_CODEC, HelloReader, encodeAck, opensPreface } from "./preface.js";
import type { Codec } from "./codec.js";

export interface SniffOptions {
  /** The codecs this connection may use, by name. */
  readonly codecs: ReadonlyMap<string, Codec>;
  /** Milliseconds a started preface may take to complete. */
  readonly handshakeTimeout: number;
  /** Hand connections that open with the HTTP/2 preface to gRPC. */
  readonly http2?: boolean;
  /** HTTP/2 only (a grpc:// port): the handshake timeout runs from the start, and nothing else is accepted. */
  readonly http2Only?: boolean;
  /** Hand connections that open with an HTTP/1.1 "GET " (a WebSocket upgrade) to the WebSocket server. */
  readonly webSocket?: boolean;
}

/** What sniffCodec resolves with for a connection that opens with the HTTP/2 client preface. */
export const HTTP2 = Symbol("http2");
/** What sniffCodec resolves with for a connection that opens with "GET " (an HTTP request: a WebSocket upgrade). */
export const WEBSOCKET = Symbol("websocket");

export type Sniffed = Codec | typeof HTTP2 | typeof WEBSOCKET;

/** "GET " begins with G, which neither JSON, our preface nor HTTP/2's can. */
const HTTP_GET = Buffer.from("GET ", "latin1");

/** The HTTP/2 client preface begins with P, which neither JSON nor our preface can. */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
/**
 * Bytes an HTTP/2 client sends first: the preface and its SETTINGS frame's 9-byte header. We
 * hold the connection until they are in, because node:http2 cannot close a session whose peer
 * stalls inside its preface (the socket stays open until garbage collection).
 */
const HTTP2_OPENING = HTTP2_PREFACE.length + 9;

/** An opening being matched byte by byte: the HTTP/2 preface, or "GET ". */
interface Opening {
  readonly expect: Buffer;
  /** Bytes to hold before handing the connection over. */
  readonly need: number;
  readonly result: typeof HTTP2 | typeof WEBSOCKET;
  chunks: Buffer[];
  length: number;
}

/**
 * Waits for the first bytes: "{" (or white space) means JSON with no preface, as Go's client
 * sends; "N" opens a preface naming the codec, answered with an ack. An idle connection may wait
 * for ever (a Go client sends nothing until its first call), but once a preface has begun it must
 * finish within handshakeTimeout. "P" is the HTTP/2 preface: HTTP2 when `http2` is allowed; "GET "
 * an HTTP request, WEBSOCKET when `webSocket` is allowed (its upgrade is the WebSocket server's to
 * time). Resolves with the codec (or HTTP2, WEBSOCKET), the stream paused and its unread bytes put
 * back; or with undefined after refusing the connection.
 */
export function sniffCodec(stream: Duplex, options: SniffOptions): Promise<Sniffed | undefined> {
  return new Promise((resolve) => {
    let reader: HelloReader | undefined;
    let opening: Opening | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const startTimer = (what: string) => {
      timer ??= setTimeout(() => refuse(`no complete ${what} within ${options.handshakeTimeout} ms`), options.handshakeTimeout);
    };
    const done = (codec: Sniffed | undefined, rest?: Uint8Array) => {
      clearTimeout(timer);
      stream.removeListener("data", onData);
      stream.removeListener("close", onClose);
      stream.removeListener("error", onError);
      stream.removeListener("end", onEnd);
      stream.pause();
      if (codec && rest && rest.length > 0) stream.unshift(rest);
      resolve(codec);
    };
    const refuse = (reason: string, reply?: Uint8Array | string) => {
      debug("refusing connection: %s", reason);
      done(undefined);
      if (reply !== undefined) stream.end(reply);
      const cut = setTimeout(() => stream.destroy(), 1000);
      stream.once("close", () => clearTimeout(cut));
      if (reply === undefined) stream.destroy();
    };
    const onClose = () => done(undefined);
    // A peer that ends its side before saying anything will never say anything.
    const onEnd = () => {
      done(undefined);
      stream.destroy();
    };
    const onError = (err: Error) => {
      debug("connection failed before its first message: %s", err.message);
      done(undefined);
      stream.destroy();
    };
    /** Neither a preface nor HTTP: JSON, as Go's client sends it, if this port speaks JSON. */
    const asJson = (bytes: Buffer) => {
      const json = options.codecs.get("json");
      if (json) return done(json, bytes);
      const error = new RpcError(Code.UNIMPLEMENTED, `rpc: this port does not speak JSON (it speaks ${[...options.codecs.keys()].join(", ")})`);
      return refuse(error.message, `{"id":null,"result":null,"error":${JSON.stringify(error.message)},"code":${error.code}}\n`);
    };
    const onData = (chunk: Buffer) => {
      if (!reader && !opening) {
        if (chunk[0] === HTTP2_PREFACE[0] && (options.http2 || options.http2Only)) {
          opening = { expect: HTTP2_PREFACE, need: HTTP2_OPENING, result: HTTP2, chunks: [], length: 0 };
          startTimer("HTTP/2 preface");
        } else if (chunk[0] === HTTP_GET[0] && options.webSocket && !options.http2Only) {
          opening = { expect: HTTP_GET, need: HTTP_GET.length, result: WEBSOCKET, chunks: [], length: 0 };
          startTimer("HTTP request line");
        }
      }
      if (opening) {
        opening.chunks.push(chunk);
        opening.length += chunk.length;
        const seen = Buffer.concat(opening.chunks, opening.length);
        const prefix = seen.subarray(0, opening.expect.length);
        if (!prefix.equals(opening.expect.subarray(0, prefix.length))) {
          if (opening.result === HTTP2) return refuse("a connection began like HTTP/2 but is not");
          // Not an HTTP request after all: what it always was before WebSocket, a (bad) JSON connection.
          clearTimeout(timer);
          return asJson(seen);
        }
        if (opening.length >= opening.need) done(opening.result, seen);
        return;
      }
      if (options.http2Only) return refuse("an HTTP/2 port got something else");
      if (!reader) {
        if (!opensPreface(chunk[0]!)) return asJson(chunk);
        reader = new HelloReader();
        startTimer("preface");
      }
      let hello;
      try {
        hello = reader.push(chunk);
      } catch (err) {
        return refuse((err as Error).message);
      }
      if (!hello) return;
      const codec = options.codecs.get(hello.value);
      if (!codec) {
        const message = `rpc: this port does not speak codec ${JSON.stringify(hello.value)} (it speaks ${[...options.codecs.keys()].join(", ")})`;
        return refuse(message, encodeAck(ACK_UNKNOWN_CODEC, message));
      }
      stream.write(encodeAck(ACK_OK));
      done(codec, hello.rest);
    };
    if (options.http2Only) startTimer("HTTP/2 preface");
    stream.on("data", onData);
    stream.once("close", onClose);
    stream.on("error", onError);
    stream.once("end", onEnd);
    if (stream.destroyed) done(undefined);
  });
}
