// netrpc over WebSocket, server side: upgrades arrive from an http server we are attached to, a
// ws:// or wss:// listener, or a netrpc tcp/tls port whose connection began with "GET ".
import http from "node:http";
import type https from "node:https";
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { debug } from "../../core/debug.js";
import type { Codec, CodecSession } from "../../core/codec.js";
import type { Peer } from "../../core/context.js";
import { Code } from "../../core/codes.js";
import type { Listener, ListenTlsOptions } from "../../core/transport.js";
import { endpointOf, listenOn } from "../tcp.js";
import { closeFailedHandshake, peerOfTls } from "../tls.js";
import { PingPolicy, TOO_MANY_PINGS, type PingPolicyOptions } from "../../core/keepalive.js";
import { WebSocketDuplex } from "./duplex.js";
import { CloseCode, codecNameOf, isTextCodec, subprotocolOf } from "./protocol.js";

/** What the gateway needs from its Server. */
export interface WebSocketHost {
  readonly maxMessageSize: number;
  readonly handshakeTimeout: number;
  /** Milliseconds between pings; 0 turns keepalive off. */
  readonly keepaliveInterval: number;
  /** How often a client may ping (keepaliveMinTime, keepalivePermitWithoutCalls, maxPingStrikes). */
  readonly pingPolicy: PingPolicyOptions;
  /** The codecs the server speaks now, by name. */
  codecs(): ReadonlyMap<string, Codec>;
  /** Serves one connection whose codec is already chosen, until it closes. */
  serve(stream: Duplex, codec: Codec, peer: Peer): ServedConnection;
}

/** The Server's connection, as far as an endpoint closing it gracefully needs. */
export interface ServedConnection {
  /** Refuse new calls, finish running ones, then end (the close code is the duplex's). */
  drain(): void;
  /** Settles when the connection has closed and its handlers have returned. */
  idle(): Promise<void>;
  /** Calls in flight (the ping policy treats pings without calls more strictly). */
  readonly running: number;
}

export interface AttachOptions {
  /** The path WebSocket upgrades are taken at, e.g. "/rpc"; other paths are left to the http server. */
  path: string;
}

/** netrpc at a path of an http(s) server you run. */
export interface WebSocketEndpoint {
  readonly path: string;
  /**
   * Stops taking upgrades at the path; its connections finish the calls in flight and close
   * with 1001. The http server itself keeps running. Idempotent.
   */
  close(): Promise<void>;
}

interface Served {
  readonly duplex: WebSocketDuplex;
  readonly conn: ServedConnection;
}

/** The path of a request target ("/rpc?x=1" → "/rpc"). */
function pathOf(target: string | undefined): string {
  const t = target ?? "/";
  const q = t.indexOf("?");
  return q === -1 ? t : t.slice(0, q);
}

