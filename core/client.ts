// The Client: call("Service.Method", params) with deadlines, cancellation, metadata and interceptors.
import type { Duplex } from "node:stream";
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import { CallContext, type Peer } from "./context.js";
import { compose, type Interceptor, type Next } from "./interceptor.js";
import { readMetadata, type Metadata } from "./metadata.js";
import { StreamClientConnection } from "./client-conn.js";
import { DEFAULT_MAX_MESSAGE_SIZE, MAX_MESSAGE_LIMIT, intOption } from "./options.js";
import type { Codec } from "./codec.js";
import { json } from "../codecs/json.js";

export interface CallOptions {
  /** Aborting rejects the call at once with CANCELLED and aborts the server handler's signal. */
  signal?: AbortSignal;
  /** Milliseconds before the call fails with DEADLINE_EXCEEDED; sent to the server as its deadline. */
  timeout?: number;
  /** Sent with the call; keys [0-9a-z_.-]+, values strings or arrays of strings. */
  metadata?: Metadata;
}

export interface ClientOptions {
  /** Default JSON. */
  codec?: Codec;
  /** Largest reply accepted, in bytes; default 4 MiB. A larger one ends the connection. */
  maxMessageSize?: number;
  /** Run around every call, the first outermost. */
  interceptors?: Interceptor[];
  /** Default timeout for calls that set none; default none. */
  timeout?: number;
  /** Who the client is connected to (set by dial). */
  peer?: Peer;
}

type AnyFn = (...args: any[]) => any;

/** A typed stub for one method: params in, the handler's awaited result out. */
export type ProxyMethod<F> = F extends (...args: infer A) => infer R
  ? A extends []
    ? (params?: undefined, options?: CallOptions) => Promise<Awaited<R>>
    : (params: A[0], options?: CallOptions) => Promise<Awaited<R>>
  : never;

/** A typed stub for a server class, built without code generation: `client.service<UserServer>("UserServer")`. */
export type ServiceProxy<T> = {
  readonly [K in keyof T as K extends keyof Object | "then" | "toJSON" | `_${string}` ? never : T[K] extends AnyFn ? K : never]: ProxyMethod<T[K]>;
};

/** Names a proxy never forwards: what JSON.stringify, String(), await and inspectors look for. */
const NOT_METHODS = new Set(["then", "toJSON", "inspect", ...Object.getOwnPropertyNames(Object.prototype)]);

/** Validates client options before anything connects; returns the receive limit. */
export function checkClientOptions(options: ClientOptions): number {
  if (options.timeout !== undefined && !(options.timeout >= 0)) throw new RangeError(`rpc: option timeout must be a non-negative number of ms, got ${String(options.timeout)}`);
  return intOption("maxMessageSize", options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 1, MAX_MESSAGE_LIMIT);
}

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
  readonly #interceptors: Interceptor[];
  readonly #timeout: number | undefined;
  readonly #send: Next;

  /** Wraps a connected stream (as Go's rpc.NewClient); dial() is the usual way in. */
  constructor(stream: Duplex, options: ClientOptions = {}) {
    const max = checkClientOptions(options);
    this.#timeout = options.timeout;
    this.peer = options.peer;
    this.#conn = new StreamClientConnection(stream, (options.codec ?? json).fork(), max);
    this.closed = this.#conn.closed;
    this.#interceptors = [...(options.interceptors ?? [])];
    const send: Next = (req, ctx) => this.#conn.invoke(req, ctx);
    // Interceptors are user code: whatever they throw or reject with reaches the caller as an RpcError.
    const chain = compose(this.#interceptors, send);
    this.#send = this.#interceptors.length === 0 ? send : (req, ctx) => {
      try {
        return chain(req, ctx).then(undefined, (err: unknown) => Promise.reject(RpcError.from(err)));
      } catch (err) {
        return Promise.reject(RpcError.from(err));
      }
    };
  }

  /** Calls "Service.Method" with params; resolves with the result or rejects with an RpcError. */
  call<R = unknown>(method: string, params?: unknown, options: CallOptions = {}): Promise<R> {
    const timeout = options.timeout ?? this.#timeout;
    let metadata: Metadata;
    try {
      if (timeout !== undefined && !(timeout >= 0)) throw new RpcError(Code.INVALID_ARGUMENT, "rpc: timeout must be a non-negative number of ms");
      metadata = options.metadata ? readMetadata(options.metadata) : {};
    } catch (err) {
      return Promise.reject(err);
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
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => fail(abortError(method, signal!.reason));
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const fail = (err: RpcError) => {
        if (ctx.aborted) return;
        cleanup();
        ctx._abort(err);
        reject(err);
      };
      if (timeout !== undefined) timer = setTimeout(() => fail(deadlineError(method, timeout)), timeout);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#send({ method, params }, ctx).then(
        (value) => {
          cleanup();
          if (!ctx.aborted) resolve(value as R);
        },
        (err: unknown) => {
          cleanup();
          if (!ctx.aborted) reject(RpcError.from(err));
        },
      );
    });
  }

  /** A typed stub: `client.service<UserServer>("UserServer").GetUser({ id: "1" })`. */
  service<T extends object>(name: string): ServiceProxy<T> {
    const stubs = new Map<string, AnyFn>();
    return new Proxy(Object.create(null) as ServiceProxy<T>, {
      get: (_target, key) => {
        // "then", "toJSON", "toString"... must stay undefined, or awaiting, printing or
        // serialising the proxy would call the server; none of them can be registered anyway.
        if (typeof key !== "string" || NOT_METHODS.has(key) || key.startsWith("_")) return undefined;
        let stub = stubs.get(key);
        if (!stub) {
          const method = `${name}.${key}`;
          stub = (params?: unknown, options?: CallOptions) => this.call(method, params, options);
          stubs.set(key, stub);
        }
        return stub;
      },
    });
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
