// TCP and unix-socket transport on node:net: tcp://host:port, unix:///path.
import net from "node:net";
import type { Duplex } from "node:stream";
import { Code } from "../core/codes.js";
import { RpcError } from "../core/errors.js";
import type { Peer } from "../core/context.js";
import type { Connection, TransportDialOptions, Listener, StreamTransport } from "../core/transport.js";
import { DEFAULT_CONNECT_TIMEOUT } from "../core/options.js";

type Endpoint = { path: string } | { host: string; port: number };

/** Reads host and port (tcp) or the socket path (unix) from a URL. */
export function endpointOf(url: URL): Endpoint {
  if (url.protocol === "unix:") {
    const path = decodeURIComponent(url.host ? `${url.host}${url.pathname}` : url.pathname);
    if (!path) throw new TypeError(`rpc: ${url.href} names no socket path (hint: unix:app.sock)`);
    return { path };
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new TypeError(`rpc: ${url.href} names no host (hint: tcp://127.0.0.1:1234)`);
  if (url.port === "") throw new TypeError(`rpc: ${url.href} names no port (hint: tcp://${url.hostname}:1234, or :0 to listen on any free port)`);
  return { host, port: Number(url.port) };
}

/** Who is on the other end of a stream: a TCP address and port, a unix socket, or unknown. */
export function peerOf(stream: Duplex): Peer {
  if (!(stream instanceof net.Socket)) return { transport: "stream" };
  if (typeof stream.remoteAddress !== "string") return { transport: "unix" };
  return { transport: "tcp", address: stream.remoteAddress, port: stream.remotePort ?? 0 };
}

function translate(err: NodeJS.ErrnoException, what: string): RpcError {
  return new RpcError(Code.UNAVAILABLE, `rpc: ${what}: ${err.message}`, { cause: err });
}

function dial(url: URL, options: TransportDialOptions): Promise<Connection> {
  const endpoint = endpointOf(url);
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  return new Promise((resolve, reject) => {
    const socket = "path" in endpoint ? net.connect({ path: endpoint.path }) : net.connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    const fail = (err: RpcError) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onError = (err: NodeJS.ErrnoException) => fail(translate(err, `dial ${url.href}`));
    const onAbort = () => fail(new RpcError(Code.CANCELLED, `rpc: dial ${url.href}: aborted`, { cause: options.signal?.reason }));
    const timer = setTimeout(() => fail(new RpcError(Code.UNAVAILABLE, `rpc: dial ${url.href}: no connection after ${timeout} ms`)), timeout);
    const cleanup = () => {
      clearTimeout(timer);
      socket.removeListener("error", onError);
      options.signal?.removeEventListener("abort", onAbort);
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      cleanup();
      resolve({ stream: socket, peer: peerOf(socket) });
    });
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function listen(url: URL, onConnection: (conn: Connection) => void): Promise<Listener> {
  const endpoint = endpointOf(url);
  // allowHalfOpen: a client that ends its side still gets the replies to calls it already sent.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    onConnection({ stream: socket, peer: peerOf(socket) });
  });
  return listenOn(server, endpoint, url);
}

/** Binds a net.Server and describes it as a Listener. */
export function listenOn(server: net.Server, endpoint: Endpoint, url: URL): Promise<Listener> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(translate(err, `listen ${url.href}`)));
    server.listen("path" in endpoint ? endpoint.path : { host: endpoint.host, port: endpoint.port }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : undefined;
      const bound = new URL(url.href);
      if (port !== undefined) bound.port = String(port);
      let closing: Promise<void> | undefined;
      resolve({
        url: bound.href.replace(/\/$/, ""),
        port,
        close: () => (closing ??= new Promise((done) => server.close(() => done()))),
      });
    });
  });
}

export const tcp: StreamTransport = { schemes: ["tcp", "unix"], dial, listen };
