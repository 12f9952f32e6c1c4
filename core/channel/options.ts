// The channel's options (part of dial's), checked once at dial.
import type { LookupAddress } from "node:dns";
import { DEFAULT_CONNECT_TIMEOUT, durationOption } from "../options.js";
import { backoffOptions, type BackoffOptions } from "./backoff.js";
import { balancerFor, balancerNames } from "./balancer.js";
import type { StateListener } from "./states.js";

/** node:dns's `lookup` with `all: true`, or your own for tests (`dns.promises.lookup` fits). */
export type LookupFunction = (hostname: string, options: { all: true }) => Promise<readonly LookupAddress[]>;

export interface ChannelOptions {
  /** The balancer: "pick_first" (default), "round_robin", or a name given to registerBalancer. */
  loadBalancing?: string;
  /**
   * Reconnect (with backoff) when a connection fails or drops. Default true for resolver targets
   * (dns:///, static:///, passthrough:///); false for a plain address, whose client ends with
   * its one connection, as dial() always did.
   */
  reconnect?: boolean;
  /** Return from dial() at once, IDLE, and connect on the first call; default false (connect first). */
  lazy?: boolean;
  /** Calls wait for READY (up to their deadline) instead of failing fast; default false. Per call too. */
  waitForReady?: boolean;
  /** Ms without calls after which connections are closed (IDLE) until the next call; default never. */
  idleTimeout?: number;
  /** Reconnect backoff (connection-backoff.md). */
  backoff?: BackoffOptions;
  /** Ms one connection attempt may take at least (MIN_CONNECT_TIMEOUT); default 20 s. */
  connectTimeout?: number;
  /** dns:///: the lookup function; default node:dns `lookup` with `all: true`. */
  lookup?: LookupFunction;
  /** dns:///: ms between re-resolutions whatever happens; default none (only when connections fail). */
  resolveInterval?: number;
  /** dns:///: the least ms between two resolutions asked for by failing connections; default 30 s. */
  minResolveInterval?: number;
  /** Called on every change of the channel's state (from the first, during dial). */
  onStateChange?: StateListener;
}

export const DEFAULT_MIN_RESOLVE_INTERVAL = 30_000;

/** The options with defaults filled in, after the checks. */
export interface CheckedChannelOptions {
  readonly loadBalancing: string;
  readonly reconnect: boolean;
  readonly lazy: boolean;
  readonly waitForReady: boolean;
  readonly idleTimeout: number | undefined;
  readonly backoff: Required<BackoffOptions>;
  readonly connectTimeout: number;
}

function booleanOption(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "boolean") throw new TypeError(`rpc: option ${name} must be a boolean, got ${String(value)}`);
}

/** Checks the options; `resolved` says whether the target names a resolver (the reconnect default). */
export function checkChannelOptions(options: ChannelOptions, resolved: boolean): CheckedChannelOptions {
  for (const name of ["reconnect", "lazy", "waitForReady"] as const) booleanOption(name, options[name]);
  const loadBalancing = options.loadBalancing ?? "pick_first";
  if (!balancerFor(loadBalancing)) {
    throw new TypeError(`rpc: unknown loadBalancing ${JSON.stringify(loadBalancing)} (known: ${balancerNames().join(", ")})`);
  }
  const idleTimeout = durationOption("option idleTimeout", options.idleTimeout);
  durationOption("option resolveInterval", options.resolveInterval);
  durationOption("option minResolveInterval", options.minResolveInterval);
  const connectTimeout = durationOption("option connectTimeout", options.connectTimeout) ?? DEFAULT_CONNECT_TIMEOUT;
  if (options.lookup !== undefined && typeof options.lookup !== "function") throw new TypeError("rpc: option lookup must be a function");
  if (options.onStateChange !== undefined && typeof options.onStateChange !== "function") throw new TypeError("rpc: option onStateChange must be a function");
  const reconnect = options.reconnect ?? resolved;
  if (idleTimeout !== undefined && !reconnect) {
    throw new TypeError("rpc: option idleTimeout needs a channel that reconnects (hint: reconnect: true, or a dns:///, static:/// or passthrough:/// target)");
  }
  return {
    loadBalancing,
    reconnect,
    lazy: options.lazy ?? false,
    waitForReady: options.waitForReady ?? false,
    idleTimeout,
    backoff: backoffOptions(options.backoff),
    connectTimeout,
  };
}
