// The Server: a registry of services, interceptors, and the connections and listeners it serves.
import type { Duplex } from "node:stream";
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import { compose, type Interceptor, type Next } from "./interceptor.js";
import { Registry, isLookupFailure, type RegisterOptions } from "./registry.js";
import { ServerConnection, type Dispatcher } from "./server-conn.js";
import type { Peer } from "./context.js";
import type { Codec } from "./codec.js";
import type { Connection, Listener, ListenTlsOptions } from "./transport.js";
import { DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_CONCURRENT_CALLS, DEFAULT_MAX_MESSAGE_SIZE, MAX_MESSAGE_LIMIT, MAX_TIMER_MS, intOption } from "./options.js";
import { HTTP2, WEBSOCKET, sniffCodec } from "./sniff.js";
import { protoService, type ProtoServiceOptions } from "./proto-service.js";
import { json } from "../codecs/json.js";
import { msgpack } from "../codecs/msgpack.js";
import { protobuf, type ProtobufCodec } from "../codecs/protobuf/index.js";
import type { Root } from "protobufjs";
import { parseTarget, transportFor } from "../transports/registry.js";
import { endpointOf, listenOn, peerOf } from "../transports/tcp.js";
import { closeFailedHandshake, peerOfTls } from "../transports/tls.js";
import { GrpcServer } from "../transports/grpc/server.js";
import { DEFAULT_KEEPALIVE_MIN_TIME, DEFAULT_MAX_PING_STRIKES } from "./keepalive.js";
import { WebSocketGateway, type AttachOptions, type ServedConnection, type WebSocketEndpoint } from "../transports/ws/server.js";
import { messageCodec, type MessageCodec } from "../transports/grpc/messages.js";
import type http from "node:http";
import type https from "node:https";
import net from "node:net";
import tls from "node:tls";

const NO_CODECS: ReadonlyMap<string, Codec> = new Map();
/** Ping interval on WebSocket connections: a dead peer is found within two of them. */
export const DEFAULT_KEEPALIVE_INTERVAL = 30_000;

export interface ServerOptions {
  /**
   * The codecs this server speaks; default JSON (Go's net/rpc/jsonrpc wire format) and msgpack.
   * Every port serves all of them: each connection's first bytes say which it uses.
   */
  codecs?: Codec[];
  /** Milliseconds a connection that has begun its codec preface gets to finish it; default 10 s. */
  handshakeTimeout?: number;
  /** Largest message accepted, in bytes; default 4 MiB, as gRPC. A larger one closes its connection. */
  maxMessageSize?: number;
  /** Handlers running per connection before new calls get RESOURCE_EXHAUSTED; default 4096. */
  maxConcurrentCalls?: number;
  /** Run around every call, the first outermost. */
  interceptors?: Interceptor[];
  /**
   * gRPC replies: "gzip" compresses them when the client accepts gzip; default "identity". A
   * handler can decide per call with `ctx.compressResponse`.
   */
  compression?: "gzip" | "identity";
  /**
   * WebSocket and gRPC (HTTP/2) connections: milliseconds between the server's pings; a peer
   * that has not answered the previous ping when the next is due is cut. Default 30 s; 0 turns
   * pings off.
   */
  keepaliveInterval?: number;
  /**
   * gRPC: the shortest interval at which a client may ping (gRPC's PERMIT_KEEPALIVE_TIME);
   * default 5 minutes, as gRPC; 0 for any. Sending headers or data forgives earlier pings.
   */
  keepaliveMinTime?: number;
  /** gRPC: accept pings while the client has no call running; default false (they must then be two hours apart). */
  keepalivePermitWithoutCalls?: boolean;
  /**
   * gRPC: pings too soon that are forgiven; the next one gets GOAWAY ENHANCE_YOUR_CALM
   * "too_many_pings", and the connection ends after its calls in flight. Default 2, as gRPC; 0 for no limit.
   */
  maxPingStrikes?: number;
}

export interface ListenOptions {
  /**
   * Certificates for tls://, grpcs:// and wss://: key, cert; ca with requestCert (and
   * rejectUnauthorized, the default) for mutual TLS.
   */
  tls?: ListenTlsOptions;
}

