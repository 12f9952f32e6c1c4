// The gRPC client side on node:http2: one stream per call, over one HTTP/2 session.
import http2 from "node:http2";
import type tls from "node:tls";
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";
import type { CallContext, Peer } from "../../core/context.js";
import type { ClientConnection } from "../../core/connection.js";
import type { RpcRequest } from "../../core/interceptor.js";
import type { Metadata } from "../../core/metadata.js";
import { DEFAULT_CONNECT_TIMEOUT } from "../../core/options.js";
import { MessageReader, framed, type GrpcMessage } from "./frames.js";
import { ACCEPT_ENCODING, compress, decompress } from "./compression.js";
import { codeForHttpStatus, decodeMessage, headerValue, putMetadata, readHeaders } from "./headers.js";
import type { MessageCodec, MethodMessages } from "./messages.js";
import { MessageQueue } from "../../core/message-queue.js";
import { debug } from "../../core/debug.js";
import { KeepalivePinger, TOO_MANY_PINGS, type KeepaliveSettings } from "../../core/keepalive.js";
import { drained } from "./drain.js";
import { encodeTimeout } from "./timeout.js";

const { NGHTTP2_NO_ERROR, NGHTTP2_FLAG_END_STREAM, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INADEQUATE_SECURITY } = http2.constants;
const USER_AGENT = "netrpc-node/0.1";
/** Replies a caller may leave unread before the stream stops reading them. */
const QUEUE_HIGH_WATER = 16;

export interface GrpcDialOptions {
  readonly codec: MessageCodec;
  readonly maxMessageSize: number;
  readonly connectTimeout?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** grpcs://: CA, client certificate and key for mutual TLS, servername, rejectUnauthorized. */
  readonly tls?: tls.ConnectionOptions | undefined;
  /** HTTP/2 PINGs to the server; shared by the connections of one dial (too_many_pings slows them all). */
  readonly keepalive?: KeepaliveSettings | undefined;
}

/** The status of an RST_STREAM with no gRPC status before it (PROTOCOL-HTTP2.md, "Errors"). */
function codeForReset(rstCode: number): Code {
  switch (rstCode) {
    case NGHTTP2_REFUSED_STREAM:
      return Code.UNAVAILABLE;
    case NGHTTP2_CANCEL:
      return Code.CANCELLED;
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return Code.RESOURCE_EXHAUSTED;
    case NGHTTP2_INADEQUATE_SECURITY:
      return Code.PERMISSION_DENIED;
    default:
      return Code.INTERNAL;
  }
}

