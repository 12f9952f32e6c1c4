// The transport seam for byte streams: dial an address, or listen and hand over each connection.
import type { Duplex } from "node:stream";
import type tls from "node:tls";
import type { Peer } from "./context.js";

/** A bound address. `url` shows the real port when port 0 was asked for. */
export interface Listener {
  readonly url: string;
  /** The bound TCP port (undefined for unix sockets). */
  readonly port: number | undefined;
  /** Stops accepting; connections already accepted are left to their server. */
  close(): Promise<void>;
}

export interface Connection {
  readonly stream: Duplex;
  readonly peer: Peer;
}

export interface TransportDialOptions {
  /** Milliseconds to wait for the connection; default 20 s (gRPC's minimum connect timeout). */
  connectTimeout?: number;
  signal?: AbortSignal;
  /** TLS schemes: CA, client certificate and key (mutual TLS), servername, rejectUnauthorized. */
  tls?: tls.ConnectionOptions | undefined;
}

/** Server certificates and the client-certificate policy of a TLS listener. */
export type ListenTlsOptions = tls.SecureContextOptions & Pick<tls.TlsOptions, "requestCert" | "rejectUnauthorized">;

export interface TransportListenOptions {
  /** TLS schemes: the server's key and certificate, and `ca` + `requestCert` for mutual TLS. */
  tls?: ListenTlsOptions | undefined;
  /** Milliseconds a TLS handshake may take before the connection is cut. */
  handshakeTimeout?: number | undefined;
}

export interface StreamTransport {
  /** URL schemes served, e.g. ["tcp", "unix"]. */
  readonly schemes: readonly string[];
  dial(url: URL, options: TransportDialOptions): Promise<Connection>;
  listen(url: URL, onConnection: (conn: Connection) => void, options?: TransportListenOptions): Promise<Listener>;
}
