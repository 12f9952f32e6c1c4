// The client's seam below the call multiplexer: whole messages in and out, whatever carries them
// (a framed byte stream, a WebSocket in Node or a browser). Browser-safe: no node: imports.
import type { Encoded } from "./codec.js";
import type { RpcError } from "./errors.js";

export interface ChannelHandler {
  /** One whole message from the peer (text for JSON on WebSocket, bytes otherwise). */
  message(frame: Encoded): void;
  /** The channel ended, once, with why: UNAVAILABLE when lost, the close() reason otherwise. */
  closed(err: RpcError): void;
}

export interface MessageChannel {
  /** Starts delivery; called once, by the connection that owns the channel. */
  open(handler: ChannelHandler): void;
  /** Sends one message, in order. Ignored once the channel has closed. */
  send(message: Encoded): void;
  /** Ends the channel now; the handler's closed() follows with `reason`. Idempotent. */
  close(reason: RpcError): void;
}
