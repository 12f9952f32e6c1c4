// Serves one byte-stream connection: frames in, calls dispatched concurrently, replies in completion order.
import type { Duplex } from "node:stream";
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import { CallContext, type Peer } from "./context.js";
import { BatchWriter } from "./batch-writer.js";
import { debug } from "./debug.js";
import { timerDelay } from "./options.js";
import type { CodecSession, Encoded } from "./codec.js";
import { STREAM_WINDOW, type CallId, type RequestEnvelope, type ServerInbound } from "./envelope.js";
import type { Framer } from "./framing/framer.js";
import { MessageFramer } from "./framing/message.js";
import { ServerStream, isIterable } from "./server-stream.js";
import { PingPolicy, TOO_MANY_PINGS, type PingPolicyOptions } from "./keepalive.js";
import { metadataFromText, type Metadata } from "./metadata.js";
import { isLookupFailure, type LookupFailure, type Method } from "./registry.js";

/** What a connection needs from its server. */
export interface Dispatcher {
  readonly maxMessageSize: number;
  readonly maxConcurrentCalls: number;
  /** How often a client may ping (keepaliveMinTime, keepalivePermitWithoutCalls, maxPingStrikes). */
  readonly pingPolicy: PingPolicyOptions;
  /** Finds the method before any work, so unknown names cost nothing; Go's text when missing. */
  resolve(name: string): Method | LookupFailure;
  /** Runs one call; throws or rejects with what the caller should see. */
  dispatch(method: Method, req: RequestEnvelope, ctx: CallContext): unknown;
}

/** How long a connection we ended may stay open on the peer's side before it is cut. */
const LINGER_MS = 1000;
/** How long a gracefully ended connection may take to read its last replies. */
const FLUSH_TIMEOUT_MS = 30_000;
/**
 * Reply bytes a connection may have queued before we stop reading its requests: a peer that
 * sends without reading holds at most this much, plus the replies of calls already running.
 */
const WRITE_BACKLOG_LIMIT = 1 << 20;

/** An RpcError for whatever a handler threw; `throw undefined` still fails the call. */
function thrown(error: unknown): RpcError {
  return error === undefined || error === null ? new RpcError(Code.UNKNOWN, `rpc: handler threw ${String(error)}`) : RpcError.from(error);
}

export class ServerConnection {
  readonly peer: Peer;
  /** Settles when the stream has closed (not merely when we stopped serving it). */
  readonly done: Promise<void>;
  readonly #stream: Duplex;
  readonly #codec: CodecSession;
  readonly #framer: Framer;
  readonly #writer: BatchWriter;
  readonly #server: Dispatcher;
  /** Calls still owed a reply, by id; the context tells a reused id's new call from the old one. */
  readonly #inflight = new Map<CallId, CallContext>();
  readonly #timers = new Map<CallId, ReturnType<typeof setTimeout>>();
  /** Streaming calls still owed a reply, by id: their request queue and reply credit. */
  readonly #streams = new Map<CallId, ServerStream>();
  /** Handlers that have not returned, answered or not: a cancelled handler still holds its slot. */
  #running = 0;
  /** Frames read while the peer was not reading our replies, handled once it drains. */
  #backlog: Encoded[] | undefined;
  #backlogAt = 0;
  #waitingForDrain = false;
  /** The peer ended its side: serve what it sent (backlog included), then end ours. */
  #peerEnded = false;
  #draining = false;
  /** close() was called: nobody waits for abandoned handlers any more. */
  #abandoned = false;
  #ending = false;
  #closed = false;
  #resolveDone!: () => void;
  #idleWaiters: Array<() => void> = [];
  /** Made at the first ping: most connections never ping. */
  #pings: PingPolicy | undefined;
  #drainWait: Promise<void> | undefined;

