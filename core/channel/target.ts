// Channel targets: `scheme:///endpoint?query` names a resolver; anything else is one address
// (tcp://, ws://, grpc://, a bare host:port, ...) passed through as it is.

/** A target whose scheme names a resolver, e.g. `dns:///api.internal:7001?transport=grpc`. */
export interface Target {
  /** The resolver's scheme: "dns", "static", "passthrough", or one you registered. */
  readonly scheme: string;
  /** Between `//` and the third `/` (a DNS server, for gRPC); empty for `scheme:///...`. */
  readonly authority: string;
  /** What the resolver resolves: "api.internal:7001", "127.0.0.1:7001,127.0.0.2:7002". */
  readonly endpoint: string;
  /** `?transport=`, `?codec=` and the resolver's own parameters. */
  readonly query: URLSearchParams;
  /** The target as given. */
  readonly text: string;
}

const RESOLVER_TARGET = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)\/([^?#]*)(?:\?([^#]*))?$/i;

/** The target's resolver parts, when its scheme is one of `schemes`; undefined for a plain address. */
export function parseResolverTarget(text: string, schemes: ReadonlySet<string>): Target | undefined {
  const m = RESOLVER_TARGET.exec(text);
  if (!m || !schemes.has(m[1]!.toLowerCase())) return undefined;
  return { scheme: m[1]!.toLowerCase(), authority: m[2]!, endpoint: decodeURIComponent(m[3]!), query: new URLSearchParams(m[4] ?? ""), text };
}

/** A passthrough target's one address: the endpoint with its query (`?codec=` belongs to the address). */
export function passthroughAddress(target: Target): string {
  const query = target.query.toString();
  return query ? `${target.endpoint}?${query}` : target.endpoint;
}

/** Transports a resolved host:port may be dialed over, and the default. */
const HOST_PORT_TRANSPORTS = new Set(["tcp", "tls", "ws", "wss", "grpc", "grpcs"]);
export const DEFAULT_TRANSPORT = "tcp";

/**
 * The dialable address of `host:port` for a resolver target: `?transport=` picks the scheme
 * (default tcp), `?codec=` is kept, and `?path=` is the WebSocket path.
 */
export function addressFor(target: Target, host: string, port: number): string {
  const transport = target.query.get("transport") ?? DEFAULT_TRANSPORT;
  if (!HOST_PORT_TRANSPORTS.has(transport)) {
    throw new TypeError(`rpc: ${target.text}: transport ${JSON.stringify(transport)} cannot be reached at a host and port (hint: ?transport=${[...HOST_PORT_TRANSPORTS].join("|")})`);
  }
  const path = target.query.get("path") ?? "";
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const codec = target.query.get("codec");
  return `${transport}://${hostPart}:${port}${path && !path.startsWith("/") ? "/" : ""}${path}${codec ? `?codec=${encodeURIComponent(codec)}` : ""}`;
}

/** Splits "host:port" or "[v6]:port"; throws a TypeError naming the target when either is missing. */
export function splitHostPort(text: string, target: Target): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new TypeError(`rpc: ${target.text}: ${JSON.stringify(text)} is not host:port (hint: ${target.scheme}:///127.0.0.1:7001)`);
  }
  return { host: m[1] ?? m[2]!, port };
}
