// Connectivity states (gRPC's connectivity-semantics-and-api.md) and the watchable cell that holds
// one. Browser-safe: no node: imports, so the Client can use it everywhere.
import type { RpcError } from "../errors.js";
import { MAX_TIMER_MS } from "../options.js";

export const ConnectivityState = {
  /** Not connecting, for want of calls; a call (or getState(true)) starts connecting. */
  IDLE: "IDLE",
  /** Resolving names or connecting. */
  CONNECTING: "CONNECTING",
  /** Connected: calls go out now. */
  READY: "READY",
  /** The last attempt failed or a connection dropped; another follows after the backoff. */
  TRANSIENT_FAILURE: "TRANSIENT_FAILURE",
  /** Closed; never left again. */
  SHUTDOWN: "SHUTDOWN",
} as const;
export type ConnectivityState = (typeof ConnectivityState)[keyof typeof ConnectivityState];

/** Called on every change, with the error behind TRANSIENT_FAILURE and SHUTDOWN. */
export type StateListener = (state: ConnectivityState, error: RpcError | undefined) => void;

/** What a connection that reports its state offers; a Channel does, and so does a Client. */
export interface ConnectivityReporter {
  /** The state now; `tryToConnect` leaves IDLE as a call would. */
  getState(tryToConnect?: boolean): ConnectivityState;
  /** Resolves true once the state is no longer `current`, false when `deadline` passes first. */
  waitForStateChange(current: ConnectivityState, deadline: number | Date): Promise<boolean>;
  /** Adds a listener for every change; returns its remover. */
  onStateChange(listener: StateListener): () => void;
}

/** A state and its watchers. Listeners run synchronously, in the order they were added. */
export class StateCell {
  #state: ConnectivityState;
  #error: RpcError | undefined;
  readonly #listeners = new Set<StateListener>();

  constructor(initial: ConnectivityState) {
    this.#state = initial;
  }

  get state(): ConnectivityState {
    return this.#state;
  }

  /** The error of the last TRANSIENT_FAILURE or SHUTDOWN. */
  get error(): RpcError | undefined {
    return this.#error;
  }

  /** Moves to `state`; a repeat of the current state is not a change. SHUTDOWN is final. */
  set(state: ConnectivityState, error?: RpcError): void {
    if (this.#state === state || this.#state === ConnectivityState.SHUTDOWN) return;
    this.#state = state;
    if (error) this.#error = error;
    for (const listener of [...this.#listeners]) listener(state, error);
  }

  onChange(listener: StateListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  waitForChange(current: ConnectivityState, deadline: number | Date): Promise<boolean> {
    const at = typeof deadline === "number" ? deadline : deadline.getTime();
    if (Number.isNaN(at)) return Promise.reject(new TypeError("rpc: waitForStateChange needs a deadline (epoch ms or a Date)"));
    if (this.#state !== current) return Promise.resolve(true);
    if (at <= Date.now()) return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (changed: boolean) => {
        clearTimeout(timer);
        remove();
        resolve(changed);
      };
      const remove = this.onChange(() => done(true));
      // A deadline beyond setTimeout's range is waited for in steps.
      const arm = () => {
        const left = at - Date.now();
        timer = left <= 0 ? undefined : setTimeout(arm, Math.min(left, MAX_TIMER_MS));
        if (left <= 0) done(false);
      };
      arm();
    });
  }
}

/**
 * The states of a single connection that never reconnects (a Client on a stream of your own):
 * READY until it closes, then SHUTDOWN.
 */
export function connectionStates(closed: Promise<RpcError>): ConnectivityReporter {
  const cell = new StateCell(ConnectivityState.READY);
  void closed.then((err) => cell.set(ConnectivityState.SHUTDOWN, err));
  return {
    getState: () => cell.state,
    waitForStateChange: (current, deadline) => cell.waitForChange(current, deadline),
    onStateChange: (listener) => cell.onChange(listener),
  };
}
