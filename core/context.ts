// The per-call context a handler and every interceptor sees: method, metadata, deadline, peer, signal.
import type { Metadata } from "./metadata.js";

/** @internal Client-side per-call wishes a transport may honour. */
export interface ClientCallHooks {
  onHeader?: ((md: Metadata) => void) | undefined;
  onTrailer?: ((md: Metadata) => void) | undefined;
  compress?: boolean | undefined;
  waitForReady?: boolean | undefined;
}

/** Who is on the other end of a connection. */
export interface Peer {
  /** "tcp", "tls", "unix", "ws", "wss", "grpc", ... */
  readonly transport: string;
  readonly address?: string;
  readonly port?: number;
  /**
   * TLS transports: true when the peer's certificate was verified against the CA (mutual TLS
   * with `requestCert`); false when it sent none or one that failed and the server let it in.
   */
  readonly authorized?: boolean;
  /** TLS transports: the subject of the certificate the peer presented, e.g. `{ CN: "client" }`. */
  readonly subject?: Readonly<Record<string, string | readonly string[]>>;
}

const NO_PEER: Peer = Object.freeze({ transport: "unknown" });

/**
 * One call's context. On the server it is the handler's second argument; on the client it is
 * what interceptors see. The AbortSignal is made on first use, because most handlers never
 * look at it and an AbortController per call is measurable at high call rates.
 */
export class CallContext {
  /** "Service.Method". */
  readonly method: string;
  /** Incoming metadata on the server, outgoing metadata on the client (interceptors may add to it). */
  readonly metadata: Metadata;
  /** Absolute deadline in epoch milliseconds (comparable with Date.now()), if the caller set one. */
  readonly deadline: number | undefined;
  readonly peer: Peer;
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;
  #listeners: Array<(reason: unknown) => void> | undefined;
  /** @internal False when nothing can abort this call early, so transports need not listen. */
  _cancellable = true;
  #header: Metadata | undefined;
  #trailer: Metadata | undefined;
  /**
   * Server side, gRPC: true when the request message (the last one, for a stream) arrived
   * compressed. Stream codecs never compress.
   */
  requestCompressed = false;
  /**
   * Server side, gRPC: compress replies with the encoding the client accepts (gzip), or not;
   * undefined leaves it to the server's `compression` option.
   */
  compressResponse: boolean | undefined;
  /** @internal Client side: what the call asked for beyond params (gRPC headers and compression). */
  _client: ClientCallHooks | undefined;

  constructor(method: string, metadata: Metadata, deadline?: number, peer?: Peer) {
    this.method = method;
    this.metadata = metadata;
    this.deadline = deadline;
    this.peer = peer ?? NO_PEER;
  }

  /** Aborted when the caller cancels, the deadline passes, or the connection goes away. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /**
   * Server side: metadata sent before the first reply (gRPC response headers). Set entries
   * before the handler returns or yields its first message; later changes are not sent.
   */
  get responseHeader(): Metadata {
    return (this.#header ??= Object.create(null) as Metadata);
  }

  /** Server side: metadata sent with the call's status (gRPC trailers). */
  get responseTrailer(): Metadata {
    return (this.#trailer ??= Object.create(null) as Metadata);
  }

  /** @internal The response metadata set so far, without creating it. */
  _responseMetadata(): { header: Metadata | undefined; trailer: Metadata | undefined } {
    return { header: this.#header, trailer: this.#trailer };
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Milliseconds left before the deadline (Infinity without one, never negative). */
  timeRemaining(now: number = Date.now()): number {
    return this.deadline === undefined ? Infinity : Math.max(0, this.deadline - now);
  }

  /** @internal Ends the call's life: aborts the signal and tells the library's own listeners. */
  _abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const fn of listeners) fn(reason);
  }

  /** @internal A cheap abort listener for the library (no AbortController needed). */
  _onAbort(fn: (reason: unknown) => void): void {
    if (this.#aborted) fn(this.#reason);
    else (this.#listeners ??= []).push(fn);
  }
}