export interface ServeConnOptions {
  /** Accept only this codec on the connection (default: any the server speaks). */
  codec?: Codec;
  peer?: Peer;
}

/**
 * Serves registered objects. `register(obj)` exposes the methods of obj's class as
 * "ClassName.Method"; `serveConn(socket)` serves one connection; `listen(url)` binds an address.
 */
export class Server {
  readonly maxMessageSize: number;
  readonly maxConcurrentCalls: number;
  readonly handshakeTimeout: number;
  readonly keepaliveInterval: number;
  readonly keepaliveMinTime: number;
  readonly keepalivePermitWithoutCalls: boolean;
  readonly maxPingStrikes: number;
  readonly #codecs: Map<string, Codec>;
  readonly #registry = new Registry();
  readonly #protoRoots: Root[] = [];
  readonly #interceptors: Interceptor[];
  #chain: Next | undefined;
  readonly #dispatcher: Dispatcher;
  readonly #connections = new Set<ServerConnection>();
  /** Streams still sending their first bytes, cut by close() and shutdown(). */
  readonly #handshaking = new Set<Duplex>();
  readonly #listeners = new Set<Listener>();
  readonly #netServers = new Set<net.Server>();
  #state: "serving" | "draining" | "closed" = "serving";
  readonly #compressReplies: boolean;
  #grpc: GrpcServer | undefined;
  #webSocket: WebSocketGateway | undefined;
  readonly #messageCodecs = new Map<string, MessageCodec>();

