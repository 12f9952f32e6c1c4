// Serves one byte-stream connection: frames in, calls dispatched concurrently, replies in completion order.
import type { Duplex } from "node:stream";
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import { CallContext, type Peer } from "./context.js";
import { BatchWriter } from "./batch-writer.js";
import { debug } from "./debug.js";
import type { CodecSession, Encoded } from "./codec.js";
import type { CallId, RequestEnvelope, ServerInbound } from "./envelope.js";
import type { Framer } from "./framing/framer.js";
import type { Metadata } from "./metadata.js";
import { isLookupFailure, type LookupFailure, type Method } from "./registry.js";

/** What a connection needs from its server. */
export interface Dispatcher {
  readonly maxMessageSize: number;
  readonly maxConcurrentCalls: number;
  /** Finds the method before any work, so unknown names cost nothing; Go's text when missing. */
  resolve(name: string): Method | LookupFailure;
  /** Runs one call; throws or rejects with what the caller should see. */
  dispatch(method: Method, req: RequestEnvelope, ctx: CallContext): unknown;
}

/** An RpcError for whatever a handler threw; `throw undefined` still fails the call. */
function thrown(error: unknown): RpcError {
  return error === undefined || error === null ? new RpcError(Code.UNKNOWN, `rpc: handler threw ${String(error)}`) : RpcError.from(error);
}

const NO_METADATA: Metadata = Object.freeze(Object.create(null)) as Metadata;
/** How long a refused connection may take to read our last words before it is cut. */
const LINGER_MS = 1000;

export class ServerConnection {
  readonly peer: Peer;
  readonly done: Promise<void>;
  readonly #stream: Duplex;
  readonly #codec: CodecSession;
  readonly #framer: Framer;
  readonly #writer: BatchWriter;
  readonly #server: Dispatcher;
  readonly #inflight = new Map<CallId, CallContext>();
  readonly #timers = new Map<CallId, ReturnType<typeof setTimeout>>();
  #draining = false;
  #closed = false;
  #resolveDone!: () => void;

