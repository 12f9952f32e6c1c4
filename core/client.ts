// The Client: call("Service.Method", params) with deadlines, cancellation, metadata and interceptors.
import type { Duplex } from "node:stream";
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import { CallContext, type Peer } from "./context.js";
import { compose, type Next } from "./interceptor.js";
import { checkMetadata, type Metadata } from "./metadata.js";
import { StreamClientConnection } from "./client-conn.js";
import { checkClientOptions, type CallOptions, type ClientOptions } from "./call-options.js";
import { durationOption } from "./options.js";
import { serviceProxy, type ServiceProxy } from "./service-proxy.js";
import { json } from "../codecs/json.js";

function deadlineError(method: string, timeout: number): RpcError {
  return new RpcError(Code.DEADLINE_EXCEEDED, `rpc: ${method}: deadline of ${timeout} ms exceeded`);
}

function abortError(method: string, reason: unknown): RpcError {
  const timedOut = (reason as { name?: unknown } | null)?.name === "TimeoutError";
  return timedOut
    ? new RpcError(Code.DEADLINE_EXCEEDED, `rpc: ${method}: deadline exceeded (signal timed out)`, { cause: reason })
    : new RpcError(Code.CANCELLED, `rpc: ${method}: cancelled by the caller`, { cause: reason });
}

export class Client {
  /** Settles (never rejects) with why the connection ended: CANCELLED after close(), UNAVAILABLE when lost. */
  readonly closed: Promise<RpcError>;
  readonly peer: Peer | undefined;
  readonly #conn: StreamClientConnection;
  readonly #timeout: number | undefined;
  readonly #send: Next;

  /** Wraps a connected stream (as Go's rpc.NewClient); dial() is the usual way in. */
  constructor(stream: Duplex, options: ClientOptions = {}) {
    const max = checkClientOptions(options);
    this.#timeout = options.timeout;
    this.peer = options.peer;
    const codec = options.codec ?? json;
    this.#conn = new StreamClientConnection(stream, codec.fork(), codec.name, max);
    this.closed = this.#conn.closed;
    const interceptors = [...(options.interceptors ?? [])];
    const send: Next = (req, ctx) => this.#conn.invoke(req, ctx);
    // Interceptors are user code: whatever they throw or reject with reaches the caller as an RpcError.
    const chain = compose(interceptors, send);
    this.#send = interceptors.length === 0 ? send : (req, ctx) => {
      try {
        return chain(req, ctx).then(undefined, (err: unknown) => Promise.reject(RpcError.from(err)));
      } catch (err) {
        return Promise.reject(RpcError.from(err));
      }
    };
  }

  /** Calls "Service.Method" with params; resolves with the result or rejects with an RpcError. */
  call<R = unknown>(method: string, params?: unknown, options: CallOptions = {}): Promise<R> {
    let timeout: number | undefined;
    let metadata: Metadata;
    try {
      timeout = durationOption("timeout", options.timeout) ?? this.#timeout;
      metadata = options.metadata ? checkMetadata(options.metadata) : {};
    } catch (err) {
      return Promise.reject(RpcError.from(err, Code.INVALID_ARGUMENT));
    }
    const ctx = new CallContext(method, metadata, timeout === undefined ? undefined : Date.now() + timeout, this.peer);
    const signal = options.signal;
    if (timeout === undefined && !signal) {
      // Nothing but the connection can end this call early: skip the abort plumbing.
      ctx._cancellable = false;
      return this.#send({ method, params }, ctx) as Promise<R>;
    }
    if (signal?.aborted) return Promise.reject(abortError(method, signal.reason));

    return new Promise<R>((resolve, reject) => {
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => fail(abortError(method, signal!.reason));
      const settle = () => {
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      // A deadline or an abort rejects at once; aborting ctx tells the connection to send a cancel.
      const fail = (err: RpcError) => {
        if (settled) return;
        settle();
        ctx._abort(err);
        reject(err);
      };
      if (timeout !== undefined) timer = setTimeout(() => fail(deadlineError(method, timeout)), timeout);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#send({ method, params }, ctx).then(
        (value) => {
          if (settled) return;
          settle();
          resolve(value as R);
        },
        (err: unknown) => {
          if (settled) return;
          settle();
          reject(RpcError.from(err));
        },
      );
    });
  }

  /** A typed stub: `client.service<UserServer>("UserServer").GetUser({ id: "1" })`. */
  service<T extends object>(name: string): ServiceProxy<T> {
    return serviceProxy<T>(name, (method, params, options) => this.call(method, params, options));
  }

  /** Calls waiting for replies. */
  get pending(): number {
    return this.#conn.pending;
  }

  /** Closes the connection; pending and later calls fail with CANCELLED "rpc: client is closed". Idempotent. */
  async close(): Promise<void> {
    this.#conn.close();
    await this.#conn.closed;
  }
}
