// TLS transport on node:tls: tls://host:port is tcp:// inside TLS (every codec, gRPC, WebSocket on one port).
import net from "node:net";
import tls from "node:tls";
import { Code } from "../core/codes.js";
import { RpcError } from "../core/errors.js";
import { debug } from "../core/debug.js";
import type { Peer } from "../core/context.js";
import type { Connection, Listener, StreamTransport, TransportDialOptions, TransportListenOptions } from "../core/transport.js";
import { DEFAULT_CONNECT_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT } from "../core/options.js";
import { endpointOf, listenOn } from "./tcp.js";

/**
 * ALPN offered by a tls:// port: gRPC clients require h2 (PROTOCOL-HTTP2.md), browsers open
 * WebSockets over http/1.1; our own codecs offer nothing and get nothing.
 */
const ALPN = ["h2", "http/1.1"];

/** Who is on the other end of a TLS socket, with what its certificate says. */
export function peerOfTls(socket: tls.TLSSocket, transport = "tls"): Peer {
  const cert = socket.getPeerCertificate();
  const subject = cert && Object.keys(cert).length > 0 ? (cert.subject as unknown as Peer["subject"]) : undefined;
  return {
    transport,
    ...(typeof socket.remoteAddress === "string" ? { address: socket.remoteAddress, port: socket.remotePort ?? 0 } : {}),
    authorized: socket.authorized,
    ...(subject ? { subject } : {}),
  };
}

function dial(url: URL, options: TransportDialOptions): Promise<Connection> {
  const endpoint = endpointOf(url);
  if ("path" in endpoint) throw new TypeError(`rpc: ${url.href} needs a host and port`);
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  return new Promise((resolve, reject) => {
    // SNI takes a host name, never an address (RFC 6066); node checks the certificate against `host` then.
    const servername = net.isIP(endpoint.host) ? undefined : endpoint.host;
    const socket = tls.connect({ host: endpoint.host, port: endpoint.port, ...(servername ? { servername } : {}), ...options.tls });
    const fail = (err: RpcError) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error) => fail(new RpcError(Code.UNAVAILABLE, `rpc: dial ${url.href}: ${err.message}`, { cause: err }));
    const onAbort = () => fail(new RpcError(Code.CANCELLED, `rpc: dial ${url.href}: aborted`, { cause: options.signal?.reason }));
    const timer = setTimeout(() => fail(new RpcError(Code.UNAVAILABLE, `rpc: dial ${url.href}: no TLS connection after ${timeout} ms`)), timeout);
    const cleanup = () => {
      clearTimeout(timer);
      socket.removeListener("error", onError);
      options.signal?.removeEventListener("abort", onAbort);
    };
    socket.once("error", onError);
    socket.once("secureConnect", () => {
      cleanup();
      socket.setNoDelay(true);
      resolve({ stream: socket, peer: peerOfTls(socket) });
    });
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A failed handshake (bad bytes, an untrusted client certificate, handshakeTimeout) costs only its
 * own socket. node:tls leaves that socket open once 'tlsClientError' has a listener: close it here.
 */
export function closeFailedHandshake(err: Error, socket: tls.TLSSocket): void {
  debug("tls: handshake failed: %s", err.message);
  socket.destroy();
}

function listen(url: URL, onConnection: (conn: Connection) => void, options: TransportListenOptions = {}): Promise<Listener> {
  if (!options.tls) throw new TypeError(`rpc: listen ${url.href}: tls needs options.tls with a key and certificate`);
  const endpoint = endpointOf(url);
  const server = tls.createServer({
    ...options.tls,
    ALPNProtocols: ALPN,
    handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    noDelay: true,
  });
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    // Half-open only once secure: a TLS socket whose peer hangs up mid-handshake would otherwise wait for handshakeTimeout.
    // After it, a client that ends its side still gets the replies to calls it already sent.
    socket.allowHalfOpen = true;
    onConnection({ stream: socket, peer: peerOfTls(socket) });
  });
  server.on("tlsClientError", closeFailedHandshake);
  return listenOn(server, endpoint, url);
}

export const tlsTransport: StreamTransport = { schemes: ["tls"], dial, listen };