  constructor(server: Dispatcher, stream: Duplex, codec: CodecSession, peer: Peer) {
    this.#server = server;
    this.#stream = stream;
    this.#codec = codec;
    this.peer = peer;
    this.#framer = codec.createFramer(server.maxMessageSize);
    this.#writer = new BatchWriter(stream);
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    stream.on("data", this.#onData);
    stream.on("end", () => this.drain());
    stream.on("error", (err) => this.#teardown(`stream error: ${err.message}`));
    stream.on("close", () => this.#teardown("connection closed"));
    if (stream.destroyed) this.#teardown("connection closed");
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  /** Graceful: refuse new calls, let in-flight ones finish, then end the connection. */
  drain(): void {
    this.#draining = true;
    if (this.#inflight.size === 0) this.#end();
  }

  /** Immediate: cut the connection; in-flight handlers see their signal abort. */
  close(): void {
    this.#stream.destroy();
    this.#teardown("server closed");
  }

  readonly #onData = (chunk: Buffer | string): void => {
    if (this.#stream.writableNeedDrain) {
      // The peer is not reading our replies: stop reading its requests until it does.
      this.#stream.pause();
      this.#stream.once("drain", () => this.#stream.resume());
    }
    try {
      this.#framer.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk, this.#onFrame);
    } catch (err) {
      this.#fail(RpcError.from(err, Code.INTERNAL));
    }
  };

  readonly #onFrame = (frame: Encoded): void => {
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
      case "cancel":
        this.#settle(msg.id, undefined, new RpcError(Code.CANCELLED, "rpc: call cancelled by the client"), true, false);
        return;
      case "invalid":
        this.#reply(msg.id, undefined, new RpcError(msg.error.code, msg.error.message));
        return;
    }
  };

  #onRequest(req: RequestEnvelope): void {
    const { id } = req;
    if (this.#draining) return this.#reply(id, undefined, new RpcError(Code.UNAVAILABLE, "rpc: server is shutting down"));
    if (this.#inflight.has(id)) {
      return this.#reply(id, undefined, new RpcError(Code.INVALID_ARGUMENT, `rpc: call id ${JSON.stringify(id)} is already in flight`));
    }
    if (this.#inflight.size >= this.#server.maxConcurrentCalls) {
      return this.#reply(id, undefined, new RpcError(Code.RESOURCE_EXHAUSTED, `rpc: too many concurrent calls on this connection (maxConcurrentCalls ${this.#server.maxConcurrentCalls})`));
    }
    const method = this.#server.resolve(req.method);
    if (isLookupFailure(method)) return this.#reply(id, undefined, new RpcError(Code.UNIMPLEMENTED, method.message));

    const deadline = req.timeout === undefined ? undefined : Date.now() + req.timeout;
    const ctx = new CallContext(req.method, req.metadata ?? NO_METADATA, deadline, this.peer);
    this.#inflight.set(id, ctx);
    if (req.timeout !== undefined) {
      const ms = req.timeout;
      this.#timers.set(id, setTimeout(() => {
        this.#settle(id, undefined, new RpcError(Code.DEADLINE_EXCEEDED, `rpc: deadline of ${ms} ms exceeded`), true, true);
      }, ms));
    }
    let result: unknown;
    try {
      result = this.#server.dispatch(method, req, ctx);
    } catch (err) {
      this.#settle(id, undefined, err, true, true);
      return;
    }
    if (typeof (result as PromiseLike<unknown> | null)?.then === "function") {
      (result as PromiseLike<unknown>).then(
        (value) => this.#settle(id, value, undefined, false, true),
        (err: unknown) => this.#settle(id, undefined, err, true, true),
      );
    } else {
      this.#settle(id, result, undefined, false, true);
    }
  }

  /** Ends call `id` once: the first of result, error, deadline or cancel wins. `failed` because anything, even undefined, can be thrown. */
  #settle(id: CallId, result: unknown, error: unknown, failed: boolean, reply: boolean): void {
    const ctx = this.#inflight.get(id);
    if (!ctx) return;
    this.#inflight.delete(id);
    if (this.#timers.size > 0) {
      const timer = this.#timers.get(id);
      if (timer !== undefined) {
        clearTimeout(timer);
        this.#timers.delete(id);
      }
    }
    if (failed) {
      error = thrown(error);
      ctx._abort(error);
    }
    if (reply) this.#reply(id, result, failed ? error : undefined);
    if (this.#draining && this.#inflight.size === 0) this.#end();
  }

  #reply(id: CallId, result: unknown, error: unknown): void {
    if (this.#closed) return;
    let out;
    if (error === undefined) {
      try {
        out = this.#codec.encodeResponse({ kind: "response", id, result });
      } catch (err) {
        error = err;
      }
    }
    if (error !== undefined) {
      const e = RpcError.from(error);
      out = this.#codec.encodeResponse({ kind: "response", id, error: { code: e.code, message: e.message } });
    }
    this.#writer.write(this.#framer.frame(out!));
  }

  /** A fault in the stream itself: tell the peer why (id null), then hang up without reading more. */
  #fail(err: RpcError): void {
    if (this.#closed) return;
    debug("closing connection from %s: %s", this.peer.address ?? this.peer.transport, err.message);
    this.#stream.removeListener("data", this.#onData);
    this.#stream.pause();
    this.#writer.write(this.#framer.frame(this.#codec.encodeResponse({ kind: "response", id: null, error: { code: err.code, message: err.message } })));
    this.#writer.flush();
    this.#teardown(err.message);
    const stream = this.#stream;
    const linger = setTimeout(() => stream.destroy(), LINGER_MS);
    linger.unref();
    stream.end(() => {
      clearTimeout(linger);
      stream.destroy();
    });
  }

  #end(): void {
    if (this.#closed) return;
    this.#writer.flush();
    this.#stream.end();
  }

  #teardown(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    const err = new RpcError(Code.CANCELLED, `rpc: ${reason}`);
    for (const ctx of this.#inflight.values()) ctx._abort(err);
    this.#inflight.clear();
    this.#resolveDone();
  }
}
