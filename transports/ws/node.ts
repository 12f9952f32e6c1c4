// The ws package's WebSocket class, set up for dial() in Node: TLS options, the message limit,
// the server's reason for a refused upgrade, and optional keepalive pings.
import type tls from "node:tls";
import type http from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket } from "ws";
import { debug } from "../../core/debug.js";
import { KeepalivePinger, type KeepaliveSettings } from "../../core/keepalive.js";
import type { WebSocketConstructor } from "./dial.js";
import { FrameBatch } from "./frames.js";

/** How much of a refusal's body is read for the error message. */
const MAX_REFUSAL_BODY = 1024;

export interface NodeWebSocketOptions {
  /** wss://: CA, client certificate and key (mutual TLS), servername, rejectUnauthorized. */
  tls?: tls.ConnectionOptions | undefined;
  /** Largest message accepted: ws stops a larger one before buffering it and closes with 1009. */
  maxMessageSize: number;
  /** Pings to the server (its pongs are the acks); none when undefined. */
  keepalive?: KeepaliveSettings | undefined;
  /** Calls are running on the connection (pings wait for them unless permitted without). */
  busy?: (() => boolean) | undefined;
}

/** Reads a refused upgrade's status and (the start of) its body into an 'error', then aborts. */
function refused(socket: WebSocket, res: http.IncomingMessage): void {
  let body = "";
  res.setEncoding("utf8");
  res.on("data", (chunk: string) => {
    if (body.length < MAX_REFUSAL_BODY) body += chunk;
  });
  const report = () => {
    const text = body.slice(0, MAX_REFUSAL_BODY).trim();
    socket.emit("error", new Error(`the server refused the WebSocket: HTTP ${res.statusCode}${text ? `: ${text}` : ""}`));
    socket.terminate();
  };
  res.once("end", report);
  res.once("error", report);
}

/**
 * Pings the server as `settings` say. A pong missing past the timeout terminates the socket, after
 * an 'error' carrying the RpcError that the channel ends the calls with.
 */
function keepAlive(socket: WebSocket, settings: KeepaliveSettings, busy: () => boolean): void {
  let acked: (() => void) | undefined;
  socket.on("pong", () => {
    const ack = acked;
    acked = undefined;
    ack?.();
  });
  const pinger = new KeepalivePinger(settings, {
    busy,
    ping: (onAck) => {
      if (socket.readyState !== WebSocket.OPEN) return false;
      acked = onAck;
      socket.ping();
      return true;
    },
    dead: (err) => {
      debug("websocket server did not answer a ping within %d ms: terminating", settings.timeout);
      socket.emit("error", err);
      socket.terminate();
    },
  });
  socket.once("close", () => pinger.stop());
}

/** A WebSocket class for dialWebSocket with these options built in. */
export function nodeWebSocket(options: NodeWebSocketOptions): WebSocketConstructor {
  return class NodeWebSocket extends WebSocket {
    /** The socket ws writes to, once upgraded. */
    #socket: Duplex | undefined;
    /** Messages sent in this tick, framed and written together once its work is done. */
    readonly #batch = new FrameBatch(true);
    readonly #flush = () => this.#write();

    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { ...(options.tls as object), maxPayload: options.maxMessageSize, perMessageDeflate: false, followRedirects: false });
      // The channel listens through addEventListener; this keeps an 'error' nobody else hears from being thrown.
      this.on("error", (err: Error) => debug("websocket client error: %s", err.message));
      this.on("unexpected-response", (_req: http.ClientRequest, res: http.IncomingMessage) => refused(this, res));
      this.once("upgrade", (res: http.IncomingMessage) => (this.#socket = res.socket));
      const keepalive = options.keepalive;
      if (keepalive) this.once("open", () => keepAlive(this, keepalive, options.busy ?? (() => false)));
    }

    /**
     * ws writes each message to the socket as it is sent, with its own writes and bookkeeping.
     * Calls send their requests one by one as they are made, so small messages are queued here
     * until the tick's work is done and leave framed together in one write (core/batch-writer.ts
     * does this for byte streams). Anything else (a callback, options, a large message) goes
     * through ws, after what is queued.
     */
    override send(data: any, options?: any, cb?: any): void {
      if (options === undefined && this.readyState === WebSocket.OPEN && this.#socket && (typeof data === "string" || data instanceof Uint8Array)) {
        const first = this.#batch.size === 0;
        if (this.#batch.add(data, typeof data !== "string")) {
          if (first) process.nextTick(this.#flush);
          return;
        }
      }
      this.#write();
      super.send(data, options, cb);
    }

    /** The close frame goes after the messages sent before it. */
    override close(code?: number, reason?: string | Buffer): void {
      this.#write();
      super.close(code, reason);
    }

    #write(): void {
      if (this.#batch.size === 0) return;
      const frames = this.#batch.take();
      const socket = this.#socket!;
      // As ws does with a message sent once the connection is closing: it is dropped.
      if (this.readyState === WebSocket.OPEN && !socket.destroyed && !socket.writableEnded) socket.write(frames);
    }
  };
}
