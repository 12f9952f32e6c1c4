// The Server: a registry of services, interceptors, and the connections and listeners it serves.
import type net from "node:net";
import type { Duplex } from "node:stream";
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import { compose, type Interceptor, type Next } from "./interceptor.js";
import { Registry, isLookupFailure, type RegisterOptions } from "./registry.js";
import { ServerConnection, type Dispatcher } from "./server-conn.js";
import type { Peer } from "./context.js";
import type { Codec } from "./codec.js";
import type { Listener } from "./transport.js";
import { DEFAULT_MAX_CONCURRENT_CALLS, DEFAULT_MAX_MESSAGE_SIZE, MAX_MESSAGE_LIMIT, intOption } from "./options.js";
import { json } from "../codecs/json.js";
import { codecFor } from "../codecs/registry.js";
import { parseTarget, transportFor } from "../transports/registry.js";
import { peerOf } from "../transports/tcp.js";

export interface ServerOptions {
  /** Codec for connections that do not choose one; default JSON (Go's net/rpc/jsonrpc wire format). */
  codec?: Codec;
  /** Largest message accepted, in bytes; default 4 MiB, as gRPC. A larger one closes its connection. */
  maxMessageSize?: number;
  /** Handlers running per connection before new calls get RESOURCE_EXHAUSTED; default 4096. */
  maxConcurrentCalls?: number;
  /** Run around every call, the first outermost. */
  interceptors?: Interceptor[];
}

export interface ServeConnOptions {
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
  readonly #codec: Codec;
  readonly #registry = new Registry();
  readonly #interceptors: Interceptor[];
  #chain: Next | undefined;
  readonly #dispatcher: Dispatcher;
  readonly #connections = new Set<ServerConnection>();
  readonly #listeners = new Set<Listener>();
  readonly #netServers = new Set<net.Server>();
  #state: "serving" | "draining" | "closed" = "serving";

  constructor(options: ServerOptions = {}) {
    this.maxMessageSize = intOption("maxMessageSize", options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 1, MAX_MESSAGE_LIMIT);
    this.maxConcurrentCalls = intOption("maxConcurrentCalls", options.maxConcurrentCalls, DEFAULT_MAX_CONCURRENT_CALLS, 1, 2 ** 31 - 1);
    this.#codec = options.codec ?? json;
    this.#interceptors = [...(options.interceptors ?? [])];
    this.#dispatcher = {
      maxMessageSize: this.maxMessageSize,
      maxConcurrentCalls: this.maxConcurrentCalls,
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

  /** Exposes obj's methods as "Service.Method"; the service is obj's class name unless `name` is given. */
  register(obj: object, options?: RegisterOptions): this {
    this.#registry.register(obj, options);
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

  /** Serves one connection (any Duplex) until it ends; the promise settles then and never rejects. */
  serveConn(stream: Duplex, options: ServeConnOptions = {}): Promise<void> {
    if (this.#state !== "serving") {
      stream.destroy();
      return Promise.resolve();
    }
    const conn = new ServerConnection(this.#dispatcher, stream, (options.codec ?? this.#codec).fork(), options.peer ?? peerOf(stream));
    this.#connections.add(conn);
    void conn.idle().then(() => this.#connections.delete(conn));
    return conn.done;
  }

  /** Serves every connection a net.Server (or tls.Server) accepts; closed with the server. */
  serve(netServer: net.Server): this {
    if (this.#state !== "serving") throw new RpcError(Code.UNAVAILABLE, "rpc: server is closed");
    this.#netServers.add(netServer);
    // A net.Server still binding when close() runs would start listening afterwards: stop it then.
    netServer.once("listening", () => {
      if (this.#state !== "serving") netServer.close();
    });
    netServer.on("connection", (socket: net.Socket) => {
      socket.setNoDelay(true);
      void this.serveConn(socket);
    });
    return this;
  }

  /** Binds an address such as tcp://127.0.0.1:1234 or unix:///tmp/app.sock (`?codec=` picks the codec). */
  async listen(address: string): Promise<Listener> {
    if (this.#state !== "serving") throw new RpcError(Code.UNAVAILABLE, "rpc: server is closed");
    const url = parseTarget(address);
    const codec = codecFor(url, this.#codec);
    const listener = await transportFor(url).listen(url, ({ stream, peer }) => void this.serveConn(stream, { codec, peer }));
    if (this.#state !== "serving") {
      // close() or shutdown() ran while we were binding.
      await listener.close();
      throw new RpcError(Code.UNAVAILABLE, "rpc: server is closed");
    }
    this.#listeners.add(listener);
    return listener;
  }

  /** Stops at once: listeners close, connections are cut, handlers see their signal abort. Idempotent. */
  async close(): Promise<void> {
    this.#state = "closed";
    for (const conn of this.#connections) conn.close();
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
    const connections = [...this.#connections];
    for (const conn of connections) conn.drain();
    await Promise.all([stopping, ...connections.map((conn) => conn.idle())]);
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
