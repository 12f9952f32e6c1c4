// The resolver seam: a target in, lists of addresses out (again whenever they change). Resolvers
// are registered by scheme; passthrough and static live here, dns in dns.ts.
import { isIP } from "node:net";
import { Code } from "../codes.js";
import { RpcError } from "../errors.js";
import type { ChannelOptions } from "./options.js";
import { addressFor, passthroughAddress, splitHostPort, type Target } from "./target.js";

/** One address a resolver found. */
export interface ResolvedAddress {
  /** Dialable as it is: "tcp://10.0.0.7:7001?codec=msgpack", "grpc://[::1]:50051". */
  readonly address: string;
  /** TLS transports: the name the server's certificate must carry (the DNS name an IP came from). */
  readonly servername?: string;
}

/** Where a resolver reports; the channel passes one in. */
export interface ResolverListener {
  /** The full, current list (never empty: report an error instead). */
  addresses(addresses: readonly ResolvedAddress[]): void;
  /** Resolution failed; a resolver retries by itself, and keeps the last list until a new one. */
  error(err: RpcError): void;
}

export interface Resolver {
  /** Resolve again soon: the channel asks when a connection fails (rate limits are the resolver's). */
  resolveNow(): void;
  /** Stop: no more reports. */
  close(): void;
}

/**
 * Makes a resolver for a target: at dial (where a TypeError refuses a bad target), and again each
 * time the channel leaves IDLE. A resolver reports on a later tick, never during this call, and
 * does nothing once closed, so one made and closed at once costs nothing.
 */
export type ResolverFactory = (target: Target, listener: ResolverListener, options: ChannelOptions) => Resolver;

const resolvers = new Map<string, ResolverFactory>();

/** Makes `scheme:///...` targets resolve through `factory`; a scheme registered again is replaced. */
export function registerResolver(scheme: string, factory: ResolverFactory): void {
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme)) throw new TypeError(`rpc: resolver scheme ${JSON.stringify(scheme)} must match [a-z][a-z0-9+.-]*`);
  resolvers.set(scheme, factory);
}

export function resolverFor(scheme: string): ResolverFactory | undefined {
  return resolvers.get(scheme);
}

export function resolverSchemes(): ReadonlySet<string> {
  return new Set(resolvers.keys());
}

/** A resolver with a fixed list: reported once, on the next microtask (never during construction). */
export function fixedResolver(list: readonly ResolvedAddress[], listener: ResolverListener): Resolver {
  let closed = false;
  queueMicrotask(() => {
    if (!closed) listener.addresses(list);
  });
  return {
    resolveNow() {},
    close() {
      closed = true;
    },
  };
}

/** `passthrough:///tcp://127.0.0.1:7001`: the endpoint is the one address. */
registerResolver("passthrough", (target, listener) => {
  if (!target.endpoint) throw new TypeError(`rpc: ${target.text} names no address (hint: passthrough:///127.0.0.1:7001)`);
  return fixedResolver([{ address: passthroughAddress(target) }], listener);
});

/** `static:///127.0.0.1:7001,127.0.0.2:7002?transport=grpc`: a fixed list of host:port. */
registerResolver("static", (target, listener) => {
  if (target.authority) throw new TypeError(`rpc: ${target.text}: static targets take no authority (hint: static:///127.0.0.1:7001,127.0.0.2:7002)`);
  const list = target.endpoint.split(",").filter((part) => part.trim() !== "");
  if (list.length === 0) throw new TypeError(`rpc: ${target.text} lists no address (hint: static:///127.0.0.1:7001,127.0.0.2:7002)`);
  return fixedResolver(
    list.map((part) => {
      const { host, port } = splitHostPort(part, target);
      return isIP(host) ? { address: addressFor(target, host, port) } : { address: addressFor(target, host, port), servername: host };
    }),
    listener,
  );
});

/** The error a resolver reports when it found nothing. */
export function noAddresses(target: Target, why: string): RpcError {
  return new RpcError(Code.UNAVAILABLE, `rpc: ${target.text}: ${why}`);
}
