// The transports under test: one row each, and what the suites need to know about it. Every row
// binds a fresh address (port 0, a temporary socket path, a new memory name), so files and rows
// never collide. Adding a transport is one row here; test/transports/*.test.ts run every row.
import dc from "node:diagnostics_channel";
import { rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Duplex } from "node:stream";
import { Server, json, memory, registerTransport, type Client, type DialOptions, type Listener, type ListenOptions, type MemoryListener, type ServerOptions } from "../../index.js";
import { messageCodec } from "../../transports/grpc/messages.js";
import { makeCerts, type Certs } from "./certs.js";
import { connect, type Teardown } from "./net.js";

registerTransport(memory);

export interface TransportRow {
  readonly name: string;
  /** A fresh address to listen on. */
  address(): string;
  readonly listenOptions?: ListenOptions;
  readonly dialOptions?: DialOptions;
  /**
   * What a message is on the wire, for sizing one to the limit: the codec's envelope (call id,
   * method, params) on byte streams and WebSocket, or the bare params over HTTP/2, whose frames
   * carry the rest.
   */
  readonly messages: "envelope" | "http2";
  /** Past the server's message limit, a byte stream or WebSocket is closed; an HTTP/2 connection serves on. */
  readonly oversizeClosesConnection: boolean;
}

let serial = 0;
const unique = (what: string) => `netrpc-${what}-${process.pid}-${++serial}`;

const socketPaths: string[] = [];
process.once("exit", () => {
  for (const p of socketPaths) rmSync(p, { force: true });
});

// Made on first use, so files that run no TLS row spend nothing on openssl.
let made: Certs | undefined;
const certs = () => (made ??= makeCerts());
const serverTls = (): ListenOptions => ({ tls: { key: certs().serverKey, cert: certs().serverCert } });
const clientTls = (): DialOptions => ({ tls: { ca: certs().ca, servername: "localhost" } });

/** A row over TLS: certificates made on first use, for the listener and the client. */
function secured(row: Omit<TransportRow, "listenOptions" | "dialOptions">): TransportRow {
  return {
    ...row,
    get listenOptions() {
      return serverTls();
    },
    get dialOptions() {
      return clientTls();
    },
  };
}

export const TRANSPORTS: readonly TransportRow[] = [
  { name: "tcp", address: () => "tcp://127.0.0.1:0", messages: "envelope", oversizeClosesConnection: true },
  {
    name: "unix",
    address: () => {
      const p = path.join(os.tmpdir(), `${unique("sock")}.sock`);
      socketPaths.push(p);
      return `unix://${p}`;
    },
    messages: "envelope",
    oversizeClosesConnection: true,
  },
  { name: "memory", address: () => `memory://${unique("mem")}`, messages: "envelope", oversizeClosesConnection: true },
  secured({ name: "tls", address: () => "tls://127.0.0.1:0", messages: "envelope", oversizeClosesConnection: true }),
  // One WebSocket message per envelope: the limit counts the envelope, as on the byte streams.
  { name: "ws", address: () => "ws://127.0.0.1:0", messages: "envelope", oversizeClosesConnection: true },
  secured({ name: "wss", address: () => "wss://127.0.0.1:0", messages: "envelope", oversizeClosesConnection: true }),
  { name: "grpc", address: () => "grpc://127.0.0.1:0", messages: "http2", oversizeClosesConnection: false },
  secured({ name: "grpcs", address: () => "grpcs://127.0.0.1:0", messages: "http2", oversizeClosesConnection: false }),
];

export interface RowServer {
  server: Server;
  listener: Listener;
  url: string;
}

/** A Server with `services` registered, listening on the row's transport; closed at teardown. */
export async function listenOn(t: Teardown, row: TransportRow, register: (server: Server) => void, options?: ServerOptions): Promise<RowServer> {
  const server = new Server(options);
  register(server);
  const listener = await server.listen(row.address(), row.listenOptions);
  t.teardown(() => server.close());
  return { server, listener, url: listener.url };
}

/** dial() with the row's options (certificates) and `options`; closed at teardown. */
export function dialRow(t: Teardown, row: TransportRow, url: string, options: DialOptions = {}): Promise<Client> {
  return connect(t, url, { ...row.dialOptions, ...options });
}

/** The address with ?codec=name, which picks the codec on every transport. */
export function withCodec(url: string, codec: string): string {
  const u = new URL(url);
  u.searchParams.set("codec", codec);
  return u.href;
}

// Server-side sockets, as node:net accepts them (tcp, unix, and the sockets under TLS, HTTP/2 and
// WebSocket), so a test can cut a connection from the server's end as a crashing peer would.
const accepted = new Set<net.Socket>();
dc.subscribe("net.server.socket", (message) => {
  const socket = (message as { socket: net.Socket }).socket;
  accepted.add(socket);
  socket.once("close", () => accepted.delete(socket));
});

/** The server's ends of the connections `listener` accepted that are still open. */
export function serverEnds(listener: Listener): Duplex[] {
  if ("connections" in listener) return [...(listener as MemoryListener).connections];
  if (listener.port !== undefined) return [...accepted].filter((socket) => socket.localPort === listener.port);
  // A unix socket has no port: its listening server's address is the path.
  const unixPath = decodeURIComponent(new URL(listener.url).pathname);
  return [...accepted].filter((socket) => (socket as net.Socket & { server?: net.Server }).server?.address() === unixPath);
}

/** Destroys the server's end of every open connection on `listener`; returns how many. */
export function hangUp(listener: Listener): number {
  const ends = serverEnds(listener);
  for (const end of ends) end.destroy();
  return ends.length;
}

const byteLength = (e: string | Uint8Array) => (typeof e === "string" ? Buffer.byteLength(e, "utf8") : e.length);

/** The bytes the server's limit counts for the first request of a fresh JSON client. */
export function requestSize(row: TransportRow, method: string, params: unknown): number {
  if (row.messages === "http2") return byteLength(bodies(method).encodeRequest(params));
  return byteLength(json.fork().encodeRequest({ kind: "request", id: 0, method, params, timeout: undefined, metadata: {} }));
}

/** The bytes the client's limit counts for the first reply on a fresh JSON connection. */
export function replySize(row: TransportRow, method: string, result: unknown): number {
  if (row.messages === "http2") return byteLength(bodies(method).encodeResponse(result));
  return byteLength(json.fork().encodeResponse({ kind: "response", id: 0, result }));
}

function bodies(method: string) {
  const found = messageCodec(json).forMethod(method);
  if (typeof found === "string") throw new Error(found);
  return found;
}

/** A text length n for which `size(text of n)` is exactly `target` (ASCII: one byte per character). */
export function textLengthFor(size: (n: number) => number, target: number): number {
  const n = target - size(0);
  if (n < 0 || size(n) !== target) throw new Error(`no text makes a message of exactly ${target} bytes (empty: ${size(0)})`);
  return n;
}
