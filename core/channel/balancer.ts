// The balancer seam: addresses in, sub-connection states in, a state and a picker out. Balancers
// are registered by name; pick_first and round_robin register themselves.
import type { RpcError } from "../errors.js";
import type { ClientConnection } from "../connection.js";
import type { Peer } from "../context.js";
import type { ResolvedAddress } from "./resolver.js";
import type { ConnectivityState } from "./states.js";

/**
 * One address's connection, made by the channel for a balancer. It connects when asked, then
 * keeps itself connected: after a failed attempt or a dropped connection it is in
 * TRANSIENT_FAILURE and tries again when its backoff allows (never, when the channel does not
 * reconnect). Every change reaches the balancer's `subConnectionState`.
 */
export interface SubConnection {
  readonly address: ResolvedAddress;
  /** IDLE, CONNECTING, READY, TRANSIENT_FAILURE; SHUTDOWN once closed. */
  readonly state: ConnectivityState;
  /** Why the last attempt failed or the connection dropped. */
  readonly lastError: RpcError | undefined;
  /** The connection, while READY. */
  readonly connection: ClientConnection | undefined;
  /** Who is on the other end, while READY. */
  readonly peer: Peer | undefined;
  /** From IDLE: start connecting. Otherwise nothing. */
  connect(): void;
  /** Back to IDLE: drop the connection (or the attempt), stop retrying. */
  disconnect(): void;
  /** For good (the address is gone): calls in flight finish, then the connection closes. Idempotent. */
  close(): void;
}

/** What one call is, for a picker. */
export interface PickInfo {
  readonly method: string;
}

/** A picker's answer: send on this sub-connection, wait for a new picker, or fail the call. */
export type PickResult =
  | { readonly kind: "pick"; readonly subConnection: SubConnection }
  | { readonly kind: "queue" }
  | { readonly kind: "fail"; readonly error: RpcError };

/** Chooses where each call goes; replaced whole whenever the balancer's view changes. */
export interface Picker {
  pick(info: PickInfo): PickResult;
}

/** What the channel gives a balancer. */
export interface BalancerHelper {
  /** A sub-connection for one address, IDLE until its connect(). */
  createSubConnection(address: ResolvedAddress): SubConnection;
  /**
   * The balancer's state and picker (the channel's, while it is not IDLE or SHUTDOWN), and for
   * TRANSIENT_FAILURE the error behind it.
   */
  updateState(state: ConnectivityState, picker: Picker, error?: RpcError): void;
  /** Asks the resolver for fresh addresses (say, after a connection failed). */
  requestResolution(): void;
}

export interface Balancer {
  /** The resolver's current list (never empty). Reuse sub-connections for addresses still listed. */
  updateAddresses(addresses: readonly ResolvedAddress[]): void;
  /** A sub-connection this balancer made changed state (read `sc.state` and `sc.lastError`). */
  subConnectionState(sc: SubConnection, state: ConnectivityState): void;
  /** The resolver failed; with no addresses yet, report TRANSIENT_FAILURE with this error. */
  resolverError(err: RpcError): void;
  /** Close every sub-connection; no more updates. */
  close(): void;
}

/** Makes a balancer; called each time the channel leaves IDLE. */
export type BalancerFactory = (helper: BalancerHelper) => Balancer;

const balancers = new Map<string, BalancerFactory>();

/** Makes `loadBalancing: name` use `factory`; a name registered again is replaced. */
export function registerBalancer(name: string, factory: BalancerFactory): void {
  if (typeof name !== "string" || name === "") throw new TypeError("rpc: a balancer needs a name");
  balancers.set(name, factory);
}

export function balancerFor(name: string): BalancerFactory | undefined {
  return balancers.get(name);
}

export function balancerNames(): string[] {
  return [...balancers.keys()];
}

/** Pickers every balancer needs. */
export const QUEUE_PICKER: Picker = Object.freeze({ pick: () => ({ kind: "queue" }) as const });

export function failingPicker(error: RpcError): Picker {
  const result = { kind: "fail", error } as const;
  return { pick: () => result };
}

/** The key of an address, for reusing sub-connections across resolver updates. */
export function addressKey(address: ResolvedAddress): string {
  return `${address.address} ${address.servername ?? ""}`;
}

/**
 * One sub-connection per distinct address of a new list: those already open are kept (by
 * address), new ones are made; `dropped` are the old ones no longer listed, for the balancer to close.
 */
export function reconcile(
  current: readonly SubConnection[],
  addresses: readonly ResolvedAddress[],
  helper: BalancerHelper,
): { next: SubConnection[]; dropped: SubConnection[] } {
  const old = new Map(current.map((sc) => [addressKey(sc.address), sc]));
  const next: SubConnection[] = [];
  const seen = new Set<string>();
  for (const address of addresses) {
    const key = addressKey(address);
    if (seen.has(key)) continue;
    seen.add(key);
    next.push(old.get(key) ?? helper.createSubConnection(address));
    old.delete(key);
  }
  return { next, dropped: [...old.values()] };
}