/** Answers an upgrade we will not take with a plain HTTP status and a readable reason, then closes. */
function refuse(socket: Duplex, status: number, message: string): void {
  debug("websocket upgrade refused: %d %s", status, message);
  const body = `${message}\n`;
  socket.once("finish", () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** The close code for a connection's last word (an error about the connection itself). */
function closeCodeFor(code: Code, message: string): number {
  switch (code) {
    case Code.RESOURCE_EXHAUSTED:
      return /maxMessageSize/.test(message) ? CloseCode.TOO_BIG : CloseCode.POLICY;
    case Code.INTERNAL:
    case Code.UNKNOWN:
      return CloseCode.INTERNAL;
    default:
      return CloseCode.INVALID_DATA;
  }
}

/**
 * The codec's session, made to tell the duplex why the connection is ending: the server's last
 * word (a response with no call id) is sent just before it ends the connection, so its code picks
 * the close code and its message the close reason.
 */
function watchLastWord(session: CodecSession, duplex: WebSocketDuplex): CodecSession {
  const encodeResponse = session.encodeResponse.bind(session);
  session.encodeResponse = (res) => {
    if (res.id === null && res.error) duplex.endWith(closeCodeFor(res.error.code, res.error.message), res.error.message);
    return encodeResponse(res);
  };
  return session;
}

/**
 * Takes WebSocket upgrades for one Server: chooses the codec from the subprotocol, wraps the
 * socket in a Duplex and hands it to the server, pings idle peers, and closes with 1001 when the
 * server goes away.
 */
export class WebSocketGateway {
  readonly #host: WebSocketHost;
  readonly #wss: WebSocketServer;
  readonly #served = new Set<Served>();
  /** Internal http servers that read the upgrade request of sockets handed to us, by path ("" for any). */
  readonly #sites = new Map<string, http.Server>();
  /** Sockets still sending their HTTP request, cut when the server stops. */
  readonly #pending = new Map<Duplex, () => void>();
  readonly #detach = new Set<() => void>();
  #stopped = false;

  constructor(host: WebSocketHost) {
    this.#host = host;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: host.maxMessageSize,
      handleProtocols: (offered) => {
        const chosen = this.#choose([...offered]);
        return typeof chosen === "string" ? false : subprotocolOf(chosen.name);
      },
    });
  }

  /** The codec a client's subprotocols ask for, or why none fits. No subprotocol at all means JSON. */
  #choose(offered: string[]): Codec | string {
    const codecs = this.#host.codecs();
    const speaks = [...codecs.keys()].map(subprotocolOf).join(", ");
    if (offered.length === 0) {
      return codecs.get("json") ?? `rpc: name a codec with a subprotocol (this endpoint speaks ${speaks})`;
    }
    for (const protocol of offered) {
      const name = codecNameOf(protocol);
      const codec = name === undefined ? undefined : codecs.get(name);
      if (codec) return codec;
    }
    return `rpc: this endpoint does not speak subprotocol ${offered.join(", ")} (it speaks ${speaks})`;
  }

  /** Takes one upgrade request (from any http server); `group` collects the connection for its endpoint. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, group?: Set<Served>): void {
    this.#pending.get(socket)?.();
    if (this.#stopped) return refuse(socket, 503, "rpc: server is shutting down");
    const header = req.headers["sec-websocket-protocol"];
    const offered = header === undefined ? [] : header.split(",").map((p) => p.trim()).filter((p) => p !== "");
    const codec = this.#choose(offered);
    if (typeof codec === "string") return refuse(socket, 400, codec);
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#serve(ws, codec, req, group));
  }

  #serve(ws: WebSocket, codec: Codec, req: http.IncomingMessage, group: Set<Served> | undefined): void {
    const socket = req.socket;
    const duplex = new WebSocketDuplex(ws, isTextCodec(codec.name), socket);
    const peer: Peer =
      socket instanceof tls.TLSSocket
        ? peerOfTls(socket, "wss")
        : { transport: "ws", ...(typeof socket.remoteAddress === "string" ? { address: socket.remoteAddress, port: socket.remotePort ?? 0 } : {}) };
    const conn = this.#host.serve(duplex, { name: codec.name, fork: () => watchLastWord(codec.fork(), duplex) }, peer);
    const served = { duplex, conn };
    this.#served.add(served);
    group?.add(served);
    duplex.once("close", () => {
      this.#served.delete(served);
      group?.delete(served);
    });
    this.#keepAlive(ws, duplex);
    this.#limitPings(ws, duplex, conn);
  }

  /** A client may not ping more often than the server's policy allows, here as on every transport (gRPC's A8). */
  #limitPings(ws: WebSocket, duplex: WebSocketDuplex, conn: ServedConnection): void {
    const options = this.#host.pingPolicy;
    let policy: PingPolicy | undefined;
    ws.on("ping", () => {
      if (!(policy ??= new PingPolicy(options)).received(conn.running)) return;
      debug("websocket peer pings too often: closing with 1008");
      duplex.closeNow(CloseCode.POLICY, `rpc: ${TOO_MANY_PINGS}: this server takes pings at most every ${options.minTime} ms${options.permitWithoutCalls ? "" : ", and only while calls run"}`);
    });
  }

  /** Pings every keepaliveInterval; a peer that has not answered the previous ping is cut. */
  #keepAlive(ws: WebSocket, duplex: WebSocketDuplex): void {
    const interval = this.#host.keepaliveInterval;
    if (interval === 0) return;
    let answered = true;
    ws.on("pong", () => (answered = true));
    const timer = setInterval(() => {
      if (!answered) {
        debug("websocket peer did not answer a ping within %d ms: terminating", interval);
        duplex.destroy();
        return;
      }
      answered = false;
      ws.ping();
    }, interval);
    timer.unref();
    duplex.once("close", () => clearInterval(timer));
  }

  /**
   * Serves a socket whose first bytes are an HTTP request (put back unread): a netrpc port that
   * saw "GET ", or a ws:// listener. `path` limits the upgrades taken to one path. The request
   * must become an upgrade within handshakeTimeout; any other request gets 426.
   */
  serveSocket(socket: net.Socket, path?: string): void {
    if (this.#stopped) return void socket.destroy();
    const timer = setTimeout(() => {
      debug("no WebSocket upgrade within %d ms", this.#host.handshakeTimeout);
      socket.destroy();
    }, this.#host.handshakeTimeout);
    const settle = () => {
      clearTimeout(timer);
      this.#pending.delete(socket);
    };
    this.#pending.set(socket, settle);
    socket.once("close", settle);
    this.#site(path).emit("connection", socket);
    socket.resume();
  }

  #site(path: string | undefined): http.Server {
    const key = path ?? "";
    let site = this.#sites.get(key);
    if (site) return site;
    const speaks = () => [...this.#host.codecs().keys()].map(subprotocolOf).join(", ");
    site = http.createServer((req, res) => {
      this.#pending.get(req.socket)?.();
      res.writeHead(426, { Connection: "close", Upgrade: "websocket", "Content-Type": "text/plain; charset=utf-8" });
      res.end(`rpc: this is a netrpc WebSocket endpoint: connect with a WebSocket client (subprotocols ${speaks()})\n`);
    });
    site.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const at = pathOf(req.url);
      if (path !== undefined && at !== path) {
        this.#pending.get(socket)?.();
        return refuse(socket, 404, `rpc: no netrpc endpoint at ${at} (it is at ${path})`);
      }
      this.upgrade(req, socket, head);
    });
    this.#sites.set(key, site);
    return site;
  }

  /** ws://host:port/path or wss:// (with `tls`): a listener of its own. Without a path, any path is taken. */
  listen(url: URL, tlsOptions: ListenTlsOptions | undefined): Promise<Listener> {
    const path = url.pathname === "/" || url.pathname === "" ? undefined : url.pathname;
    let server: net.Server;
    if (url.protocol === "wss:") {
      if (!tlsOptions) throw new TypeError(`rpc: listen ${url.href}: wss needs options.tls with a key and certificate`);
      server = tls.createServer({ ...tlsOptions, ALPNProtocols: ["http/1.1"], handshakeTimeout: this.#host.handshakeTimeout, noDelay: true });
      server.on("secureConnection", (socket: tls.TLSSocket) => this.serveSocket(socket, path));
      server.on("tlsClientError", closeFailedHandshake);
    } else {
      server = net.createServer({ noDelay: true }, (socket) => this.serveSocket(socket, path));
    }
    return listenOn(server, endpointOf(url), url);
  }

  /** Takes upgrades at `path` on an http or https server; its other requests and upgrade paths are untouched. */
  attach(server: http.Server | https.Server, options: AttachOptions): WebSocketEndpoint {
    const path = options?.path;
    if (typeof path !== "string" || !path.startsWith("/")) throw new TypeError(`rpc: attach needs options.path starting with "/", got ${JSON.stringify(path)}`);
    if (this.#stopped) throw new TypeError("rpc: attach: the server is closed");
    const group = new Set<Served>();
    const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (pathOf(req.url) === path) return this.upgrade(req, socket, head, group);
      // Another listener (another endpoint, a proxy) may take this path; alone, we answer for the server.
      if (server.listenerCount("upgrade") === 1) refuse(socket, 404, `rpc: no WebSocket endpoint at ${pathOf(req.url)}`);
    };
    server.on("upgrade", onUpgrade);
    const detach = () => void server.removeListener("upgrade", onUpgrade);
    this.#detach.add(detach);
    let closing: Promise<void> | undefined;
    return {
      path,
      close: () =>
        (closing ??= (() => {
          detach();
          this.#detach.delete(detach);
          const served = [...group];
          for (const { duplex, conn } of served) {
            duplex.endWith(CloseCode.GOING_AWAY, "rpc: endpoint closed");
            conn.drain();
          }
          return Promise.all(served.map(({ conn }) => conn.idle())).then(() => undefined);
        })()),
    };
  }

  /** No new upgrades; attached http servers are let go; sockets still sending a request are cut. */
  #stop(): void {
    this.#stopped = true;
    for (const detach of this.#detach) detach();
    this.#detach.clear();
    for (const socket of [...this.#pending.keys()]) socket.destroy();
  }

  /** The server is shutting down: each connection, once its calls are answered, closes with 1001. */
  drain(): void {
    this.#stop();
    for (const { duplex } of this.#served) duplex.endWith(CloseCode.GOING_AWAY, "rpc: server is shutting down");
  }

  /** The server closed: every connection gets a 1001 close frame now (the server then cuts them). */
  close(): void {
    this.#stop();
    for (const { duplex } of this.#served) duplex.closeNow(CloseCode.GOING_AWAY, "rpc: server is closed");
  }
}
