// dialWebSocket: a client connection over any WHATWG WebSocket class (a browser's, or ws's in
// Node). Browser-safe: nothing here imports node: modules.
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";
import { StreamClientConnection } from "../../core/client-conn.js";
import { DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE } from "../../core/options.js";
import type { Codec, CodecSession } from "../../core/codec.js";
import type { Peer } from "../../core/context.js";
import { json } from "../../codecs/json.js";
import { WebSocketChannel, type WebSocketLike } from "./channel.js";
import { subprotocolOf } from "./protocol.js";

/** A WebSocket class: `new WebSocket(url, protocols)`, as in browsers. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface WebSocketDialOptions {
  /** Default JSON; sent as the subprotocol netrpc.<name>. */
  codec?: Codec | undefined;
  /** Largest reply accepted, in bytes; default 4 MiB. */
  maxMessageSize?: number | undefined;
  /** Milliseconds to wait for the WebSocket to open; default 20 s. */
  connectTimeout?: number | undefined;
  signal?: AbortSignal | undefined;
  /** The WebSocket class to open the connection with; default globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor | undefined;
}

/** A client connection over one WebSocket. */
export class WebSocketConnection extends StreamClientConnection {
  readonly peer: Peer;

  constructor(channel: WebSocketChannel, codec: CodecSession, peer: Peer) {
    super(channel, codec);
    this.peer = peer;
  }
}

/**
 * Opens `ws://host:port/path` or `wss://...` with the subprotocol of `options.codec` (default
 * JSON). `?codec=` in the URL is not read here (the caller picks the codec object) and is not
 * sent. Rejects with UNAVAILABLE when the WebSocket does not open (with the server's reason when
 * the WebSocket class reports it), CANCELLED on abort, a TypeError for a URL that is not ws(s).
 */
export function dialWebSocket(address: URL | string, options: WebSocketDialOptions = {}): Promise<WebSocketConnection> {
  const url = new URL(address);
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new TypeError(`rpc: dialWebSocket needs a ws:// or wss:// URL, got ${url.href}`);
  const Socket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Socket) throw new TypeError("rpc: no WebSocket class here (hint: pass options.WebSocket)");
  const codec = options.codec ?? json;
  const max = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  const protocol = subprotocolOf(codec.name);
  url.searchParams.delete("codec");
  const href = url.href;
  const peer: Peer = {
    transport: url.protocol === "wss:" ? "wss" : "ws",
    address: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port === "" ? (url.protocol === "wss:" ? 443 : 80) : Number(url.port),
  };
  return new Promise((resolve, reject) => {
    let socket: WebSocketLike;
    try {
      socket = new Socket(href, [protocol]);
    } catch (err) {
      reject(new RpcError(Code.UNAVAILABLE, `rpc: dial ${href}: ${(err as Error).message}`, { cause: err }));
      return;
    }
    let reported: string | undefined;
    const cleanup = () => {
      clearTimeout(timer);
      socket.removeEventListener("open", onOpen);
      socket.removeEventListener("error", onError);
      socket.removeEventListener("close", onClose);
      options.signal?.removeEventListener("abort", onAbort);
    };
    const fail = (err: RpcError) => {
      cleanup();
      try {
        socket.close();
      } catch {
        // A socket that never opened may refuse close(); it is gone either way.
      }
      reject(err);
    };
    const onOpen = () => {
      cleanup();
      // A server that ignored our subprotocol would read our messages in some other codec.
      if (socket.protocol !== protocol) {
        socket.close(1000, "rpc: wrong subprotocol");
        reject(new RpcError(Code.UNAVAILABLE, `rpc: dial ${href}: the server chose subprotocol ${JSON.stringify(socket.protocol)}, not ${protocol}`));
        return;
      }
      resolve(new WebSocketConnection(new WebSocketChannel(socket, max), codec.fork(), peer));
    };
    // The close event follows an error; its message (browsers give none) is the better reason.
    const onError = (event: { message?: unknown }) => {
      if (typeof event.message === "string" && event.message) reported ??= event.message;
    };
    const onClose = (event: { code?: number; reason?: string }) => {
      const why = reported ?? `the WebSocket closed before it opened (${event.code ?? 1006}${event.reason ? ` ${event.reason}` : ""})`;
      fail(new RpcError(Code.UNAVAILABLE, `rpc: dial ${href}: ${why}`));
    };
    const onAbort = () => fail(new RpcError(Code.CANCELLED, `rpc: dial ${href}: aborted`, { cause: options.signal?.reason }));
    const timer = setTimeout(() => fail(new RpcError(Code.UNAVAILABLE, `rpc: dial ${href}: no WebSocket connection after ${timeout} ms`)), timeout);
    socket.addEventListener("open", onOpen);
    socket.addEventListener("error", onError);
    socket.addEventListener("close", onClose);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
  });
}
