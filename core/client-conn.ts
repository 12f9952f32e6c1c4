// The client's end of a byte-stream connection: one reader, a pending map keyed by call id.
import type { Duplex } from "node:stream";
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import { BatchWriter } from "./batch-writer.js";
import { ACK_OK, AckReader, encodeHello } from "./preface.js";
import type { CallContext } from "./context.js";
import type { CodecSession, Encoded } from "./codec.js";
import type { Framer } from "./framing/framer.js";
import type { RpcRequest } from "./interceptor.js";
import type { ResponseEnvelope } from "./envelope.js";
import { metadataAsText } from "./metadata.js";
import type { ClientConnection } from "./connection.js";

interface Pending {
  resolve(value: unknown): void;
  reject(err: RpcError): void;
  ctx: CallContext;
}

/**
 * Multiplexes calls over one stream. When the stream fails every pending call fails with one
 * error: CANCELLED "client is closed" after close(), UNAVAILABLE "connection lost" otherwise.
 */
export class StreamClientConnection implements ClientConnection {
  /** Settles (never rejects) with the reason the connection ended. */
  readonly closed: Promise<RpcError>;
  readonly #stream: Duplex;
  readonly #codec: CodecSession;
  readonly #framer: Framer;
  readonly #writer: BatchWriter;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #ack: AckReader | undefined;
  #error: RpcError | undefined;
  #resolveClosed!: (err: RpcError) => void;

  /** `codecName` other than "json" makes the connection open with a preface naming it. */
  constructor(stream: Duplex, codec: CodecSession, codecName: string, maxMessageSize: number) {
    this.#stream = stream;
    this.#codec = codec;
    this.#framer = codec.createFramer(maxMessageSize);
    this.#writer = new BatchWriter(stream);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    if (codecName !== "json") {
      this.#ack = new AckReader();
      this.#writer.write(encodeHello(codecName));
    }
    stream.on("data", (chunk: Buffer) => {
      try {
        const rest = this.#ack ? this.#readAck(chunk) : chunk;
        if (rest && rest.length > 0) this.#framer.push(rest, this.#onFrame);
      } catch (err) {
        this.#fail(RpcError.from(err, Code.INTERNAL));
      }
    });
    stream.on("error", (err) => this.#fail(new RpcError(Code.UNAVAILABLE, `rpc: connection lost: ${err.message}`, { cause: err })));
    stream.on("close", () => this.#fail(new RpcError(Code.UNAVAILABLE, "rpc: connection lost: closed by the peer")));
    stream.on("end", () => this.#fail(new RpcError(Code.UNAVAILABLE, "rpc: connection lost: closed by the peer")));
    // No 'close' will come for a stream that is already gone: fail now rather than hang every call.
    if (stream.destroyed || stream.readableEnded) this.#fail(new RpcError(Code.UNAVAILABLE, "rpc: connection lost: the stream was already closed"));
  }

  /** The server's answer to our preface; returns the bytes after it once it is whole. */
  #readAck(chunk: Uint8Array): Uint8Array | undefined {
    const ack = this.#ack!.push(chunk);
    if (!ack) return undefined;
    this.#ack = undefined;
    if (ack.value.status !== ACK_OK) throw new RpcError(Code.UNIMPLEMENTED, ack.value.message || "rpc: the server refused our codec", { fromPeer: true });
    return ack.rest;
  }

  /** Calls waiting for a reply. */
  get pending(): number {
    return this.#pending.size;
  }

  invoke(req: RpcRequest, ctx: CallContext): Promise<unknown> {
    if (this.#error) return Promise.reject(this.#error);
    if (req.kind !== undefined && req.kind !== "unary") {
      return Promise.reject(new RpcError(Code.UNIMPLEMENTED, `rpc: ${req.method}: ${req.kind}-streaming calls need a grpc:// connection`));
    }
    const id = this.#nextId++;
    let frame;
    try {
      const timeout = ctx.deadline === undefined ? undefined : Math.max(0, ctx.deadline - Date.now());
      frame = this.#framer.frame(this.#codec.encodeRequest({ kind: "request", id, method: req.method, params: req.params, timeout, metadata: metadataAsText(ctx.metadata) }));
    } catch (err) {
      return Promise.reject(RpcError.from(err, Code.INTERNAL));
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, ctx });
      if (ctx._cancellable) ctx._onAbort((reason) => {
        // The caller gave up: forget the call and tell the server, so its handler stops too.
        if (!this.#pending.delete(id)) return;
        reject(RpcError.from(reason, Code.CANCELLED));
        if (this.#error) return;
        try {
          this.#writer.write(this.#framer.frame(this.#codec.encodeCancel(id)));
        } catch (err) {
          this.#fail(RpcError.from(err, Code.INTERNAL));
        }
      });
      this.#writer.write(frame);
    });
  }

  readonly #onFrame = (frame: Encoded): void => {
    let res: ResponseEnvelope;
    try {
      res = this.#codec.decodeResponse(frame);
    } catch (err) {
      this.#fail(new RpcError(Code.INTERNAL, `rpc: bad response from server: ${(err as Error).message}`, { cause: err }));
      return;
    }
    if (res.id === null) {
      const e = res.error ?? { code: Code.UNKNOWN, message: "rpc: server closed the connection" };
      this.#fail(new RpcError(e.code, e.message, { fromPeer: true }));
      return;
    }
    const call = this.#pending.get(res.id as number);
    if (!call) return; // a reply to a call we already gave up on
    this.#pending.delete(res.id as number);
    if (res.error) call.reject(new RpcError(res.error.code, res.error.message, { fromPeer: true }));
    else call.resolve(res.result);
  };

  /** Closes by the user's choice; pending calls fail with CANCELLED. Idempotent. */
  close(): void {
    this.#fail(new RpcError(Code.CANCELLED, "rpc: client is closed"));
  }

  #fail(err: RpcError): void {
    if (this.#error) return;
    this.#error = err;
    this.#writer.flush();
    this.#stream.destroy();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of pending) {
      call.ctx._abort(err);
      call.reject(err);
    }
    this.#resolveClosed(err);
  }
}
