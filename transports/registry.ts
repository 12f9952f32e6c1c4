// Transports by URL scheme; more can be registered.
import type { StreamTransport } from "../core/transport.js";
import { tcp } from "./tcp.js";
import { tlsTransport } from "./tls.js";
import { memory } from "./memory.js";

const transports = new Map<string, StreamTransport>();

/** Makes a transport's schemes available to dial() and Server.listen(). */
export function registerTransport(transport: StreamTransport): void {
  for (const scheme of transport.schemes) transports.set(scheme, transport);
}

registerTransport(tcp);
registerTransport(tlsTransport);
// In-process only: it binds nothing until something listens on memory://name.
registerTransport(memory);

/** Parses a target; a bare "host:port" means tcp://host:port. */
export function parseTarget(target: string): URL {
  const href = /^[a-z][a-z0-9+.-]*:/i.test(target) && !/^[^:/]+:\d+$/.test(target) ? target : `tcp://${target}`;
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    throw new TypeError(`rpc: cannot parse address ${JSON.stringify(target)} (hint: tcp://127.0.0.1:1234, tls://localhost:1234 or unix:app.sock)`);
  }
  return url;
}

export function transportFor(url: URL): StreamTransport {
  const scheme = url.protocol.slice(0, -1);
  const transport = transports.get(scheme);
  if (!transport) {
    throw new TypeError(`rpc: no transport for scheme ${JSON.stringify(scheme)} (known: ${[...transports.keys()].join(", ")})`);
  }
  return transport;
}