  constructor(options: ServerOptions = {}) {
    this.maxMessageSize = intOption("maxMessageSize", options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 1, MAX_MESSAGE_LIMIT);
    this.maxConcurrentCalls = intOption("maxConcurrentCalls", options.maxConcurrentCalls, DEFAULT_MAX_CONCURRENT_CALLS, 1, 2 ** 31 - 1);
    this.handshakeTimeout = intOption("handshakeTimeout", options.handshakeTimeout, DEFAULT_HANDSHAKE_TIMEOUT, 1, MAX_TIMER_MS);
    this.keepaliveInterval = intOption("keepaliveInterval", options.keepaliveInterval, DEFAULT_KEEPALIVE_INTERVAL, 0, MAX_TIMER_MS);
    this.keepaliveMinTime = intOption("keepaliveMinTime", options.keepaliveMinTime, DEFAULT_KEEPALIVE_MIN_TIME, 0, MAX_TIMER_MS);
    this.maxPingStrikes = intOption("maxPingStrikes", options.maxPingStrikes, DEFAULT_MAX_PING_STRIKES, 0, 2 ** 31 - 1);
    const permit = options.keepalivePermitWithoutCalls;
    if (permit !== undefined && typeof permit !== "boolean") throw new TypeError(`rpc: option keepalivePermitWithoutCalls must be a boolean, got ${String(permit)}`);
    this.keepalivePermitWithoutCalls = permit === true;
    this.#codecs = new Map((options.codecs ?? [json, msgpack]).map((c) => [c.name, c]));
    if (this.#codecs.size === 0) throw new RangeError("rpc: option codecs must name at least one codec");
    this.#interceptors = [...(options.interceptors ?? [])];
    if (options.compression !== undefined && options.compression !== "gzip" && options.compression !== "identity") {
      throw new RangeError(`rpc: option compression must be "gzip" or "identity", got ${String(options.compression)}`);
    }
    this.#compressReplies = options.compression === "gzip";
    this.#dispatcher = {
      maxMessageSize: this.maxMessageSize,
      maxConcurrentCalls: this.maxConcurrentCalls,
      pingPolicy: { minTime: this.keepaliveMinTime, permitWithoutCalls: this.keepalivePermitWithoutCalls, maxStrikes: this.maxPingStrikes },
      resolve: (name) => this.#registry.lookup(name),
      dispatch: (method, req, ctx) => {
        if (this.#interceptors.length === 0) return method.call(req.params, ctx);
        // Interceptors may pass on a different request, so the last step looks its method up by name.
        this.#chain ??= compose(this.#interceptors, async (r, c) => {
          const found = this.#registry.lookup(r.method);
          if (isLookupFailure(found)) throw new RpcError(Code.UNIMPLEMENTED, found.message);
          return found.call(r.params, c);
        });
        return this.#chain({ method: req.method, params: req.params }, ctx);
      },
    };
  }

  /**
   * Exposes obj's methods as "Service.Method"; the service is obj's class name unless `name` is
   * given. With `service` (and `proto`), a protobuf service's rpcs map onto obj's methods, and the
   * server's protobuf codec learns the service's message types.
   */
  register(obj: object, options: RegisterOptions & Partial<ProtoServiceOptions> = {}): this {
    if (options.service === undefined) {
      this.#registry.register(obj, options);
      return this;
    }
    const own = this.#codecs.get("protobuf") as ProtobufCodec | undefined;
    const mapped = protoService(obj, options as ProtoServiceOptions, own ? [...own.roots, ...this.#protoRoots] : this.#protoRoots);
    this.#registry.register(obj, { name: options.service, ...(mapped.methods ? { methods: mapped.methods, kinds: mapped.kinds! } : {}) });
    if (mapped.root) {
      this.#protoRoots.push(mapped.root);
      // The codec's method table is fixed when it is made: make it again with every proto known.
      this.#codecs.set("protobuf", protobuf({ root: [...(own?.roots ?? []), mapped.root] }));
      this.#messageCodecs.delete("protobuf");
    }
    return this;
  }

  /** Adds interceptors after those already installed (so they run inside them). */
  use(...interceptors: Interceptor[]): this {
    this.#interceptors.push(...interceptors);
    this.#chain = undefined;
    return this;
  }

  /** Every callable "Service.Method", sorted. */
  methods(): string[] {
    return this.#registry.list();
  }

  /** Every protobufjs Root registered services came from (for reflection). */
  protoRoots(): readonly Root[] {
    const own = this.#codecs.get("protobuf") as ProtobufCodec | undefined;
    return [...new Set([...(own?.roots ?? []), ...this.#protoRoots])];
  }

  /** The gRPC side of this server, made on first use. */
  #grpcServer(): GrpcServer {
    this.#grpc ??= new GrpcServer({
      ...this.#dispatcher,
      compressReplies: this.#compressReplies,
      keepalive: { interval: this.keepaliveInterval, minTime: this.keepaliveMinTime, permitWithoutCalls: this.keepalivePermitWithoutCalls, maxPingStrikes: this.maxPingStrikes },
      messageCodec: (name) => {
        let found = this.#messageCodecs.get(name);
        if (found) return found;
        const codec = this.#codecs.get(name);
        if (!codec) return undefined;
        found = messageCodec(codec);
        this.#messageCodecs.set(name, found);
        return found;
      },
    });
    return this.#grpc;
  }

  /** The WebSocket side of this server, made on first use. */
  #webSockets(): WebSocketGateway {
    this.#webSocket ??= new WebSocketGateway({
      maxMessageSize: this.maxMessageSize,
      handshakeTimeout: this.handshakeTimeout,
      keepaliveInterval: this.keepaliveInterval,
      pingPolicy: this.#dispatcher.pingPolicy,
      codecs: () => this.#codecs,
      serve: (stream, codec, peer) => this.#serveStream(stream, codec, peer),
    });
    return this.#webSocket;
  }

  /** The codecs this server speaks, by name. */
  codecs(): string[] {
    return [...this.#codecs.keys()];
  }

  /**
   * Serves one connection (any Duplex) until it closes; the promise settles then and never
   * rejects. The codec is the one the connection's first bytes ask for.
   */
  async serveConn(stream: Duplex, options: ServeConnOptions = {}): Promise<void> {
    if (this.#state !== "serving") return void stream.destroy();
    const codecs = options.codec ? new Map([[options.codec.name, options.codec]]) : this.#codecs;
    this.#handshaking.add(stream);
    const any = options.codec === undefined;
    // WebSocket needs a real socket underneath (ws sets its timeouts and Nagle).
    const webSocket = any && stream instanceof net.Socket;
    const codec = await sniffCodec(stream, { codecs, handshakeTimeout: this.handshakeTimeout, http2: any, webSocket });
    this.#handshaking.delete(stream);
    if (!codec) return;
    if (this.#state !== "serving") return void stream.destroy();
    if (codec === HTTP2) {
      this.#grpcServer().serveSocket(stream);
      return;
    }
    if (codec === WEBSOCKET) {
      this.#webSockets().serveSocket(stream as net.Socket);
      return;
    }
    const conn = this.#serveStream(stream, codec, options.peer ?? peerOf(stream));
    return conn instanceof ServerConnection ? conn.done : undefined;
  }

  /** Serves a stream whose codec is known (sniffed, or chosen by a WebSocket subprotocol). */
  #serveStream(stream: Duplex, codec: Codec, peer: Peer): ServerConnection | ServedConnection {
    if (this.#state !== "serving") {
      stream.destroy();
      return { drain: () => {}, idle: () => Promise.resolve(), running: 0 };
    }
    const conn = new ServerConnection(this.#dispatcher, stream, codec.fork(), peer);
    this.#connections.add(conn);
    void conn.idle().then(() => this.#connections.delete(conn));
    return conn;
  }

  /** Serves every connection a net.Server (or tls.Server) accepts; closed with the server. */
  serve(netServer: net.Server): this {
    if (this.#state !== "serving") throw new RpcError(Code.UNAVAILABLE, "rpc: server is closed");
    this.#netServers.add(netServer);
    // A net.Server still binding when close() runs would start listening afterwards: stop it then.
    netServer.once("listening", () => {
      if (this.#state !== "serving") netServer.close();
    });
    // A tls.Server's 'connection' is the raw TCP socket, still encrypted: take its TLS sockets instead.
    if (netServer instanceof tls.Server) {
      netServer.on("secureConnection", (socket: tls.TLSSocket) => {
        socket.setNoDelay(true);
        void this.serveConn(socket, { peer: peerOfTls(socket) });
      });
      if (netServer.listenerCount("tlsClientError") === 0) netServer.on("tlsClientError", closeFailedHandshake);
      return this;
    }
    netServer.on("connection", (socket: net.Socket) => {
      socket.setNoDelay(true);
      void this.serveConn(socket);
    });
    return this;
  }

  /**
   * Binds an address: tcp://127.0.0.1:1234, tls://host:port (with `options.tls`) or unix:app.sock
   * (every codec, gRPC and WebSocket upgrades on one port; `?codec=` limits it to one codec),
   * grpc://host:port (gRPC over cleartext HTTP/2), grpcs://host:port (over TLS, with
   * `options.tls`), ws://host:port/path or wss://host:port/path (WebSocket; without a path, any
   * path).
   */
  async listen(address: string, options: ListenOptions = {}): Promise<Listener> {
    if (this.#state !== "serving") throw new RpcError(Code.UNAVAILABLE, "rpc: server is closed");
    const url = parseTarget(address);
    if (url.protocol === "grpc:" || url.protocol === "grpcs:") return this.#listenGrpc(url, options);
    if (url.protocol === "ws:" || url.protocol === "wss:") return this.#adopt(await this.#webSockets().listen(url, options.tls));
    // ?codec=name limits the port to that codec; otherwise it serves every codec.
    const only = url.searchParams.get("codec");
    const codec = only === null ? undefined : this.#codecs.get(only);
    if (only !== null && !codec) throw new TypeError(`rpc: listen ${address}: this server does not speak codec ${JSON.stringify(only)} (it speaks ${this.codecs().join(", ")})`);
    const onConnection = ({ stream, peer }: Connection) => void this.serveConn(stream, { ...(codec ? { codec } : {}), peer });
    return this.#adopt(await transportFor(url).listen(url, onConnection, { tls: options.tls, handshakeTimeout: this.handshakeTimeout }));
  }

  /** Keeps a new listener for close(), unless close() or shutdown() ran while it was binding. */
  async #adopt(listener: Listener): Promise<Listener> {
    if (this.#state !== "serving") {
      await listener.close();
      throw new RpcError(Code.UNAVAILABLE, "rpc: server is closed");
    }
    this.#listeners.add(listener);
    return listener;
  }

  /**
   * Serves netrpc over WebSocket at `options.path` of an http or https server you run, next to
   * its other requests and upgrade paths; the codec is the subprotocol's (`netrpc.msgpack`).
   * close() on the result detaches it; the server's close() and shutdown() do too. The http
   * server itself is never closed by netrpc.
   */
  attach(httpServer: http.Server | https.Server, options: AttachOptions): WebSocketEndpoint {
    if (this.#state !== "serving") throw new RpcError(Code.UNAVAILABLE, "rpc: server is closed");
    return this.#webSockets().attach(httpServer, options);
  }

  /**
   * grpc:// and grpcs:// ports: plain or TLS sockets whose HTTP/2 preface we read ourselves (within
   * handshakeTimeout) before node:http2 takes them, as on a tcp:// port.
   */
  async #listenGrpc(url: URL, options: ListenOptions): Promise<Listener> {
    let netServer: net.Server;
    if (url.protocol === "grpcs:") {
      if (!options.tls) throw new TypeError(`rpc: listen ${url.href}: grpcs needs options.tls with a key and certificate`);
      netServer = tls.createServer({ ...options.tls, ALPNProtocols: ["h2"], handshakeTimeout: this.handshakeTimeout });
      netServer.on("secureConnection", (socket: tls.TLSSocket) => {
        // gRPC requires HTTP/2 negotiated by ALPN (PROTOCOL-HTTP2.md); http/1.1 over TLS is refused.
        if (socket.alpnProtocol !== "h2") return void socket.destroy();
        void this.#serveHttp2(socket);
      });
      netServer.on("tlsClientError", closeFailedHandshake);
    } else {
      netServer = net.createServer({ noDelay: true }, (socket) => void this.#serveHttp2(socket));
    }
    return this.#adopt(await listenOn(netServer, endpointOf(url), url));
  }

  async #serveHttp2(socket: net.Socket): Promise<void> {
    if (this.#state !== "serving") return void socket.destroy();
    this.#handshaking.add(socket);
    const opened = await sniffCodec(socket, { codecs: NO_CODECS, handshakeTimeout: this.handshakeTimeout, http2Only: true });
    this.#handshaking.delete(socket);
    if (opened !== HTTP2) return;
    if (this.#state !== "serving") return void socket.destroy();
    this.#grpcServer().serveSocket(socket);
  }

  /** Stops at once: listeners close, connections are cut, handlers see their signal abort. Idempotent. */
  async close(): Promise<void> {
    this.#state = "closed";
    for (const stream of this.#handshaking) stream.destroy();
    this.#webSocket?.close();
    for (const conn of this.#connections) conn.close();
    this.#grpc?.close();
    await this.#stopAccepting();
  }

  /**
   * Stops gracefully: listeners close, new calls are refused with UNAVAILABLE, running handlers
   * finish and are answered, then each connection closes (a peer that keeps its side open is cut
   * after a second). Resolves when every handler has returned; close() cuts it short.
   */
  async shutdown(): Promise<void> {
    if (this.#state === "serving") this.#state = "draining";
    const stopping = this.#stopAccepting();
    for (const stream of this.#handshaking) stream.destroy();
    this.#webSocket?.drain();
    const connections = [...this.#connections];
    for (const conn of connections) conn.drain();
    await Promise.all([stopping, ...connections.map((conn) => conn.idle()), this.#grpc?.drain()]);
  }

  #stopAccepting(): Promise<void> {
    const listeners = [...this.#listeners].map((l) => l.close());
    // close() on a server that is not bound yet only reports ERR_SERVER_NOT_RUNNING; the 'listening' hook in serve() covers it.
    const netServers = [...this.#netServers].map((s) => new Promise<void>((done) => s.close(() => done())));
    this.#listeners.clear();
    this.#netServers.clear();
    return Promise.all([...listeners, ...netServers]).then(() => undefined);
  }
}