/** Connects an HTTP/2 session to a grpc:// or grpcs:// URL. */
export function dialGrpc(url: URL, options: GrpcDialOptions): Promise<GrpcClientConnection> {
  const secure = url.protocol === "grpcs:";
  const authority = `${secure ? "https" : "http"}://${url.host}`;
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  return new Promise((resolve, reject) => {
    let session: http2.ClientHttp2Session;
    try {
      session = http2.connect(authority, { ...(secure ? { ...options.tls, ALPNProtocols: ["h2"] } : {}), settings: { enablePush: false } });
    } catch (err) {
      reject(new RpcError(Code.UNAVAILABLE, `rpc: dial ${url.href}: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const fail = (err: RpcError) => {
      cleanup();
      session.destroy();
      reject(err);
    };
    const onError = (err: Error) => fail(new RpcError(Code.UNAVAILABLE, `rpc: dial ${url.href}: ${err.message}`, { cause: err }));
    const onAbort = () => fail(new RpcError(Code.CANCELLED, `rpc: dial ${url.href}: aborted`, { cause: options.signal?.reason }));
    const timer = setTimeout(() => fail(new RpcError(Code.UNAVAILABLE, `rpc: dial ${url.href}: no connection after ${timeout} ms`)), timeout);
    const cleanup = () => {
      clearTimeout(timer);
      session.removeListener("error", onError);
      options.signal?.removeEventListener("abort", onAbort);
    };
    session.once("error", onError);
    session.once("connect", () => {
      cleanup();
      resolve(new GrpcClientConnection(session, url, options));
    });
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Calls over one HTTP/2 session; the session's loss fails every call still running with UNAVAILABLE. */
export class GrpcClientConnection implements ClientConnection {
  readonly closed: Promise<RpcError>;
  readonly peer: Peer;
  readonly #session: http2.ClientHttp2Session;
  readonly #codec: MessageCodec;
  readonly #max: number;
  readonly #calls = new Set<ClientCall>();
  readonly #scheme: string;
  readonly #keepalive: KeepaliveSettings | undefined;
  readonly #pinger: KeepalivePinger | undefined;
  #error: RpcError | undefined;
  #ended = false;
  #resolveClosed!: (err: RpcError) => void;

  constructor(session: http2.ClientHttp2Session, url: URL, options: GrpcDialOptions) {
    this.#session = session;
    this.#codec = options.codec;
    this.#max = options.maxMessageSize;
    this.#scheme = url.protocol === "grpcs:" ? "https" : "http";
    const socket = session.socket;
    this.peer = { transport: "grpc", ...(socket?.remoteAddress ? { address: socket.remoteAddress, port: socket.remotePort ?? 0 } : {}) };
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    session.on("error", (err) => this.#lost(new RpcError(Code.UNAVAILABLE, `rpc: connection lost: ${err.message}`, { cause: err })));
    session.on("close", () => this.#lost(new RpcError(Code.UNAVAILABLE, "rpc: connection lost: closed by the peer")));
    session.on("goaway", (code: number, _lastStreamId: number, data?: Buffer) => this.#onGoaway(code, data));
    this.#keepalive = options.keepalive;
    if (options.keepalive) {
      this.#pinger = new KeepalivePinger(options.keepalive, {
        busy: () => this.#calls.size > 0,
        ping: (acked) => {
          if (session.closed || session.destroyed) return false;
          // The callback also runs, with an error, for a ping the session's end cancelled.
          return session.ping((err) => err || acked());
        },
        dead: (err) => {
          this.#lost(err, true);
          session.destroy();
        },
      });
    }
  }

  /**
   * After GOAWAY NO_ERROR the calls already running finish and new ones must go elsewhere. Any
   * other code ends the session at once (node destroys it), so running calls fail with what it
   * says; ENHANCE_YOUR_CALM "too_many_pings" means our keepalive pings too often for the server,
   * and the next connection pings half as often (A8).
   */
  #onGoaway(code: number, data: Buffer | undefined): void {
    if (code === NGHTTP2_NO_ERROR) {
      this.#error ??= new RpcError(Code.UNAVAILABLE, "rpc: the server is going away (GOAWAY)");
      return;
    }
    const said = data && data.length > 0 ? data.toString("latin1") : "";
    let message = `rpc: the server closed the connection (GOAWAY code ${code}${said ? ` ${JSON.stringify(said)}` : ""})`;
    if (code === NGHTTP2_ENHANCE_YOUR_CALM && said === TOO_MANY_PINGS && this.#keepalive) {
      const was = this.#keepalive.time;
      const next = this.#keepalive.slowDown();
      message += `: pings every ${was} ms (keepaliveTime) are too often for it; the next connection pings every ${next} ms`;
      debug("grpc server refused our pings every %d ms (too_many_pings): keepaliveTime is now %d ms", was, next);
    }
    this.#lost(new RpcError(Code.UNAVAILABLE, message, { fromPeer: true }), true);
  }

  /** Milliseconds between this connection's keepalive pings, doubled for later ones after too_many_pings; undefined without keepalive. */
  get keepaliveTime(): number | undefined {
    return this.#keepalive?.time;
  }

  get pending(): number {
    return this.#calls.size;
  }

  invoke(req: RpcRequest, ctx: CallContext): Promise<unknown> {
    if (this.#error) return Promise.reject(this.#error);
    const messages = this.#codec.forMethod(req.method);
    if (typeof messages === "string") return Promise.reject(new RpcError(Code.UNIMPLEMENTED, messages));
    const dot = req.method.lastIndexOf(".");
    if (dot <= 0 || dot === req.method.length - 1) {
      return Promise.reject(new RpcError(Code.INVALID_ARGUMENT, `rpc: method ${JSON.stringify(req.method)} must be "Service.Method"`));
    }
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":scheme": this.#scheme,
      ":path": `/${req.method.slice(0, dot)}/${req.method.slice(dot + 1)}`,
      "content-type": this.#codec.contentType,
      te: "trailers",
      "user-agent": USER_AGENT,
      "grpc-accept-encoding": ACCEPT_ENCODING,
    };
    if (ctx.deadline !== undefined) {
      const left = ctx.deadline - Date.now();
      if (left <= 0) return Promise.reject(new RpcError(Code.DEADLINE_EXCEEDED, `rpc: ${req.method}: deadline exceeded before the call was sent`));
      headers["grpc-timeout"] = encodeTimeout(left);
    }
    if (ctx._client?.compress) headers["grpc-encoding"] = "gzip";
    try {
      putMetadata(headers, ctx.metadata, Code.INVALID_ARGUMENT);
    } catch (err) {
      return Promise.reject(err);
    }
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.#session.request(headers, { endStream: false });
    } catch (err) {
      return Promise.reject(new RpcError(Code.UNAVAILABLE, `rpc: ${req.method}: cannot start a stream: ${(err as Error).message}`, { cause: err }));
    }
    const call = new ClientCall(stream, req, ctx, messages, this.#max);
    this.#calls.add(call);
    void call.done.then(() => this.#calls.delete(call));
    this.#pinger?.wake();
    return call.result;
  }

  /**
   * The connection has ended: every call still running fails with `err`. `decisive` (a keepalive
   * timeout, the server's GOAWAY with an error) is why it ended, more than a graceful GOAWAY before it.
   */
  #lost(err: RpcError, decisive = false): void {
    if (!this.#ended && decisive) this.#error = err;
    this.#error ??= err;
    this.#ended = true;
    this.#pinger?.stop();
    for (const call of this.#calls) call.fail(err);
    this.#resolveClosed(this.#error);
  }

  close(): void {
    const err = new RpcError(Code.CANCELLED, "rpc: client is closed");
    this.#error ??= err;
    this.#ended = true;
    this.#pinger?.stop();
    for (const call of this.#calls) call.fail(err);
    this.#session.destroy();
    this.#resolveClosed(this.#error);
  }
}

/** One call's stream: writes its requests, reads headers, messages and the status. */
class ClientCall {
  readonly result: Promise<unknown>;
  readonly done: Promise<void>;
  readonly #stream: http2.ClientHttp2Stream;
  readonly #session: http2.Http2Session | undefined;
  readonly #req: RpcRequest;
  readonly #ctx: CallContext;
  readonly #messages: MethodMessages;
  readonly #max: number;
  readonly #reader: MessageReader;
  readonly #streamedOut: boolean;
  #queue: MessageQueue<unknown> | undefined;
  #replies: unknown[] = [];
  #encoding: string | undefined;
  #httpStatus = 0;
  /** The response ended with its HEADERS frame (with or without a grpc-status in it). */
  #headersOnly = false;
  /** We reset the stream after the server had ended its side: its rstCode is our own. */
  #selfReset = false;
  #status: { code: Code; message: string; trailer: Metadata } | undefined;
  #ended = false;
  #resolve!: (value: unknown) => void;
  #reject!: (err: RpcError) => void;
  #resolveDone!: () => void;

  constructor(stream: http2.ClientHttp2Stream, req: RpcRequest, ctx: CallContext, messages: MethodMessages, max: number) {
    this.#stream = stream;
    this.#session = stream.session;
    this.#req = req;
    this.#ctx = ctx;
    this.#messages = messages;
    this.#max = max;
    this.#reader = new MessageReader(max);
    const kind = req.kind ?? "unary";
    this.#streamedOut = kind === "server" || kind === "bidi";
    this.result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.result.catch(() => {});
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    if (this.#streamedOut) {
      const queue = new MessageQueue<unknown>(QUEUE_HIGH_WATER);
      queue.onDrain = () => stream.resume();
      queue.onReturn = () => this.fail(new RpcError(Code.CANCELLED, `rpc: ${req.method}: the caller stopped reading`));
      this.#queue = queue;
      this.#resolve(queue);
    }
    stream.on("response", (headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number, raw: string[] | undefined) => this.#onHeaders(headers, flags, raw));
    stream.on("data", (chunk: Buffer) => this.#onData(chunk));
    stream.on("trailers", (trailers, _flags, raw: string[] | undefined) => this.#onTrailers(trailers, raw));
    // The server has sent everything (its status included) and it has all been read: settle now,
    // even if our side is still sending; the reset stops a request stream nobody will read.
    stream.on("end", () => {
      // Our side has ended too (every unary and server-streaming call): 'close' follows by itself.
      // Resetting such streams would look like a rapid-reset attack, and servers (node's among
      // them) answer a thousand of those with GOAWAY.
      if (stream.destroyed || stream.writableEnded) return;
      this.#selfReset = true;
      // Closed by the server's RST_STREAM: node waits for our writable side to finish before
      // it emits 'close', which a blocked upload never does.
      if (stream.closed) stream.destroy();
      else stream.close(NGHTTP2_CANCEL);
    });
    stream.on("error", () => {}); // the 'close' that follows says what happened
    stream.on("close", () => this.#onClose());
    if (ctx._cancellable) ctx._onAbort((reason) => this.fail(RpcError.from(reason, Code.CANCELLED)));
    if (kind === "client" || kind === "bidi") void this.#pump(req.params);
    else this.#send(req.params, true);
  }

  /** Writes one request; true when the stream can take more now. */
  #send(value: unknown, last: boolean): boolean {
    let data: Uint8Array;
    try {
      data = this.#messages.encodeRequest(value);
    } catch (err) {
      this.fail(new RpcError(Code.INVALID_ARGUMENT, `rpc: ${this.#req.method}: cannot encode request: ${(err as Error).message}`, { cause: err }));
      return false;
    }
    const compressed = this.#ctx._client?.compress === true;
    if (compressed) data = compress(data);
    const [first, rest] = framed(data, compressed);
    if (rest === undefined) return last ? (this.#stream.end(first), true) : this.#stream.write(first);
    this.#stream.write(first);
    return last ? (this.#stream.end(rest), true) : this.#stream.write(rest);
  }

  async #pump(requests: unknown): Promise<void> {
    const source = requests as AsyncIterable<unknown> | Iterable<unknown> | null | undefined;
    if (source === null || source === undefined || (typeof source !== "object" && typeof source !== "function") || !(Symbol.asyncIterator in source || Symbol.iterator in source)) {
      this.fail(new RpcError(Code.INVALID_ARGUMENT, `rpc: ${this.#req.method}: requests must be an iterable or async iterable`));
      return;
    }
    try {
      for await (const value of source) {
        if (this.#ended || this.#stream.destroyed) return;
        if (!this.#send(value, false)) await drained(this.#stream);
      }
      if (!this.#ended && !this.#stream.destroyed) this.#stream.end();
    } catch (err) {
      this.fail(RpcError.from(err, Code.CANCELLED));
    }
  }

  #onHeaders(headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number, raw: string[] | undefined): void {
    this.#httpStatus = Number(headers[":status"] ?? 0);
    this.#headersOnly = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    this.#encoding = headerValue(headers, "grpc-encoding");
    if (headers["grpc-status"] !== undefined) {
      // Trailers-only: the status came in the only HEADERS frame.
      this.#onTrailers(headers, raw);
      return;
    }
    if (this.#httpStatus !== 200) return;
    const contentType = headerValue(headers, "content-type") ?? "";
    if (!contentType.startsWith("application/grpc")) {
      this.fail(new RpcError(Code.UNKNOWN, `rpc: ${this.#req.method}: the server replied with content-type ${JSON.stringify(contentType)}, not gRPC`, { fromPeer: true }));
      return;
    }
    const hook = this.#ctx._client?.onHeader;
    if (hook) this.#safely(() => hook(readHeaders(headers, undefined, raw)));
  }

  #onData(chunk: Buffer): void {
    if (this.#ended) return;
    if (this.#httpStatus !== 200) return; // a non-gRPC body: the status says what went wrong
    try {
      this.#reader.push(chunk, this.#onMessage);
    } catch (err) {
      this.fail(RpcError.from(err, Code.INTERNAL));
    }
  }

  readonly #onMessage = (message: GrpcMessage): void => {
    const data = message.compressed ? decompress(message.data, this.#encoding, this.#max) : message.data;
    let value: unknown;
    try {
      value = this.#messages.decodeResponse(data);
    } catch (err) {
      throw new RpcError(Code.INTERNAL, `rpc: ${this.#req.method}: cannot decode reply: ${(err as Error).message}`, { cause: err });
    }
    if (this.#queue) {
      if (!this.#queue.push(value)) this.#stream.pause();
    } else this.#replies.push(value);
  };

  #onTrailers(trailers: http2.IncomingHttpHeaders, fields: string[] | undefined): void {
    const raw = headerValue(trailers, "grpc-status");
    const code = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : Code.UNKNOWN;
    const message = decodeMessage(headerValue(trailers, "grpc-message") ?? "");
    this.#status = { code: code > 16 ? Code.UNKNOWN : code, message: raw === undefined ? "rpc: the server sent trailers without grpc-status" : message, trailer: readHeaders(trailers, undefined, fields) };
  }

  /** The stream is gone: settle with the status, or with what the stream's end says. */
  #onClose(): void {
    this.#resolveDone();
    if (this.#ended) return;
    const status = this.#status;
    if (!status) {
      // No grpc-status at all: the HTTP status says what happened (200 there is UNKNOWN), http-grpc-status-mapping.md.
      if (this.#httpStatus !== 0 && (this.#httpStatus !== 200 || this.#headersOnly)) {
        return this.fail(new RpcError(codeForHttpStatus(this.#httpStatus), `rpc: ${this.#req.method}: HTTP status ${this.#httpStatus} without a gRPC status`, { fromPeer: true }));
      }
      if (this.#session?.destroyed) {
        // The connection went down under the stream (the session 'close' that follows may come later):
        // nothing the peer said, so raised here, as on every other transport.
        return this.fail(new RpcError(Code.UNAVAILABLE, `rpc: ${this.#req.method}: connection lost`));
      }
      const rst = this.#selfReset ? 0 : (this.#stream.rstCode ?? 0);
      const code = rst === 0 ? Code.INTERNAL : codeForReset(rst);
      return this.fail(new RpcError(code, `rpc: ${this.#req.method}: the stream ended without a status${rst ? ` (RST_STREAM code ${rst})` : ""}`, { fromPeer: true }));
    }
    const hook = this.#ctx._client?.onTrailer;
    if (hook) this.#safely(() => hook(status.trailer));
    if (status.code !== Code.OK) {
      return this.fail(new RpcError(status.code, status.message || `rpc: ${this.#req.method} failed with status ${status.code}`, { fromPeer: true, metadata: status.trailer }));
    }
    this.#ended = true;
    if (this.#queue) return this.#queue.end();
    if (this.#replies.length !== 1) {
      this.#reject(new RpcError(Code.INTERNAL, `rpc: ${this.#req.method}: a unary call got ${this.#replies.length} replies`, { fromPeer: true }));
      return;
    }
    this.#resolve(this.#replies[0]);
  }

  /** A hook the caller gave must not break the call. */
  #safely(fn: () => void): void {
    try {
      fn();
    } catch {
      // The caller's own callback threw; the call goes on.
    }
  }

  /** Ends the call with `err` and cancels the stream if it is still open. */
  fail(err: RpcError): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#stream.closed && !this.#stream.destroyed) this.#stream.close(NGHTTP2_CANCEL);
    this.#ctx._abort(err);
    if (this.#queue) this.#queue.fail(err);
    else this.#reject(err);
  }
}
