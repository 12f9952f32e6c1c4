// The channel: what a dialed Client runs on. A resolver turns the target into addresses, a
// balancer turns those into sub-connections and a picker, and each call goes where the picker
// says, waits for a better picker, or fails fast. The channel outlives its connections.
import dc from "node:diagnostics_channel";
import { Code } from "../codes.js";
import { RpcError } from "../errors.js";
import type { CallContext, Peer } from "../context.js";
import type { ClientConnection } from "../connection.js";
import type { RpcRequest } from "../interceptor.js";
import { timerDelay } from "../options.js";
import { QUEUE_PICKER, balancerFor, type Balancer, type BalancerHelper, type Picker, type SubConnection } from "./balancer.js";
import { checkChannelOptions, type ChannelOptions, type CheckedChannelOptions } from "./options.js";
import { noAddresses, resolverFor, resolverSchemes, type Resolver, type ResolverFactory } from "./resolver.js";
import { Subchannel, type Connector } from "./subchannel.js";
import { ConnectivityState, StateCell, type ConnectivityReporter, type StateListener } from "./states.js";
import { parseResolverTarget, passthroughAddress, type Target } from "./target.js";
import "./dns.js";
import "./pick-first.js";
import "./round-robin.js";

const { IDLE, CONNECTING, READY, TRANSIENT_FAILURE, SHUTDOWN } = ConnectivityState;

/** Published for every call the channel sends, with where it went: `{ target, address, method, context }`. */
export const pickChannel = dc.channel("netrpc:channel:pick");

export interface ChannelInit {
  /** `dns:///host:port`, `static:///a:1,b:2`, `passthrough:///addr`, or one plain address. */
  readonly target: string;
  readonly options: ChannelOptions;
  /** Dials one resolved address. */
  readonly connector: Connector;
  /** Throws (a TypeError) for an address no transport can dial; run on plain and passthrough addresses at once. */
  readonly checkAddress?: (address: string) => void;
}

interface Queued {
  readonly req: RpcRequest;
  readonly ctx: CallContext;
  readonly waitForReady: boolean;
  resolve(value: unknown): void;
  reject(err: RpcError): void;
}

export class Channel implements ClientConnection, ConnectivityReporter {
  /** Settles (never rejects) once the channel has shut down and its connections have closed. */
  readonly closed: Promise<RpcError>;
  readonly target: string;
  readonly #parsed: Target;
  readonly #factory: ResolverFactory;
  readonly #options: ChannelOptions;
  readonly #checked: CheckedChannelOptions;
  readonly #connector: Connector;
  readonly #cell = new StateCell(IDLE);
  #resolver: Resolver | undefined;
  #balancer: Balancer | undefined;
  #picker: Picker = QUEUE_PICKER;
  /** Bumped whenever the resolver and balancer are replaced, so late reports from old ones are ignored. */
  #generation = 0;
  readonly #subs = new Set<Subchannel>();
  readonly #queue = new Set<Queued>();
  #reason: RpcError | undefined;
  #lastError: RpcError | undefined;
  #lastFailure: unknown;
  #peer: Peer | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #lastCallAt = 0;
  #resolveClosed!: (err: RpcError) => void;

