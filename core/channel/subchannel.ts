// One address's connection: connect on request, keep connected with backoff, report each change.
import { Code } from "../codes.js";
import { RpcError } from "../errors.js";
import type { ClientConnection } from "../connection.js";
import type { Peer } from "../context.js";
import { timerDelay } from "../options.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import type { SubConnection } from "./balancer.js";
import type { ResolvedAddress } from "./resolver.js";
import { ConnectivityState } from "./states.js";

/** A made connection, and who is on the other end. */
export interface Connected {
  readonly connection: ClientConnection;
  readonly peer?: Peer | undefined;
}

export interface AttemptOptions {
  /** Aborted when the attempt is no longer wanted (the channel closed or went IDLE). */
  readonly signal: AbortSignal;
  /** Ms the attempt may take before it fails UNAVAILABLE. */
  readonly connectTimeout: number;
}

/** Dials one address over its transport; rejects when it cannot. */
export type Connector = (address: ResolvedAddress, attempt: AttemptOptions) => Promise<Connected>;

/** How often a connection closed gracefully is checked for calls still running. */
const DRAIN_CHECK_MS = 100;

export interface SubchannelOptions {
  readonly connector: Connector;
  readonly backoff: BackoffOptions;
  /** Retry after failures and drops; when false, TRANSIENT_FAILURE is where it stays. */
  readonly reconnect: boolean;
  /** MIN_CONNECT_TIMEOUT, in ms. */
  readonly connectTimeout: number;
  /** Told of every change. */
  readonly onState: (sc: Subchannel, state: ConnectivityState) => void;
}

export class Subchannel implements SubConnection {
  readonly address: ResolvedAddress;
  readonly #options: SubchannelOptions;
  readonly #backoff: Backoff;
  #state: ConnectivityState = ConnectivityState.IDLE;
  #lastError: RpcError | undefined;
  /** What the last attempt threw, as thrown (a TypeError for an address no transport takes). */
  #failure: unknown;
  #connection: ClientConnection | undefined;
  #peer: Peer | undefined;
  #attempt: AbortController | undefined;
  /** When the next attempt may start: the running (or last successful) attempt's backoff deadline. */
  #deadline = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(address: ResolvedAddress, options: SubchannelOptions) {
    this.address = address;
    this.#options = options;
    this.#backoff = new Backoff(options.backoff);
  }

  get state(): ConnectivityState {
    return this.#state;
  }

  get lastError(): RpcError | undefined {
    return this.#lastError;
  }

  get failure(): unknown {
    return this.#failure;
  }

  get connection(): ClientConnection | undefined {
    return this.#connection;
  }

  get peer(): Peer | undefined {
    return this.#peer;
  }

  /** Calls waiting on this sub-connection's connection (or on the one it is draining). */
  get pending(): number {
    return (this.#connection?.pending ?? 0) + (this.#draining?.pending ?? 0);
  }

  connect(): void {
    if (this.#state === ConnectivityState.IDLE) this.#start();
  }

  disconnect(): void {
    if (this.#state === ConnectivityState.SHUTDOWN) return;
    this.#stop();
    this.#set(ConnectivityState.IDLE);
  }

  /** For good; calls in flight on the connection finish first (an address the resolver dropped). */
  close(): void {
    if (this.#state === ConnectivityState.SHUTDOWN) return;
    this.#stop(true);
    this.#state = ConnectivityState.SHUTDOWN;
  }

  /** For good, now: calls in flight fail CANCELLED (the channel is closing). */
  closeNow(): void {
    this.close();
    this.#draining?.close();
  }

  /** Settles once the connection (if any) has closed; for the channel's own `closed`. */
  #closing: Promise<unknown> = Promise.resolve();
  get closing(): Promise<unknown> {
    return this.#closing;
  }

  /** A connection closed gracefully, waiting for its calls to finish. */
  #draining: ClientConnection | undefined;

  #stop(drain = false): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#attempt?.abort();
    this.#attempt = undefined;
    const connection = this.#connection;
    this.#connection = undefined;
    this.#peer = undefined;
    if (!connection) return;
    this.#closing = connection.closed;
    if (!drain || connection.pending === 0) return connection.close();
    // No event says a connection has gone quiet: look now and then (its calls have their own deadlines).
    this.#draining = connection;
    const check = setInterval(() => {
      if (connection.pending === 0) connection.close();
    }, DRAIN_CHECK_MS);
    check.unref?.();
    void connection.closed.then(() => {
      clearInterval(check);
      if (this.#draining === connection) this.#draining = undefined;
    });
  }

  #set(state: ConnectivityState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#options.onState(this, state);
  }

  /** One attempt (connection-backoff.md's TryConnect), with the schedule's next deadline. */
  #start(): void {
    this.#timer = undefined;
    const delay = this.#backoff.next();
    this.#deadline = Date.now() + delay;
    const attempt = new AbortController();
    this.#attempt = attempt;
    const { connector, connectTimeout, reconnect } = this.#options;
    this.#set(ConnectivityState.CONNECTING);
    let made: Promise<Connected>;
    try {
      made = connector(this.address, { signal: attempt.signal, connectTimeout: reconnect ? Math.max(delay, connectTimeout) : connectTimeout });
    } catch (err) {
      made = Promise.reject(err);
    }
    made.then(
      (connected) => this.#connected(attempt, connected),
      (err: unknown) => this.#failed(attempt, err),
    );
  }

  #connected(attempt: AbortController, { connection, peer }: Connected): void {
    if (this.#attempt !== attempt) {
      connection.close(); // made after we stopped wanting it
      return;
    }
    this.#attempt = undefined;
    this.#backoff.reset();
    this.#connection = connection;
    this.#peer = peer;
    void connection.closed.then((err) => {
      if (this.#connection !== connection) return; // we closed it ourselves
      this.#connection = undefined;
      this.#peer = undefined;
      this.#fail(err);
    });
    this.#set(ConnectivityState.READY);
  }

  #failed(attempt: AbortController, err: unknown): void {
    if (this.#attempt !== attempt) return;
    this.#attempt = undefined;
    this.#failure = err;
    this.#fail(RpcError.from(err, Code.UNAVAILABLE));
  }

  /** TRANSIENT_FAILURE, then (when reconnecting) the next attempt once the backoff deadline has passed. */
  #fail(err: RpcError): void {
    this.#lastError = err;
    this.#set(ConnectivityState.TRANSIENT_FAILURE);
    if (!this.#options.reconnect || this.#state !== ConnectivityState.TRANSIENT_FAILURE) return;
    this.#timer = setTimeout(() => this.#start(), timerDelay(Math.max(0, this.#deadline - Date.now())));
    this.#timer.unref?.();
  }
}
