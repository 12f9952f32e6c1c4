// pick_first: one connection, to the first address (in the resolver's order) that connects; every
// call goes on it. When it drops: TRANSIENT_FAILURE, re-resolution, and a new pass from the top.
import { Code } from "../codes.js";
import { RpcError } from "../errors.js";
import { QUEUE_PICKER, failingPicker, reconcile, registerBalancer, type Balancer, type BalancerHelper, type Picker, type SubConnection } from "./balancer.js";
import type { ResolvedAddress } from "./resolver.js";
import { ConnectivityState } from "./states.js";

const { IDLE, CONNECTING, READY, TRANSIENT_FAILURE } = ConnectivityState;

export class PickFirst implements Balancer {
  readonly #helper: BalancerHelper;
  #subs: SubConnection[] = [];
  #selected: SubConnection | undefined;
  /** Sub-connections asked to connect in this pass; the pass ends when every one has failed. */
  readonly #tried = new Set<SubConnection>();
  #lastError: RpcError | undefined;
  #closed = false;

  constructor(helper: BalancerHelper) {
    this.#helper = helper;
  }

  updateAddresses(addresses: readonly ResolvedAddress[]): void {
    const { next, dropped } = reconcile(this.#subs, addresses, this.#helper);
    for (const sc of dropped) {
      this.#tried.delete(sc);
      sc.close();
    }
    this.#subs = next;
    if (this.#selected && !next.includes(this.#selected)) this.#selected = undefined;
    if (!this.#selected) {
      // A connection already up (from an earlier list) is taken as it is.
      const ready = next.find((sc) => sc.state === READY);
      if (ready) this.#select(ready);
      else this.#pass();
    }
    this.#report();
  }

  subConnectionState(sc: SubConnection, state: ConnectivityState): void {
    if (this.#closed || !this.#subs.includes(sc)) return;
    if (state === READY) {
      if (!this.#selected) this.#select(sc);
      else if (sc !== this.#selected) sc.disconnect();
    } else if (state === TRANSIENT_FAILURE) {
      this.#lastError = sc.lastError;
      this.#helper.requestResolution();
      if (sc === this.#selected) {
        // Documented: READY goes to TRANSIENT_FAILURE on a drop; then a new pass connects.
        this.#selected = undefined;
        this.#report();
        this.#pass();
      } else if (!this.#selected) this.#connectNext();
    }
    this.#report();
  }

  resolverError(err: RpcError): void {
    if (this.#subs.length > 0) return; // the last good list stands
    this.#lastError = err;
    this.#report();
  }

  close(): void {
    this.#closed = true;
    for (const sc of this.#subs) sc.close();
    this.#subs = [];
  }

  #select(sc: SubConnection): void {
    this.#selected = sc;
    this.#tried.clear();
    for (const other of this.#subs) if (other !== sc) other.disconnect();
  }

  #pass(): void {
    this.#tried.clear();
    this.#connectNext();
  }

  /** Asks the next untried sub-connection to connect; one already retrying on its own counts as asked. */
  #connectNext(): void {
    for (const sc of this.#subs) {
      if (this.#tried.has(sc)) continue;
      this.#tried.add(sc);
      if (sc.state === IDLE) {
        sc.connect();
        return;
      }
      if (sc.state === CONNECTING) return;
    }
  }

  #report(): void {
    if (this.#closed) return;
    const selected = this.#selected;
    if (selected) {
      const picked = { kind: "pick", subConnection: selected } as const;
      const picker: Picker = { pick: () => picked };
      this.#helper.updateState(READY, picker);
    } else if (this.#subs.some((sc) => sc.state === CONNECTING)) {
      this.#helper.updateState(CONNECTING, QUEUE_PICKER);
    } else if (this.#subs.length === 0 && !this.#lastError) {
      this.#helper.updateState(CONNECTING, QUEUE_PICKER); // waiting for the resolver
    } else {
      const err = this.#lastError ?? new RpcError(Code.UNAVAILABLE, "rpc: no address connected");
      this.#helper.updateState(TRANSIENT_FAILURE, failingPicker(unavailable(err)), err);
    }
  }
}

/** The error a call gets from a channel in TRANSIENT_FAILURE: UNAVAILABLE, naming the connection's. */
export function unavailable(err: RpcError): RpcError {
  return new RpcError(Code.UNAVAILABLE, `rpc: no connection is ready: ${err.message.replace(/^rpc: /, "")}`, { cause: err });
}

registerBalancer("pick_first", (helper) => new PickFirst(helper));
