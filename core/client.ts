// The Client: call("Service.Method", params) and streams, with deadlines, cancellation, metadata and interceptors.
import type { Duplex } from "node:stream";
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import { CallContext, type Peer } from "./context.js";
import { compose, type Next, type RpcRequest } from "./interceptor.js";
import { checkMetadata, type Metadata } from "./metadata.js";
import { StreamClientConnection } from "./client-conn.js";
import { DuplexChannel } from "./duplex-channel.js";
import type { ClientConnection } from "./connection.js";
import type { CallKind } from "./registry.js";
import { checkClientOptions, type CallOptions, type ClientOptions } from "./call-options.js";
import { durationOption } from "./options.js";
import { serviceProxy, type ServiceProxy } from "./service-proxy.js";
import { connectionStates, type ConnectivityReporter, type ConnectivityState, type StateListener } from "./channel/states.js";
import { json } from "../codecs/json.js";

/** How close to our own deadline a peer's DEADLINE_EXCEEDED counts as our deadline passing. */
const DEADLINE_SLACK_MS = 2;

function deadlineError(method: string, timeout: number): RpcError {
  return new RpcError(Code.DEADLINE_EXCEEDED, `rpc: ${method}: deadline of ${timeout} ms exceeded`);
}

function abortError(method: string, reason: unknown): RpcError {
  const timedOut = (reason as { name?: unknown } | null)?.name === "TimeoutError";
  return timedOut
    ? new RpcError(Code.DEADLINE_EXCEEDED, `rpc: ${method}: deadline exceeded (signal timed out)`, { cause: reason })
    : new RpcError(Code.CANCELLED, `rpc: ${method}: cancelled by the caller`, { cause: reason });
}

function isConnection(x: Duplex | ClientConnection): x is ClientConnection {
  return typeof (x as Partial<ClientConnection>).invoke === "function";
}

function reportsState(x: ClientConnection): x is ClientConnection & ConnectivityReporter {
  return typeof (x as Partial<ConnectivityReporter>).getState === "function";
}

/** Requests for a client- or bidi-streaming call: any iterable or async iterable. */
export type Requests<T = unknown> = AsyncIterable<T> | Iterable<T>;

/** A call's deadline and abort watch; settle() disarms them once the call has ended. */
interface Armed {
  settle(): void;
}

export class Client {
  /**
   * Settles (never rejects) with why the client ended: CANCELLED after close(); for a client on
   * one connection that does not reconnect, the reason it was lost (UNAVAILABLE). A reconnecting
   * channel outlives its connections, so only close() settles it.
   */
  readonly closed: Promise<RpcError>;
  readonly peer: Peer | undefined;
  readonly #conn: ClientConnection;
  readonly #states: ConnectivityReporter;
  readonly #timeout: number | undefined;
  readonly #send: Next;

  /**
   * Wraps a connected stream (as Go's rpc.NewClient), or a connection a transport made;
   * dial() is the usual way in.
   */
  constructor(transport: Duplex | ClientConnection, options: ClientOptions = {}) {
    const max = checkClientOptions(options);
    this.#timeout = options.timeout;
    this.peer = options.peer;
    const codec = options.codec ?? json;
    if (isConnection(transport)) this.#conn = transport;
    else {
      const session = codec.fork();
      this.#conn = new StreamClientConnection(new DuplexChannel(transport, session, codec.name, max), session);
    }
    this.closed = this.#conn.closed;
    // A channel reports its own states; a single connection is READY until it closes.
    this.#states = reportsState(this.#conn) ? this.#conn : connectionStates(this.#conn.closed);
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

  /** The call's context from its options; throws INVALID_ARGUMENT for bad ones. */
  #context(method: string, options: CallOptions): { ctx: CallContext; timeout: number | undefined } {
    let timeout: number | undefined;
    let metadata: Metadata;
    try {
      timeout = durationOption("timeout", options.timeout) ?? this.#timeout;
      metadata = options.metadata ? checkMetadata(options.metadata) : {};
    } catch (err) {
      throw RpcError.from(err, Code.INVALID_ARGUMENT);
    }
    const ctx = new CallContext(method, metadata, timeout === undefined ? undefined : Date.now() + timeout, this.peer);
    if (options.onHeader || options.onTrailer || options.compress || options.waitForReady !== undefined) {
      ctx._client = { onHeader: options.onHeader, onTrailer: options.onTrailer, compress: options.compress, waitForReady: options.waitForReady };
    }
    return { ctx, timeout };
  }

  /** Calls "Service.Method" with params; resolves with the result or rejects with an RpcError. */
  call<R = unknown>(method: string, params?: unknown, options: CallOptions = {}): Promise<R> {
    return this.#unary<R>("unary", method, params, options);
  }

  /**
   * Calls a client-streaming method: sends every request of `requests` (an array, a generator,
   * any async iterable), then resolves with the single reply.
   */
  clientStream<R = unknown>(method: string, requests: Requests, options: CallOptions = {}): Promise<R> {
    return this.#unary<R>("client", method, requests, options);
  }

  /** Calls a server-streaming method: iterate the result for the replies; errors surface there. */
  serverStream<R = unknown>(method: string, params?: unknown, options: CallOptions = {}): AsyncIterable<R> {
    return this.#streamed<R>("server", method, params, options);
  }

  /**
   * Calls a bidi-streaming method: `requests` is read as the server takes them (a generator that
   * awaits each reply gives ping-pong); iterate the result for the replies.
   */
  bidiStream<R = unknown>(method: string, requests: Requests, options: CallOptions = {}): AsyncIterable<R> {
    return this.#streamed<R>("bidi", method, requests, options);
  }

