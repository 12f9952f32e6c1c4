// The gRPC server side on node:http2: one stream per call, the gRPC over HTTP/2 wire format exactly.
import http2 from "node:http2";
import type { Duplex } from "node:stream";
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";
import { CallContext, type Peer } from "../../core/context.js";
import { debug } from "../../core/debug.js";
import { timerDelay } from "../../core/options.js";
import { isLookupFailure } from "../../core/registry.js";
import type { Dispatcher } from "../../core/server-conn.js";
import type { Metadata } from "../../core/metadata.js";
import { MessageReader, framed, type GrpcMessage } from "./frames.js";
import { ACCEPT_ENCODING, acceptsGzip, compress, decompress, isSupportedEncoding } from "./compression.js";
import { KEEP_USER_AGENT, encodeMessage, headerValue, putMetadata, readHeaders } from "./headers.js";
import { codecNameOf, type MessageCodec, type MethodMessages } from "./messages.js";
import { MessageQueue } from "../../core/message-queue.js";
import { drained } from "./drain.js";
import { parseTimeout } from "./timeout.js";
import { PingPolicy, TOO_MANY_PINGS } from "../../core/keepalive.js";

const { HTTP2_HEADER_STATUS, HTTP2_HEADER_CONTENT_TYPE, HTTP2_HEADER_PATH, HTTP2_HEADER_METHOD, NGHTTP2_NO_ERROR, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/** The server's keepalive on HTTP/2 sessions: its own pings, and what it permits of a client's. */
export interface GrpcKeepalive {
  /** Ms between the server's pings; a client that has not acked one when the next is due is dropped. 0: none. */
  readonly interval: number;
  /** Least ms between a client's pings; 0: any rate. */
  readonly minTime: number;
  /** Client pings while no call runs are fine (else they must be two hours apart). */
  readonly permitWithoutCalls: boolean;
  /** Pings too soon that are forgiven before GOAWAY too_many_pings; 0: no limit. */
  readonly maxPingStrikes: number;
}

/** What the gRPC server needs from the netrpc Server it belongs to. */
export interface GrpcHost extends Dispatcher {
  /** The message codec for a codec name ("protobuf", "json", "msgpack"), if the server speaks it. */
  messageCodec(name: string): MessageCodec | undefined;
  /** Compress replies by default when the client accepts gzip. */
  readonly compressReplies: boolean;
  readonly keepalive: GrpcKeepalive;
}

/** Received messages a handler may leave unread before the stream stops reading (HTTP/2 flow control then holds the sender). */
const QUEUE_HIGH_WATER = 16;

function thrown(error: unknown): RpcError {
  return error === undefined || error === null ? new RpcError(Code.UNKNOWN, `rpc: handler threw ${String(error)}`) : RpcError.from(error);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> | Iterable<unknown> {
  return typeof value === "object" && value !== null && (Symbol.asyncIterator in value || Symbol.iterator in value);
}

/**
 * Serves gRPC calls on HTTP/2 sessions: those of servers it is attached to, and raw sockets it
 * is handed (a netrpc TCP port that saw the HTTP/2 preface).
 */
export class GrpcServer {
  readonly #host: GrpcHost;
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  readonly #keepalives = new WeakMap<http2.Http2Session, SessionKeepalive>();
  readonly #calls = new Set<ServerCall>();
  #cleartext: http2.Http2Server | undefined;
  #draining = false;
  #idleWaiters: Array<() => void> = [];

  constructor(host: GrpcHost) {
    this.#host = host;
  }

  /** HTTP/2 settings for our servers: one stream per call, so the stream limit is the call limit. */
  settings(): http2.Settings {
    return { maxConcurrentStreams: this.#host.maxConcurrentCalls };
  }

  /** Serves the gRPC streams of an http2 server (cleartext or TLS). */
  attach(server: http2.Http2Server | http2.Http2SecureServer): void {
    server.on("session", (session: http2.ServerHttp2Session) => {
      if (this.#draining) {
        session.close();
        return;
      }
      this.#sessions.add(session);
      const keepalive = new SessionKeepalive(session, this.#host.keepalive);
      this.#keepalives.set(session, keepalive);
      session.on("close", () => {
        keepalive.stop();
        this.#sessions.delete(session);
        this.#checkIdle();
      });
      session.on("error", (err) => debug("http2 session error: %s", err.message));
    });
    server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, raw: string[]) => this.#onStream(stream, headers, raw));
  }

  /** Serves a cleartext HTTP/2 connection that began on a netrpc port (its preface already put back). */
  serveSocket(socket: Duplex): void {
    if (!this.#cleartext) {
      this.#cleartext = http2.createServer({ settings: this.settings() });
      this.attach(this.#cleartext);
    }
    this.#cleartext.emit("connection", socket);
  }

  /** Calls being served. */
  get active(): number {
    return this.#calls.size;
  }

  /** GOAWAY to every session: calls in flight finish, new ones are refused. Resolves when every call has ended. */
  drain(): Promise<void> {
    this.#draining = true;
    for (const session of this.#sessions) session.close();
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#checkIdle();
    });
  }

  /** Ends every session now; handlers see their signal abort. */
  close(): void {
    this.#draining = true;
    for (const call of [...this.#calls]) call.abort(new RpcError(Code.UNAVAILABLE, "rpc: server is closed"));
    for (const session of this.#sessions) session.destroy();
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (this.#calls.size > 0 || this.#sessions.size > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const done of waiters) done();
  }

  #onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, raw: string[] | undefined): void {
    if (headers[HTTP2_HEADER_METHOD] !== "POST") {
      stream.respond({ [HTTP2_HEADER_STATUS]: 405, allow: "POST" }, { endStream: true });
      return;
    }
    const contentType = headerValue(headers, HTTP2_HEADER_CONTENT_TYPE);
    const codecName = codecNameOf(contentType);
    if (codecName === undefined) {
      // Not gRPC: the spec asks for 415 so that a client maps it to a gRPC code itself.
      stream.respond({ [HTTP2_HEADER_STATUS]: 415, "content-type": "text/plain" }, { endStream: false });
      stream.end(`rpc: content-type ${JSON.stringify(contentType ?? "")} is not gRPC`);
      return;
    }
    const keepalive = stream.session ? this.#keepalives.get(stream.session) : undefined;
    const call = new ServerCall(this.#host, stream, headers, raw, codecName, contentType!, this.#draining, () => keepalive?.sent());
    this.#calls.add(call);
    void call.done.then(() => {
      this.#calls.delete(call);
      this.#checkIdle();
    });
  }
}

/**
 * One session's keepalive (A9): the server pings every `interval` and drops a client that has not
 * acked the previous ping, and holds the client's own pings to the policy (A8, "Server
 * Enforcement"): too many too soon earn GOAWAY ENHANCE_YOUR_CALM "too_many_pings", after which
 * the calls in flight finish and the session ends.
 */
class SessionKeepalive {
  readonly #session: http2.ServerHttp2Session;
  readonly #policy: PingPolicy;
  #streams = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #unacked = false;
  #refused = false;

  constructor(session: http2.ServerHttp2Session, options: GrpcKeepalive) {
    this.#session = session;
    this.#policy = new PingPolicy({ minTime: options.minTime, permitWithoutCalls: options.permitWithoutCalls, maxStrikes: options.maxPingStrikes });
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      this.#streams++;
      stream.once("close", () => this.#streams--);
    });
    // node acks every PING itself; this only judges how often they come.
    session.on("ping", () => {
      if (!this.#refused && this.#policy.received(this.#streams)) this.#tooManyPings();
    });
    if (options.interval > 0) {
      this.#timer = setInterval(() => this.#ping(options.interval), options.interval);
      this.#timer.unref();
    }
  }

  /** The server sent headers or data: the client may ping again (pings measure more than liveness). */
  sent(): void {
    this.#policy.sent();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #ping(interval: number): void {
    const session = this.#session;
    if (session.destroyed) return this.stop();
    if (this.#unacked) {
      debug("http2 client did not ack a ping within %d ms: dropping the connection", interval);
      this.stop();
      session.destroy();
      return;
    }
    this.#unacked = true;
    try {
      session.ping((err) => {
        if (!err) this.#unacked = false;
      });
    } catch {
      // The session is closing: its 'close' stops us.
    }
  }

  #tooManyPings(): void {
    this.#refused = true;
    debug("http2 client pings too often: GOAWAY ENHANCE_YOUR_CALM too_many_pings");
    const session = this.#session;
    if (session.closed || session.destroyed) return;
    session.goaway(NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from(TOO_MANY_PINGS));
    // No new streams; those in flight finish, then the session ends.
    session.close();
  }
}

/** Peer of an HTTP/2 stream's connection. */
function peerOfSession(session: http2.Http2Session | undefined): Peer {
  const socket = session?.socket;
  if (!socket || typeof socket.remoteAddress !== "string") return { transport: "grpc" };
  return { transport: "grpc", address: socket.remoteAddress, port: socket.remotePort ?? 0 };
}

/** One call: reads its requests, runs its handler, writes headers, messages and trailers. */
class ServerCall {
  readonly done: Promise<void>;
  readonly #host: GrpcHost;
  readonly #stream: http2.ServerHttp2Stream;
  readonly #contentType: string;
  #ctx: CallContext | undefined;
  #messages: MethodMessages | undefined;
  #reader: MessageReader;
  #encoding: string | undefined;
  /** The client accepts gzip replies; after the headers, whether they said grpc-encoding: gzip. */
  #gzipReplies = false;
  /** Replies are a stream, whose later messages may be compressed though the first is not. */
  #streamedOut = false;
  #headersSent = false;
  #finished = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Tells the session's keepalive that headers or data went out. */
  readonly #sent: () => void;
  #resolveClosed!: () => void;
  #resolveHandled!: () => void;

  constructor(host: GrpcHost, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, raw: string[] | undefined, codecName: string, contentType: string, draining: boolean, sent: () => void) {
    this.#host = host;
    this.#stream = stream;
    this.#sent = sent;
    this.#contentType = contentType;
    this.#reader = new MessageReader(host.maxMessageSize);
    // A call is done when its stream has closed and its handler has returned (shutdown waits for both).
    const closed = new Promise<void>((resolve) => (this.#resolveClosed = resolve));
    const handled = new Promise<void>((resolve) => (this.#resolveHandled = resolve));
    this.done = Promise.all([closed, handled]).then(() => undefined);
    stream.on("error", (err) => debug("grpc stream error: %s", err.message));
    stream.on("close", () => {
      if (!this.#finished) this.abort(new RpcError(Code.CANCELLED, "rpc: the client cancelled the call"));
      this.#resolveClosed();
    });
    try {
      this.#start(headers, raw, codecName, draining);
    } catch (err) {
      this.#resolveHandled();
      this.#finish(RpcError.from(err, Code.INTERNAL));
    }
  }

  #start(headers: http2.IncomingHttpHeaders, raw: string[] | undefined, codecName: string, draining: boolean): void {
    if (draining) throw new RpcError(Code.UNAVAILABLE, "rpc: server is shutting down");
    const codec = this.#host.messageCodec(codecName);
    if (!codec) throw new RpcError(Code.UNIMPLEMENTED, `rpc: grpc: this server does not speak content-type ${this.#contentType}`);
    const encoding = headerValue(headers, "grpc-encoding");
    if (encoding !== undefined && !isSupportedEncoding(encoding)) {
      throw new RpcError(Code.UNIMPLEMENTED, `rpc: grpc: unsupported grpc-encoding ${JSON.stringify(encoding)} (supported: ${ACCEPT_ENCODING})`);
    }
    this.#encoding = encoding;
    const path = headerValue(headers, HTTP2_HEADER_PATH) ?? "";
    const m = /^\/([^/]+)\/([^/]+)$/.exec(path);
    if (!m) throw new RpcError(Code.UNIMPLEMENTED, `rpc: grpc: malformed method name ${JSON.stringify(path)}`);
    const name = `${m[1]}.${m[2]}`;
    const method = this.#host.resolve(name);
    if (isLookupFailure(method)) throw new RpcError(Code.UNIMPLEMENTED, `rpc: grpc: unknown method ${path.slice(1)}`);
    const messages = codec.forMethod(name);
    if (typeof messages === "string") throw new RpcError(Code.UNIMPLEMENTED, messages);
    this.#messages = messages;

    let deadline: number | undefined;
    const timeoutHeader = headerValue(headers, "grpc-timeout");
    if (timeoutHeader !== undefined) {
      const ms = parseTimeout(timeoutHeader);
      if (ms === undefined) throw new RpcError(Code.INTERNAL, `rpc: grpc: malformed grpc-timeout ${JSON.stringify(timeoutHeader)}`);
      deadline = Date.now() + ms;
      this.#timer = setTimeout(() => this.abort(new RpcError(Code.DEADLINE_EXCEEDED, `rpc: deadline of ${timeoutHeader} exceeded`)), timerDelay(ms));
    }
    const metadata: Metadata = readHeaders(headers, KEEP_USER_AGENT, raw);
    const ctx = new CallContext(name, metadata, deadline, peerOfSession(this.#stream.session));
    this.#ctx = ctx;
    this.#gzipReplies = acceptsGzip(headerValue(headers, "grpc-accept-encoding"));

    const streamedIn = method.kind === "client" || method.kind === "bidi";
    const streamedOut = method.kind === "server" || method.kind === "bidi";
    this.#streamedOut = streamedOut;
    let params: unknown;
    let input: Promise<unknown>;
    if (streamedIn) {
      const queue = new MessageQueue<unknown>(QUEUE_HIGH_WATER);
      queue.onDrain = () => this.#stream.resume();
      this.#readInto((value) => {
        if (!queue.push(value)) this.#stream.pause();
      }, () => queue.end(), (err) => queue.fail(err));
      // A handler that fails or gives up reading ends the input; the call itself may still succeed.
      ctx._onAbort((reason) => queue.fail(RpcError.from(reason, Code.CANCELLED)));
      params = queue;
      input = Promise.resolve();
    } else {
      input = new Promise((resolve, reject) => {
        let count = 0;
        this.#readInto(
          (value) => {
            count++;
            params = value;
          },
          () => (count === 1 ? resolve(undefined) : reject(new RpcError(Code.INTERNAL, `rpc: grpc: ${name} is unary on the request side but the client sent ${count} messages`))),
          reject,
        );
      });
    }
    input
      .then(() => this.#host.dispatch(method, { kind: "request", id: 0, method: name, params }, ctx))
      .then((result) => (streamedOut ? this.#sendAll(result) : this.#sendOne(result)))
      .then(() => this.#finish(undefined), (err: unknown) => this.#finish(thrown(err)))
      .finally(() => this.#resolveHandled());
  }

  /** Reads request messages off the stream, decompressed and decoded. */
  #readInto(onValue: (value: unknown) => void, onEnd: () => void, onError: (err: RpcError) => void): void {
    const fail = (err: unknown) => {
      const error = RpcError.from(err, Code.INTERNAL);
      onError(error);
      this.abort(error);
    };
    const onMessage = (message: GrpcMessage) => {
      let data = message.data;
      if (message.compressed) data = decompress(data, this.#encoding, this.#host.maxMessageSize);
      if (this.#ctx) this.#ctx.requestCompressed = message.compressed;
      let value: unknown;
      try {
        value = this.#messages!.decodeRequest(data);
      } catch (err) {
        throw new RpcError(Code.INTERNAL, `rpc: grpc: cannot decode request: ${(err as Error).message}`, { cause: err });
      }
      onValue(value);
    };
    this.#stream.on("data", (chunk: Buffer) => {
      if (this.#finished) return;
      try {
        this.#reader.push(chunk, onMessage);
      } catch (err) {
        fail(err);
      }
    });
    this.#stream.on("end", () => {
      if (this.#finished) return;
      if (!this.#reader.idle) return fail(new RpcError(Code.INTERNAL, "rpc: grpc: the request stream ended inside a message"));
      onEnd();
    });
  }

  #sendHeaders(): void {
    if (this.#headersSent || this.#stream.destroyed) return;
    this.#headersSent = true;
    const ctx = this.#ctx!;
    // grpc-encoding is fixed with the headers, but each message's flag says whether it is compressed.
    this.#gzipReplies &&= this.#streamedOut || (ctx.compressResponse ?? this.#host.compressReplies);
    const headers: http2.OutgoingHttpHeaders = {
      [HTTP2_HEADER_STATUS]: 200,
      "content-type": this.#contentType,
      "grpc-accept-encoding": ACCEPT_ENCODING,
    };
    if (this.#gzipReplies) headers["grpc-encoding"] = "gzip";
    putMetadata(headers, ctx._responseMetadata().header, Code.INTERNAL);
    this.#stream.respond(headers, { waitForTrailers: true });
    this.#sent();
  }

  /** Writes one reply message; resolves when the stream can take more (HTTP/2 flow control). */
  #write(value: unknown): Promise<void> {
    if (this.#finished) throw new RpcError(Code.CANCELLED, "rpc: the call has ended");
    let data: Uint8Array;
    try {
      data = this.#messages!.encodeResponse(value);
    } catch (err) {
      throw new RpcError(Code.INTERNAL, `rpc: grpc: cannot encode reply: ${(err as Error).message}`, { cause: err });
    }
    this.#sendHeaders();
    const compressed = this.#gzipReplies && (this.#ctx!.compressResponse ?? this.#host.compressReplies);
    if (compressed) data = compress(data);
    const [first, rest] = framed(data, compressed);
    let more = this.#stream.write(first);
    if (rest !== undefined) more = this.#stream.write(rest);
    this.#sent();
    return more ? Promise.resolve() : drained(this.#stream);
  }

  async #sendOne(result: unknown): Promise<void> {
    await this.#write(result);
  }

  async #sendAll(result: unknown): Promise<void> {
    if (!isAsyncIterable(result)) throw new RpcError(Code.INTERNAL, `rpc: ${this.#ctx!.method} streams its replies but its handler returned no iterable`);
    for await (const value of result) {
      if (this.#finished) break;
      await this.#write(value);
    }
  }

  /** Ends the call early (deadline, client cancel, server close): the handler's signal aborts. */
  abort(error: RpcError): void {
    if (this.#finished) return;
    this.#ctx?._abort(error);
    // A cancelled client is gone: there is no one to send a status to.
    if (error.code === Code.CANCELLED && this.#stream.closed) {
      this.#finished = true;
      this.#clearTimer();
      return;
    }
    this.#finish(error);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Sends the status: in trailers, or as a trailers-only reply when nothing was sent yet. */
  #finish(error: RpcError | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#clearTimer();
    const stream = this.#stream;
    if (error) this.#ctx?._abort(error);
    if (stream.destroyed || stream.closed) return;
    const trailers: http2.OutgoingHttpHeaders = { "grpc-status": String(error ? error.code : Code.OK) };
    if (error && error.message) trailers["grpc-message"] = encodeMessage(error.message);
    try {
      putMetadata(trailers, this.#ctx?._responseMetadata().trailer, Code.INTERNAL);
      if (error?.metadata) putMetadata(trailers, error.metadata, Code.INTERNAL);
    } catch (err) {
      trailers["grpc-status"] = String(Code.INTERNAL);
      trailers["grpc-message"] = encodeMessage((err as Error).message);
    }
    // Whatever the client still sends is read and dropped, so its flow-control window never stalls.
    stream.resume();
    this.#sent();
    if (!this.#headersSent) {
      this.#headersSent = true;
      // grpc-accept-encoding too: a client whose grpc-encoding was refused learns what to use (compression.md).
      const headers: http2.OutgoingHttpHeaders = { [HTTP2_HEADER_STATUS]: 200, "content-type": this.#contentType, "grpc-accept-encoding": ACCEPT_ENCODING, ...trailers };
      try {
        if (this.#ctx) putMetadata(headers, this.#ctx._responseMetadata().header, Code.INTERNAL);
      } catch {
        // A reserved key in the response header: the status already says what went wrong elsewhere.
      }
      stream.respond(headers, { endStream: true });
      this.#stopClientSending();
      return;
    }
    stream.once("wantTrailers", () => {
      stream.sendTrailers(trailers);
      // 'wantTrailers' runs inside nghttp2's send loop, and node sends RST_STREAM ahead of
      // frames still queued: reset only once the trailers are out.
      setImmediate(() => this.#stopClientSending());
    });
    stream.end();
  }

  /**
   * After the status, a client still sending (an upload the handler did not read to the end,
   * a request cut short by an error) is told to stop: RST_STREAM NO_ERROR (RFC 9113 8.1), so
   * the stream does not stay open on a peer that keeps its side open.
   */
  #stopClientSending(): void {
    const stream = this.#stream;
    if (!stream.closed && !stream.destroyed && stream.state?.remoteClose === 0) stream.close(NGHTTP2_NO_ERROR);
  }
}
