// A MessageChannel over a node byte stream: the codec's framer, the NRPC preface, batched writes.
import type { Duplex } from "node:stream";
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import { BatchWriter } from "./batch-writer.js";
import { ACK_OK, AckReader, encodeHello } from "./preface.js";
import { MessageFramer } from "./framing/message.js";
import type { CodecSession, Encoded } from "./codec.js";
import type { Framer } from "./framing/framer.js";
import type { ChannelHandler, MessageChannel } from "./channel.js";

/**
 * `codecName` other than "json" makes the channel open with a preface naming it, and wait for
 * the server's ack before delivering messages. An objectMode stream carries whole messages
 * (one chunk, one message), so it gets neither framing nor a preface.
 */
export class DuplexChannel implements MessageChannel {
  readonly #stream: Duplex;
  readonly #framer: Framer;
  readonly #writer: BatchWriter;
  #ack: AckReader | undefined;
  #handler: ChannelHandler | undefined;
  #closed = false;

  constructor(stream: Duplex, codec: CodecSession, codecName: string, maxMessageSize: number) {
    this.#stream = stream;
    const whole = stream.readableObjectMode;
    this.#framer = whole ? new MessageFramer(maxMessageSize) : codec.createFramer(maxMessageSize);
    this.#writer = new BatchWriter(stream);
    if (codecName !== "json" && !whole) {
      this.#ack = new AckReader();
      this.#writer.write(encodeHello(codecName));
    }
  }

  open(handler: ChannelHandler): void {
    this.#handler = handler;
    const stream = this.#stream;
    const onFrame = (frame: Encoded) => handler.message(frame);
    stream.on("data", (chunk: Buffer | string) => {
      if (this.#closed) return;
      try {
        const rest = this.#ack ? this.#readAck(chunk as Buffer) : chunk;
        if (rest !== undefined && rest.length > 0) this.#framer.push(rest as Uint8Array, onFrame);
      } catch (err) {
        this.close(RpcError.from(err, Code.INTERNAL));
      }
    });
    const lost = (detail: string, cause?: unknown) => this.close(new RpcError(Code.UNAVAILABLE, `rpc: connection lost: ${detail}`, cause === undefined ? undefined : { cause }));
    stream.on("error", (err) => lost(err.message, err));
    stream.on("close", () => lost("closed by the peer"));
    stream.on("end", () => lost("closed by the peer"));
    // No 'close' will come for a stream that is already gone: fail now rather than hang every call.
    if (stream.destroyed || stream.readableEnded) lost("the stream was already closed");
  }

  /** The server's answer to our preface; returns the bytes after it once it is whole. */
  #readAck(chunk: Uint8Array): Uint8Array | undefined {
    const ack = this.#ack!.push(chunk);
    if (!ack) return undefined;
    this.#ack = undefined;
    if (ack.value.status !== ACK_OK) throw new RpcError(Code.UNIMPLEMENTED, ack.value.message || "rpc: the server refused our codec", { fromPeer: true });
    return ack.rest;
  }

  send(message: Encoded): void {
    if (this.#closed) return;
    this.#writer.write(this.#framer.frame(message));
  }

  close(reason: RpcError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer.flush();
    this.#stream.destroy();
    this.#handler?.closed(reason);
  }
}