  #unary<R>(kind: CallKind, method: string, params: unknown, options: CallOptions): Promise<R> {
    let ctx: CallContext;
    let timeout: number | undefined;
    try {
      ({ ctx, timeout } = this.#context(method, options));
    } catch (err) {
      return Promise.reject(err);
    }
    const req: RpcRequest = kind === "unary" ? { method, params } : { method, params, kind };
    const signal = options.signal;
    if (timeout === undefined && !signal) {
      // Nothing but the connection can end this call early: skip the abort plumbing.
      ctx._cancellable = false;
      return this.#send(req, ctx) as Promise<R>;
    }
    if (signal?.aborted) return Promise.reject(abortError(method, signal.reason));
    return new Promise<R>((resolve, reject) => {
      let settled = false;
      // A deadline or an abort rejects at once, without waiting for the connection.
      const armed = this.#arm(ctx, timeout, signal, (err) => {
        if (settled) return;
        settled = true;
        reject(err);
      });
      this.#send(req, ctx).then(
        (value) => {
          if (settled) return;
          settled = true;
          armed.settle();
          resolve(value as R);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          armed.settle();
          const error = RpcError.from(err);
          // The server's timer (started from our deadline, rounded down to the ms) can beat ours by
          // a hair; when our own deadline is up as well, report it as ours, whichever landed first.
          const ours = timeout !== undefined && error.code === Code.DEADLINE_EXCEEDED && error.fromPeer && ctx.timeRemaining() <= DEADLINE_SLACK_MS;
          reject(ours ? deadlineError(method, timeout!) : error);
        },
      );
    });
  }

  /** Arms the deadline and the caller's signal: either aborts ctx (so the transport cancels) and calls onFail. */
  #arm(ctx: CallContext, timeout: number | undefined, signal: AbortSignal | undefined, onFail: (err: RpcError) => void): Armed {
    const method = ctx.method;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      signal?.removeEventListener("abort", onAbort);
    };
    const fail = (err: RpcError) => {
      settle();
      ctx._abort(err);
      onFail(err);
    };
    const onAbort = () => fail(abortError(method, signal!.reason));
    if (timeout !== undefined) timer = setTimeout(() => fail(deadlineError(method, timeout)), timeout);
    signal?.addEventListener("abort", onAbort, { once: true });
    return { settle };
  }

  #streamed<R>(kind: CallKind, method: string, params: unknown, options: CallOptions): AsyncIterable<R> {
    const client = this;
    return {
      async *[Symbol.asyncIterator]() {
        const { ctx, timeout } = client.#context(method, options);
        const signal = options.signal;
        if (signal?.aborted) throw abortError(method, signal.reason);
        // A deadline or an abort ends the wait for the next reply at once. Each wait is its own
        // promise: racing every reply against one shared promise would pile a reaction onto it
        // per message for as long as the stream lives.
        let failed: RpcError | undefined;
        let interrupt: ((err: RpcError) => void) | undefined;
        // `start` only runs while the call is alive, so no promise is left with nobody to handle it.
        const interruptible = <T>(start: () => Promise<T>): Promise<T> =>
          failed
            ? Promise.reject(failed)
            : new Promise<T>((resolve, reject) => {
                interrupt = reject;
                start().then(resolve, reject);
              });
        const started = client.#arm(ctx, timeout, signal, (err) => {
          failed = err;
          interrupt?.(err);
        });
        let finished = false;
        try {
          const replies = (await interruptible(() => client.#send({ method, params, kind }, ctx))) as AsyncIterable<R>;
          const it = replies[Symbol.asyncIterator]();
          try {
            for (;;) {
              const next = await interruptible(() => it.next());
              if (next.done) break;
              yield next.value;
            }
            finished = true;
          } finally {
            if (!finished) await it.return?.();
          }
        } catch (err) {
          finished = true;
          throw RpcError.from(err);
        } finally {
          started.settle();
          // The caller stopped reading early: the call is cancelled, and the server hears of it.
          if (!finished) ctx._abort(new RpcError(Code.CANCELLED, `rpc: ${method}: the caller stopped reading`));
        }
      },
    };
  }

  /** A typed stub: `client.service<UserServer>("UserServer").GetUser({ id: "1" })`. */
  service<T extends object>(name: string): ServiceProxy<T> {
    return serviceProxy<T>(name, (method, params, options) => this.call(method, params, options));
  }

  /** Calls waiting for a connection or for replies. */
  get pending(): number {
    return this.#conn.pending;
  }

  /**
   * The connectivity state: IDLE, CONNECTING, READY, TRANSIENT_FAILURE or SHUTDOWN (gRPC's
   * semantics). `tryToConnect` makes an IDLE client start connecting, as a call would.
   */
  getState(tryToConnect = false): ConnectivityState {
    return this.#states.getState(tryToConnect);
  }

  /**
   * Resolves true once the state differs from `current`, false if `deadline` (epoch ms or a
   * Date) passes first. Resolves true at once when the state already differs.
   */
  waitForStateChange(current: ConnectivityState, deadline: number | Date): Promise<boolean> {
    return this.#states.waitForStateChange(current, deadline);
  }

  /** Calls `listener(state, error?)` on every state change; returns a function that stops it. */
  onStateChange(listener: StateListener): () => void {
    return this.#states.onStateChange(listener);
  }

  /**
   * Closes the client (every connection of its channel); pending and later calls fail with
   * CANCELLED "rpc: client is closed". Idempotent.
   */
  async close(): Promise<void> {
    this.#conn.close();
    await this.#conn.closed;
  }
}