  constructor(server: Dispatcher, stream: Duplex, codec: CodecSession, peer: Peer) {
    this.#server = server;
    this.#stream = stream;
    this.#codec = codec;
    this.peer = peer;
    // An objectMode stream (a WebSocket) carries whole messages: no framing, only the limit.
    this.#framer = stream.readableObjectMode ? new MessageFramer(server.maxMessageSize) : codec.createFramer(server.maxMessageSize);
    this.#writer = new BatchWriter(stream);
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    // A peer that half-closes after its last request still gets the replies (Duplex documents this as settable).
    stream.allowHalfOpen = true;
    stream.on("data", this.#onData);
    stream.on("end", () => {
      this.#peerEnded = true;
      if (!this.#backlog) this.#finish();
    });
    stream.on("error", (err) => this.#teardown(`stream error: ${err.message}`));
    stream.on("close", this.#onClose);
    if (stream.destroyed) this.#onClose();
    // Codec detection leaves the stream paused; 'data' listeners do not undo an explicit pause.
    else stream.resume();
  }

  /**
   * Graceful, for the server's shutdown: refuse new calls, let running handlers finish, then end
   * the connection. Frames still waiting behind a slow reader are handled now: requests among
   * them are refused (UNAVAILABLE), and the half-closes, messages and credit of running streams
   * reach them, or those streams could never end. The backlog is at most what one read held.
   */
  drain(): void {
    this.#draining = true;
    const backlog = this.#backlog;
    const at = this.#backlogAt;
    this.#backlog = undefined;
    this.#backlogAt = 0;
    if (backlog) for (let i = at; i < backlog.length; i++) this.#handle(backlog[i]!);
    this.#finish();
  }

  /** No more calls: end the connection once running handlers have returned. */
  #finish(): void {
    this.#draining = true;
    this.#endIfIdle();
  }

  /** Handlers running now. */
  get running(): number {
    return this.#running;
  }

  /** Settles once the connection has closed and every handler it started has returned (or close() gave up on them). */
  idle(): Promise<void> {
    return this.done.then(() => (this.#running === 0 || this.#abandoned ? undefined : new Promise<void>((resolve) => this.#idleWaiters.push(resolve))));
  }

  /** Immediate: cut the connection; in-flight handlers see their signal abort, and nobody waits for them. */
  close(): void {
    this.#abandoned = true;
    this.#stream.destroy();
    this.#teardown("server closed");
    this.#wakeIfIdle();
  }

  readonly #onClose = (): void => {
    this.#teardown("connection closed");
    this.#resolveDone();
    this.#wakeIfIdle();
  };

  readonly #onData = (chunk: Buffer | string): void => {
    try {
      this.#framer.push(typeof chunk === "string" && !this.#stream.readableObjectMode ? Buffer.from(chunk) : (chunk as Buffer), this.#onFrame);
    } catch (err) {
      this.#fail(RpcError.from(err, Code.INTERNAL));
    }
  };

  readonly #onFrame = (frame: Encoded): void => {
    if (this.#backlog) this.#backlog.push(frame);
    else if (this.#congested()) {
      this.#backlog = [frame];
      this.#waitForDrain();
    } else this.#handle(frame);
  };

  #congested(): boolean {
    // A message stream (WebSocket) counts messages, not bytes: it says itself when it is backed up.
    if (this.#stream.writableObjectMode) return this.#stream.writableNeedDrain || this.#writer.queued >= WRITE_BACKLOG_LIMIT;
    // Never below the stream's own high-water mark: past it, write() has asked for 'drain'.
    const limit = Math.max(WRITE_BACKLOG_LIMIT, this.#stream.writableHighWaterMark);
    return this.#writer.queued + this.#stream.writableLength >= limit;
  }

  /** The peer is not reading our replies: stop reading its requests until it does. */
  #waitForDrain(): void {
    if (this.#waitingForDrain || this.#closed) return;
    this.#stream.pause();
    this.#writer.flush();
    if (this.#stream.writableEnded) {
      // Nothing more can be written: the backlog can never be answered.
      this.#backlog = undefined;
      return;
    }
    this.#waitingForDrain = true;
    const resume = () => {
      this.#waitingForDrain = false;
      this.#pumpBacklog();
    };
    // After the flush, congestion means the stream is past its high-water mark, so 'drain' will come.
    if (this.#congested()) this.#stream.once("drain", resume);
    else setImmediate(resume);
  }

  #pumpBacklog(): void {
    const backlog = this.#backlog;
    while (backlog && this.#backlogAt < backlog.length) {
      if (this.#closed) return;
      if (this.#congested()) return this.#waitForDrain();
      this.#handle(backlog[this.#backlogAt++]!);
    }
    this.#backlog = undefined;
    this.#backlogAt = 0;
    if (this.#closed) return;
    if (this.#peerEnded) this.#finish();
    else this.#stream.resume();
  }

  #handle(frame: Encoded): void {
    if (this.#closed) return;
    let msg: ServerInbound;
    try {
      msg = this.#codec.decodeRequest(frame);
    } catch (err) {
      this.#fail(RpcError.from(err, Code.INVALID_ARGUMENT));
      return;
    }
    switch (msg.kind) {
      case "request":
        this.#onRequest(msg);
        return;
      case "cancel": {
        const ctx = this.#inflight.get(msg.id);
        if (ctx) this.#failCall(msg.id, ctx, new RpcError(Code.CANCELLED, "rpc: call cancelled by the client"), false);
        return;
      }
      case "invalid": {
        // A bad message of an open stream fails that call; otherwise the frame was a bad request.
        const ctx = this.#streams.has(msg.id) ? this.#inflight.get(msg.id) : undefined;
        if (ctx) this.#failCall(msg.id, ctx, new RpcError(msg.error.code, msg.error.message), true);
        else this.#reply(msg.id, undefined, new RpcError(msg.error.code, msg.error.message));
        return;
      }
      case "ping":
        return this.#onPing(msg.id);
      case "pong":
        return;
      case "message":
      case "end":
      case "credit": {
        // Envelopes for a call that has ended (cancelled, timed out, answered) are dropped.
        const stream = this.#streams.get(msg.id);
        const ctx = this.#inflight.get(msg.id);
        if (!stream || !ctx) return;
        const problem = msg.kind === "message" ? stream.request(msg.payload) : msg.kind === "end" ? stream.end() : stream.grant(msg.credit);
        if (problem) this.#failCall(msg.id, ctx, problem, true);
        return;
      }
    }
  }

  /** Answers a client's keepalive ping at once, unless it pings more often than the server allows (gRPC's A8 enforcement). */
  #onPing(seq: number): void {
    const policy = (this.#pings ??= new PingPolicy(this.#server.pingPolicy));
    if (policy.received(this.#running)) {
      const { minTime, permitWithoutCalls } = this.#server.pingPolicy;
      // UNAVAILABLE, as a GOAWAY is to gRPC clients: the calls may go elsewhere, and the client should ping less.
      this.#fail(new RpcError(Code.UNAVAILABLE, `rpc: ${TOO_MANY_PINGS}: this server takes pings at most every ${minTime} ms${permitWithoutCalls ? "" : ", and only while calls run"}`));
      return;
    }
    try {
      this.#writer.write(this.#framer.frame(this.#codec.encodePing(seq, true)));
    } catch (err) {
      this.#fail(RpcError.from(err, Code.INTERNAL));
    }
  }

  #onRequest(req: RequestEnvelope): void {
    const { id } = req;
    if (this.#draining) return this.#reply(id, undefined, new RpcError(Code.UNAVAILABLE, "rpc: server is shutting down"));
    if (this.#inflight.has(id)) {
      return this.#reply(id, undefined, new RpcError(Code.INVALID_ARGUMENT, `rpc: call id ${JSON.stringify(id)} is already in flight`));
    }
    if (this.#running >= this.#server.maxConcurrentCalls) {
      return this.#reply(id, undefined, new RpcError(Code.RESOURCE_EXHAUSTED, `rpc: too many concurrent calls on this connection (maxConcurrentCalls ${this.#server.maxConcurrentCalls})`));
    }
    const method = this.#server.resolve(req.method);
    if (isLookupFailure(method)) return this.#reply(id, undefined, new RpcError(Code.UNIMPLEMENTED, method.message));
    const streamedIn = method.kind === "client" || method.kind === "bidi";
    if (req.stream && !streamedIn) {
      return this.#reply(id, undefined, new RpcError(Code.UNIMPLEMENTED, `rpc: ${method.name} takes one request, not a stream (it is a ${method.kind === "unary" ? "unary" : "server-streaming"} method)`));
    }

    const deadline = req.timeout === undefined ? undefined : Date.now() + req.timeout;
    const metadata = req.metadata ? metadataFromText(req.metadata) : (Object.create(null) as Metadata);
    const ctx = new CallContext(req.method, metadata, deadline, this.peer);
    this.#inflight.set(id, ctx);
    this.#running++;
    if (req.timeout !== undefined) {
      const ms = req.timeout;
      const timer = setTimeout(() => this.#failCall(id, ctx, new RpcError(Code.DEADLINE_EXCEEDED, `rpc: deadline of ${ms} ms exceeded`), true), timerDelay(ms));
      this.#timers.set(id, timer);
    }
    if (method.kind !== "unary") return this.#onStream(method, req, ctx, streamedIn);
    try {
      const result = this.#server.dispatch(method, req, ctx);
      if (result instanceof Promise) {
        result.then((value) => this.#returned(id, ctx, value), (err: unknown) => this.#threw(id, ctx, err));
      } else if (typeof (result as PromiseLike<unknown> | null)?.then === "function") {
        // A foreign thenable: let a real promise adopt it, so a throwing then() is just a rejection.
        Promise.resolve(result).then((value) => this.#returned(id, ctx, value), (err: unknown) => this.#threw(id, ctx, err));
      } else {
        this.#returned(id, ctx, result);
      }
    } catch (err) {
      this.#threw(id, ctx, err);
    }
  }

  /** A streaming call: requests from "message" envelopes, replies sent as the client's credit allows. */
  #onStream(method: Method, req: RequestEnvelope, ctx: CallContext, streamedIn: boolean): void {
    const { id } = req;
    const streamedOut = method.kind === "server" || method.kind === "bidi";
    const stream = new ServerStream(ctx, STREAM_WINDOW);
    this.#streams.set(id, stream);
    let params = req.params;
    if (streamedIn) {
      const requests = stream.openRequests((credit) => this.#send(id, ctx, () => this.#codec.encodeCredit(id, credit)));
      // A plain request to a client-streaming method is a stream of that one request.
      if (!req.stream) {
        stream.request(req.params);
        stream.end();
      }
      params = requests;
    }
    Promise.resolve()
      .then(() => this.#server.dispatch(method, { ...req, params }, ctx))
      .then((result) => (streamedOut ? this.#sendAll(id, ctx, stream, result) : result))
      .then((value) => this.#returned(id, ctx, streamedOut ? undefined : value), (err: unknown) => this.#threw(id, ctx, err))
      .finally(() => {
        if (this.#streams.get(id) === stream) this.#streams.delete(id);
      });
  }

  /** Sends a handler's replies, each when the client has credit for it and the socket is not backed up. */
  async #sendAll(id: CallId, ctx: CallContext, stream: ServerStream, result: unknown): Promise<void> {
    if (!isIterable(result)) throw new RpcError(Code.INTERNAL, `rpc: ${ctx.method} streams its replies but its handler returned no iterable`);
    const it = Symbol.asyncIterator in result ? result[Symbol.asyncIterator]() : result[Symbol.iterator]();
    let done = false;
    try {
      for (;;) {
        const next = await it.next();
        if (next.done) {
          done = true;
          return;
        }
        if (!(await stream.sendable())) return;
        if (this.#congested()) await this.#drained();
        if (this.#inflight.get(id) !== ctx) return;
        let frame: Encoded;
        try {
          frame = this.#codec.encodeMessage(id, ctx.method, next.value, false);
        } catch (err) {
          throw RpcError.from(err, Code.INTERNAL);
        }
        stream.sent();
        // Data forgives pings, as DATA frames do on HTTP/2.
        this.#pings?.sent();
        this.#writer.write(this.#framer.frame(frame));
      }
    } finally {
      if (!done) await it.return?.();
    }
  }

  /** Resolves once the socket has taken our queued bytes (or closed); one wait shared by every stream of the connection. */
  #drained(): Promise<void> {
    this.#writer.flush();
    if (!this.#congested() || this.#closed) return Promise.resolve();
    return (this.#drainWait ??= new Promise((resolve) => {
      const done = () => {
        this.#stream.removeListener("drain", done);
        this.#stream.removeListener("close", done);
        this.#drainWait = undefined;
        resolve();
      };
      this.#stream.once("drain", done);
      this.#stream.once("close", done);
    }));
  }

  /** Writes an envelope for call `id` while it is still owed a reply. */
  #send(id: CallId, ctx: CallContext, encode: () => Encoded): void {
    if (this.#closed || this.#inflight.get(id) !== ctx) return;
    try {
      this.#writer.write(this.#framer.frame(encode()));
    } catch (err) {
      this.#failCall(id, ctx, RpcError.from(err, Code.INTERNAL), true);
    }
  }

  #returned(id: CallId, ctx: CallContext, value: unknown): void {
    this.#running--;
    if (this.#take(id, ctx)) this.#reply(id, value, undefined);
    this.#endIfIdle();
  }

  #threw(id: CallId, ctx: CallContext, err: unknown): void {
    this.#running--;
    this.#failCall(id, ctx, thrown(err), true);
    this.#endIfIdle();
  }

  /** Ends call `id` with an error (thrown, deadline or cancel) if it is still owed a reply. */
  #failCall(id: CallId, ctx: CallContext, error: RpcError, reply: boolean): void {
    if (!this.#take(id, ctx)) return;
    ctx._abort(error);
    if (reply) this.#reply(id, undefined, error);
  }

  /** Removes the call if `ctx` is still the one owed a reply under `id`: the first outcome wins. */
  #take(id: CallId, ctx: CallContext): boolean {
    if (this.#inflight.get(id) !== ctx) return false;
    this.#inflight.delete(id);
    if (this.#timers.size > 0) {
      const timer = this.#timers.get(id);
      if (timer !== undefined) {
        clearTimeout(timer);
        this.#timers.delete(id);
      }
    }
    return true;
  }

  #reply(id: CallId, result: unknown, error: RpcError | undefined): void {
    if (this.#closed) return;
    // Replies forgive pings, as data frames do on HTTP/2.
    this.#pings?.sent();
    let out: Encoded | undefined;
    if (error === undefined) {
      try {
        out = this.#codec.encodeResponse({ kind: "response", id, result });
      } catch (err) {
        error = RpcError.from(err, Code.INTERNAL);
      }
    }
    try {
      if (error !== undefined) out = this.#codec.encodeResponse({ kind: "response", id, error: { code: error.code, message: error.message } });
      this.#writer.write(this.#framer.frame(out!));
    } catch (err) {
      this.#cut(`cannot encode even an error reply: ${(err as Error).message}`);
    }
  }

  /** The codec is broken for this connection: close it without last words. */
  #cut(reason: string): void {
    debug("cutting connection from %s: %s", this.peer.address ?? this.peer.transport, reason);
    this.#stream.destroy();
    this.#teardown(reason);
  }

  #endIfIdle(): void {
    if (this.#running === 0 && this.#draining && !this.#backlog && !this.#closed) this.#hangUp();
    this.#wakeIfIdle();
  }

  #wakeIfIdle(): void {
    if ((this.#running === 0 || this.#abandoned) && this.#stream.destroyed) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /** A fault in the stream itself: tell the peer why (id null), then hang up without reading more. */
  #fail(err: RpcError): void {
    if (this.#closed || this.#ending) return;
    debug("closing connection from %s: %s", this.peer.address ?? this.peer.transport, err.message);
    this.#stream.removeListener("data", this.#onData);
    this.#stream.pause();
    this.#backlog = undefined;
    try {
      this.#writer.write(this.#framer.frame(this.#codec.encodeResponse({ kind: "response", id: null, error: { code: err.code, message: err.message } })));
    } catch (encodeError) {
      return this.#cut(`${err.message}; and cannot encode it: ${(encodeError as Error).message}`);
    }
    this.#hangUp(LINGER_MS);
    this.#teardown(err.message);
  }

  /**
   * Ends our side after the queued replies. `flushMs` is how long the peer may take to read
   * them (a slow reader gets its replies; one that never reads is cut); once they are all
   * handed over, a peer that keeps its side open (as Go's client does) is cut after LINGER_MS.
   */
  #hangUp(flushMs = FLUSH_TIMEOUT_MS): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#writer.flush();
    const stream = this.#stream;
    // Not unref'd: the socket is paused and would never notice the peer's FIN by itself.
    let timer = setTimeout(() => stream.destroy(), flushMs);
    stream.once("finish", () => {
      clearTimeout(timer);
      timer = setTimeout(() => stream.destroy(), LINGER_MS);
    });
    stream.once("close", () => clearTimeout(timer));
    stream.end();
  }

  #teardown(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    const err = new RpcError(Code.CANCELLED, `rpc: ${reason}`);
    for (const ctx of this.#inflight.values()) ctx._abort(err);
    this.#inflight.clear();
  }
}