  constructor(init: ChannelInit) {
    this.target = init.target;
    this.#options = init.options;
    this.#connector = init.connector;
    const parsed = parseResolverTarget(init.target, resolverSchemes());
    this.#parsed = parsed ?? { scheme: "passthrough", authority: "", endpoint: init.target, query: new URLSearchParams(), text: init.target };
    this.#factory = resolverFor(this.#parsed.scheme)!;
    this.#checked = checkChannelOptions(init.options, parsed !== undefined);
    if (this.#parsed.scheme === "passthrough") init.checkAddress?.(passthroughAddress(this.#parsed));
    // Made once now so a bad target is refused at dial; resolvers do nothing until a later tick.
    this.#factory(this.#parsed, { addresses() {}, error() {} }, init.options).close();
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    if (init.options.onStateChange) this.#cell.onChange(init.options.onStateChange);
  }

  /** Calls waiting for a connection, and calls in flight on every connection. */
  get pending(): number {
    let n = this.#queue.size;
    for (const sc of this.#subs) {
      if (sc.state === SHUTDOWN && sc.pending === 0) this.#subs.delete(sc);
      else n += sc.pending;
    }
    return n;
  }

  /** Who the last connection to become READY is connected to. */
  get peer(): Peer | undefined {
    return this.#peer;
  }

  getState(tryToConnect = false): ConnectivityState {
    if (tryToConnect) this.#exitIdle();
    return this.#cell.state;
  }

  waitForStateChange(current: ConnectivityState, deadline: number | Date): Promise<boolean> {
    return this.#cell.waitForChange(current, deadline);
  }

  onStateChange(listener: StateListener): () => void {
    return this.#cell.onChange(listener);
  }

  /**
   * Connects now and resolves once READY; rejects with the first failure when every address has
   * failed once (as thrown by the transport: UNAVAILABLE, or a TypeError for a bad address), with
   * the reason when the channel shuts down, and with CANCELLED when `signal` aborts.
   */
  connect(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: unknown) => {
        remove();
        signal?.removeEventListener("abort", onAbort);
        if (err === undefined) resolve();
        else reject(err);
      };
      const check = () => {
        const state = this.#cell.state;
        if (state === READY) done();
        else if (state === TRANSIENT_FAILURE || state === SHUTDOWN) done(this.#firstFailure());
      };
      const onAbort = () => done(new RpcError(Code.CANCELLED, `rpc: dial ${this.target}: aborted`, { cause: signal?.reason }));
      const remove = this.#cell.onChange(check);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#exitIdle();
      check();
    });
  }

  #firstFailure(): unknown {
    const failure = this.#lastFailure;
    if (failure !== undefined && !(failure instanceof RpcError)) return failure;
    return this.#lastError ?? this.#reason ?? new RpcError(Code.UNAVAILABLE, `rpc: dial ${this.target}: no connection`);
  }

  invoke(req: RpcRequest, ctx: CallContext): Promise<unknown> {
    if (this.#reason) return Promise.reject(this.#reason);
    this.#lastCallAt = Date.now();
    this.#exitIdle();
    const waitForReady = ctx._client?.waitForReady ?? this.#checked.waitForReady;
    const pick = this.#picker.pick({ method: req.method });
    if (pick.kind === "pick" && pick.subConnection.connection) return this.#send(pick.subConnection, req, ctx);
    if (pick.kind === "fail" && !waitForReady) return Promise.reject(pick.error);
    return new Promise((resolve, reject) => {
      const queued: Queued = { req, ctx, waitForReady, resolve, reject };
      this.#queue.add(queued);
      // A deadline or an abort while waiting: the call leaves the queue and ends with that.
      ctx._onAbort((reason) => {
        if (this.#queue.delete(queued)) reject(RpcError.from(reason, Code.CANCELLED));
      });
    });
  }

  #send(sc: SubConnection, req: RpcRequest, ctx: CallContext): Promise<unknown> {
    if (pickChannel.hasSubscribers) pickChannel.publish({ target: this.target, address: sc.address.address, method: req.method, context: ctx });
    return sc.connection!.invoke(req, ctx);
  }

  /** Gives every waiting call to the new picker: sent, failed (fail-fast), or left waiting. */
  #drain(): void {
    for (const queued of [...this.#queue]) {
      const pick = this.#picker.pick({ method: queued.req.method });
      if (pick.kind === "pick" && pick.subConnection.connection) {
        this.#queue.delete(queued);
        this.#send(pick.subConnection, queued.req, queued.ctx).then(queued.resolve, queued.reject);
      } else if (pick.kind === "fail" && !queued.waitForReady) {
        this.#queue.delete(queued);
        queued.reject(pick.error);
      }
    }
  }

  /** IDLE → CONNECTING: a fresh resolver and balancer. */
  #exitIdle(): void {
    if (this.#cell.state !== IDLE || this.#reason) return;
    const generation = ++this.#generation;
    const current = () => generation === this.#generation;
    this.#lastCallAt = Date.now();
    this.#cell.set(CONNECTING);
    const helper: BalancerHelper = {
      createSubConnection: (address) => {
        const sc = new Subchannel(address, {
          connector: this.#connector,
          backoff: this.#checked.backoff,
          reconnect: this.#checked.reconnect,
          connectTimeout: this.#checked.connectTimeout,
          onState: (sc, state) => {
            if (!current()) return;
            if (state === TRANSIENT_FAILURE) {
              this.#lastError = sc.lastError;
              this.#lastFailure = sc.failure;
            } else if (state === READY) this.#peer = sc.peer;
            this.#balancer?.subConnectionState(sc, state);
          },
        });
        if (!current()) sc.close();
        else this.#subs.add(sc);
        return sc;
      },
      updateState: (state, picker, error) => {
        if (current()) this.#update(state, picker, error);
      },
      requestResolution: () => {
        if (current()) this.#resolver?.resolveNow();
      },
    };
    const balancer = (this.#balancer = balancerFor(this.#checked.loadBalancing)!(helper));
    try {
      this.#resolver = this.#factory(
        this.#parsed,
        {
          addresses: (list) => {
            if (!current()) return;
            if (list.length > 0) balancer.updateAddresses(list);
            else balancer.resolverError(noAddresses(this.#parsed, "the resolver found no addresses"));
          },
          error: (err) => {
            if (current()) balancer.resolverError(err);
          },
        },
        this.#options,
      );
    } catch (err) {
      balancer.resolverError(RpcError.from(err, Code.UNAVAILABLE));
    }
    this.#armIdle(this.#checked.idleTimeout);
  }

  #update(state: ConnectivityState, picker: Picker, error: RpcError | undefined): void {
    if (this.#reason) return;
    this.#picker = picker;
    if (state === TRANSIENT_FAILURE) {
      if (error) this.#lastError = error;
      // A channel that does not reconnect ends with its connections.
      if (!this.#checked.reconnect) return this.#shutdown(error ?? this.#lastError ?? new RpcError(Code.UNAVAILABLE, "rpc: no connection"));
    }
    this.#cell.set(state, state === TRANSIENT_FAILURE ? error : undefined);
    this.#drain();
  }

  #armIdle(delay: number | undefined): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (!delay) return;
    this.#idleTimer = setTimeout(() => this.#idleCheck(), timerDelay(delay));
    this.#idleTimer.unref?.();
  }

  /**
   * Goes IDLE when no call has started for idleTimeout and none is running; otherwise looks again
   * later. Only from READY or CONNECTING, as documented: a failing channel keeps trying.
   */
  #idleCheck(): void {
    const timeout = this.#checked.idleTimeout!;
    const state = this.#cell.state;
    if (this.#reason || state === IDLE) return;
    const quiet = Date.now() - this.#lastCallAt;
    if (this.pending > 0 || state === TRANSIENT_FAILURE) return this.#armIdle(timeout);
    if (quiet < timeout) return this.#armIdle(timeout - quiet);
    this.#teardown();
    this.#cell.set(IDLE);
  }

  /** Drops the resolver, the balancer and every connection (IDLE or SHUTDOWN). */
  #teardown(): void {
    this.#generation++;
    this.#balancer?.close();
    this.#resolver?.close();
    this.#balancer = undefined;
    this.#resolver = undefined;
    this.#picker = QUEUE_PICKER;
    for (const sc of this.#subs) sc.closeNow();
  }

  #shutdown(reason: RpcError): void {
    if (this.#reason) return;
    this.#reason = reason;
    this.#armIdle(undefined);
    this.#teardown();
    const closing = [...this.#subs].map((sc) => sc.closing);
    this.#subs.clear();
    const queued = [...this.#queue];
    this.#queue.clear();
    for (const call of queued) call.reject(reason);
    this.#cell.set(SHUTDOWN, reason);
    void Promise.all(closing).then(() => this.#resolveClosed(reason));
  }

  /** Shuts down: waiting and in-flight calls fail with CANCELLED "rpc: client is closed". Idempotent. */
  close(): void {
    this.#shutdown(new RpcError(Code.CANCELLED, "rpc: client is closed"));
  }
}
