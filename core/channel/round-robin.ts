// round_robin: a connection to every address, kept up; calls go to the READY ones in turn.
import { Code } from "../codes.js";
import { RpcError } from "../errors.js";
import { QUEUE_PICKER, failingPicker, reconcile, registerBalancer, type Balancer, type BalancerHelper, type Picker, type SubConnection } from "./balancer.js";
import { unavailable } from "./pick-first.js";
import type { ResolvedAddress } from "./resolver.js";
import { ConnectivityState } from "./states.js";

const { IDLE, CONNECTING, READY, TRANSIENT_FAILURE } = ConnectivityState;

export class RoundRobin implements Balancer {
  readonly #helper: BalancerHelper;
  #subs: SubConnection[] = [];
  #lastError: RpcError | undefined;
  /** The turn, kept across pickers so a new picker carries on where the last one stopped. */
  #turn = 0;
  #reported: ConnectivityState | undefined;
  #closed = false;

  constructor(helper: BalancerHelper) {
    this.#helper = helper;
  }

  updateAddresses(addresses: readonly ResolvedAddress[]): void {
    const { next, dropped } = reconcile(this.#subs, addresses, this.#helper);
    for (const sc of dropped) sc.close();
    this.#subs = next;
    for (const sc of next) sc.connect();
    this.#report();
  }

  subConnectionState(sc: SubConnection, state: ConnectivityState): void {
    if (this.#closed || !this.#subs.includes(sc)) return;
    if (state === TRANSIENT_FAILURE) {
      this.#lastError = sc.lastError;
      this.#helper.requestResolution();
    } else if (state === IDLE) sc.connect(); // every address is kept connected
    this.#report();
  }

  resolverError(err: RpcError): void {
    if (this.#subs.length > 0) return;
    this.#lastError = err;
    this.#report();
  }

  close(): void {
    this.#closed = true;
    for (const sc of this.#subs) sc.close();
    this.#subs = [];
  }

  #report(): void {
    if (this.#closed) return;
    const ready = this.#subs.filter((sc) => sc.state === READY);
    if (ready.length > 0) {
      const picker: Picker = {
        pick: () => {
          const subConnection = ready[this.#turn++ % ready.length]!;
          if (this.#turn >= Number.MAX_SAFE_INTEGER) this.#turn = 0;
          return { kind: "pick", subConnection };
        },
      };
      this.#set(READY, picker);
    } else if (this.#subs.length === 0 && !this.#lastError) {
      this.#set(CONNECTING, QUEUE_PICKER); // waiting for the resolver
    } else if (this.#reported !== READY && this.#subs.some((sc) => sc.state === CONNECTING || sc.state === IDLE)) {
      this.#set(CONNECTING, QUEUE_PICKER);
    } else {
      // Losing the last READY connection is a failure (READY goes to TRANSIENT_FAILURE, as documented).
      const err = this.#lastError ?? new RpcError(Code.UNAVAILABLE, "rpc: no address connected");
      this.#set(TRANSIENT_FAILURE, failingPicker(unavailable(err)), err);
    }
  }

  #set(state: ConnectivityState, picker: Picker, err?: RpcError): void {
    this.#reported = state;
    this.#helper.updateState(state, picker, err);
  }
}

registerBalancer("round_robin", (helper) => new RoundRobin(helper));
