// A MessageChannel over the WHATWG WebSocket interface: ws's WebSocket class in Node, the global
// WebSocket in a browser. Browser-safe: nothing here imports node: modules.
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";
import { tooLarge } from "../../core/framing/newline.js";
import type { Encoded } from "../../core/codec.js";
import type { ChannelHandler, MessageChannel } from "../../core/channel.js";
import { CloseCode, closeReason } from "./protocol.js";

/** The part of the WebSocket interface the channel uses (readyState values as in the standard). */
export interface WebSocketLike {
  readonly readyState: number;
  /** The subprotocol the server chose ("" for none). */
  readonly protocol: string;
  binaryType: string;
  send(data: string | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "error" | "close", listener: (event: any) => void): void;
  removeEventListener(type: "open" | "message" | "error" | "close", listener: (event: any) => void): void;
}

export const OPEN = 1;
export const CLOSING = 2;

const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
const encoder = new TextEncoder();

/**
 * What a close event says, for an UNAVAILABLE error's message. `error` is the message of an
 * 'error' event before it: ws reports its own refusals (a message too large, bad UTF-8) that way.
 */
export function describeClose(event: { code?: number; reason?: string }, error?: string): string {
  const code = event.code ?? CloseCode.ABNORMAL;
  if (code === CloseCode.ABNORMAL) return `the connection dropped without a close frame${error ? ` (${error})` : ""}`;
  if (error) return `closed (${code}): ${error}`;
  return `closed by the peer (${code}${event.reason ? ` ${event.reason}` : ""})`;
}

/**
 * One WebSocket message is one message of the channel: text arrives as a string, binary as bytes
 * (a Buffer in Node, so codecs read it as they read a socket's; ws hands us one as it is). Messages larger than
 * maxMessageSize end the channel with RESOURCE_EXHAUSTED (in Node, ws's maxPayload stops them
 * before they are buffered; a browser can only count them once they are in).
 */
export class WebSocketChannel implements MessageChannel {
  readonly #socket: WebSocketLike;
  readonly #limit: number;
  #handler: ChannelHandler | undefined;
  #closed = false;
  /** The last 'error' event's message, if it had one (browsers give none). */
  #error: string | undefined;
  #tooBig = false;
  /** Why our own side ended the socket (Node's keepalive), as an 'error' before the close. */
  #fatal: RpcError | undefined;

  constructor(socket: WebSocketLike, maxMessageSize: number) {
    this.#socket = socket;
    this.#limit = maxMessageSize;
    // ws in Node gives binary messages as Buffers without a copy; browsers ignore "nodebuffer".
    socket.binaryType = "nodebuffer";
    if (socket.binaryType !== "nodebuffer") socket.binaryType = "arraybuffer";
  }

  open(handler: ChannelHandler): void {
    this.#handler = handler;
    const socket = this.#socket;
    socket.addEventListener("message", this.#onMessage);
    socket.addEventListener("error", this.#onError);
    socket.addEventListener("close", this.#onClose);
    // No 'close' event will come for a socket that is already closing: fail now rather than hang every call.
    if (socket.readyState >= CLOSING) this.#end(new RpcError(Code.UNAVAILABLE, "rpc: connection lost: the WebSocket was already closed"));
  }

  readonly #onMessage = (event: { data: unknown }): void => {
    if (this.#closed) return;
    const data = event.data;
    let frame: Encoded;
    let size: number;
    if (typeof data === "string") {
      frame = data;
      size = data.length * 3 > this.#limit ? encoder.encode(data).length : data.length;
    } else if (data instanceof Uint8Array) {
      frame = data; // a Buffer, from ws in Node
      size = data.byteLength;
    } else if (data instanceof ArrayBuffer) {
      frame = NodeBuffer ? NodeBuffer.from(data) : new Uint8Array(data);
      size = data.byteLength;
    } else {
      this.close(new RpcError(Code.INTERNAL, "rpc: a WebSocket message that is neither text nor an ArrayBuffer"));
      return;
    }
    if (size > this.#limit) {
      this.close(tooLarge(size, this.#limit));
      return;
    }
    this.#handler!.message(frame);
  };

  readonly #onError = (event: { message?: unknown; error?: { code?: unknown } }): void => {
    if (typeof event.message === "string" && event.message) this.#error = event.message;
    if (event.error instanceof RpcError) this.#fatal ??= event.error;
    // ws (Node) stops a message past maxPayload, our maxMessageSize, before buffering it.
    if (event.error?.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") this.#tooBig = true;
  };

  readonly #onClose = (event: { code?: number; reason?: string }): void => {
    if (this.#fatal) return this.#end(this.#fatal);
    // A reply past the limit: the same error a byte stream's framer gives.
    if (this.#tooBig) {
      this.#end(new RpcError(Code.RESOURCE_EXHAUSTED, `rpc: a message exceeds maxMessageSize ${this.#limit} (${this.#error})`));
      return;
    }
    // The peer stopped a message of ours past its limit: as a byte stream's server says in its last word.
    if (event.code === CloseCode.TOO_BIG) {
      const reason = event.reason ? `: ${event.reason}` : "";
      this.#end(new RpcError(Code.RESOURCE_EXHAUSTED, `rpc: the peer refused a message larger than its maxMessageSize (close code 1009${reason})`, { fromPeer: true }));
      return;
    }
    this.#end(new RpcError(Code.UNAVAILABLE, `rpc: connection lost: ${describeClose(event, this.#error)}`));
  };

  send(message: Encoded): void {
    if (this.#closed || this.#socket.readyState !== OPEN) return;
    this.#socket.send(message);
  }

  close(reason: RpcError): void {
    if (this.#closed) return;
    try {
      // Browsers allow only 1000 and 3000-4999 from a client: the reason text says why.
      this.#socket.close(CloseCode.NORMAL, closeReason(reason.message));
    } catch {
      // Closing a socket that failed to open may throw; it is gone either way.
    }
    this.#end(reason);
  }

  #end(reason: RpcError): void {
    if (this.#closed) return;
    this.#closed = true;
    const socket = this.#socket;
    socket.removeEventListener("message", this.#onMessage);
    socket.removeEventListener("error", this.#onError);
    socket.removeEventListener("close", this.#onClose);
    this.#handler?.closed(reason);
  }
}
