// A server-side WebSocket as a node Duplex in objectMode, so ServerConnection serves it like a socket.
import { Duplex, type Writable } from "node:stream";
import type { WebSocket } from "ws";
import { debug } from "../../core/debug.js";
import { FrameBatch } from "./frames.js";
import { CloseCode, closeReason } from "./protocol.js";

/** Bytes ws may hold unsent before a write waits for the socket (and 'drain' follows). */
const SEND_HIGH_WATER = 256 * 1024;

/**
 * Each 'data' chunk is one whole message (a string for text, a Buffer for binary) and each write()
 * sends one message, as text when the codec is textual and as binary otherwise. A message of the
 * other kind closes the connection with 1003. pause() and resume() reach the socket; a write
 * completes at once unless ws holds more than SEND_HIGH_WATER bytes unsent, so 'drain' comes
 * when ws's bufferedAmount falls. end() closes with the code set by endWith() (1000 unless
 * told), destroy() terminates the socket. `socket` is the one ws writes to: a batch of small
 * messages (one _writev) is framed here and leaves in one write to it rather than one each.
 */
export class WebSocketDuplex extends Duplex {
  readonly #ws: WebSocket;
  readonly #socket: Writable | undefined;
  readonly #text: boolean;
  readonly #batch = new FrameBatch(false);
  #endCode: number = CloseCode.NORMAL;
  #endReason = "";

  constructor(ws: WebSocket, text: boolean, socket?: Writable) {
    super({ objectMode: true });
    this.#ws = ws;
    this.#socket = socket;
    this.#text = text;
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      // Messages still in flight after we sent our close frame are not read.
      if (ws.readyState !== ws.OPEN) return;
      if (isBinary === text) {
        const want = text ? "text" : "binary";
        return this.closeNow(CloseCode.UNSUPPORTED_DATA, `rpc: this connection takes ${want} messages, got ${text ? "binary" : "text"}`);
      }
      if (!this.push(text ? data.toString("utf8") : data)) ws.pause();
    });
    ws.on("close", (code: number, reason: Buffer) => {
      debug("websocket closed: %d %s", code, reason.toString());
      this.push(null);
      this.destroy();
    });
    ws.on("error", (err: Error) => {
      debug("websocket error: %s", err.message);
      this.destroy();
    });
  }

  /** The close code and reason a later end() sends (1001 for a server going away, 1007 for bad data, ...). */
  endWith(code: number, reason: string): void {
    this.#endCode = code;
    this.#endReason = closeReason(reason);
  }

  /** Closes the WebSocket now with `code`: no more messages either way. */
  closeNow(code: number, reason: string): void {
    debug("closing websocket: %d %s", code, reason);
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.close(code, closeReason(reason));
  }

  override _read(): void {
    if (this.#ws.isPaused) this.#ws.resume();
  }

  override _write(chunk: string | Uint8Array, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#send([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: string | Uint8Array }>, callback: (error?: Error | null) => void): void {
    this.#send(chunks.map((c) => c.chunk), callback);
  }

  /**
   * Sends `messages` in order: the small ones framed here, together, in one socket write (ws
   * would write each on its own), larger ones through ws. Completes at once unless ws holds more
   * than SEND_HIGH_WATER bytes unsent; then when the last of them has reached the socket.
   */
  #send(messages: Array<string | Uint8Array>, callback: (error?: Error | null) => void): void {
    const ws = this.#ws;
    if (ws.readyState !== ws.OPEN) return callback();
    const binary = !this.#text;
    const socket = this.#socket;
    const batch = this.#batch;
    let waiting = false;
    const failed = (err?: Error | null) => {
      if (err) this.destroy(err);
    };
    const sent = (err?: Error | null) => {
      if (err) this.destroy(err);
      else if (waiting) callback();
    };
    const last = messages.length - 1;
    for (let i = 0; i <= last; i++) {
      const message = messages[i]!;
      if (socket && batch.add(message, binary)) continue;
      if (batch.size > 0) socket!.write(batch.take());
      ws.send(message, { binary }, i === last ? sent : failed);
    }
    if (batch.size > 0) socket!.write(batch.take(), sent);
    if (ws.bufferedAmount > SEND_HIGH_WATER) waiting = true;
    else callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.closeNow(this.#endCode, this.#endReason);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#ws.readyState !== this.#ws.CLOSED) this.#ws.terminate();
    callback(error);
  }
}
