// The client's end of a message connection (byte stream or WebSocket): calls and streams multiplexed by id.
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import type { CallContext } from "./context.js";
import type { CodecSession, Encoded } from "./codec.js";
import type { RpcRequest } from "./interceptor.js";
import { STREAM_WINDOW, type ClientInbound } from "./envelope.js";
import { metadataAsText } from "./metadata.js";
import { MessageQueue } from "./message-queue.js";
import type { ClientConnection } from "./connection.js";
import type { MessageChannel } from "./channel.js";
import { KeepalivePinger, TOO_MANY_PINGS, type KeepaliveSettings } from "./keepalive.js";

interface Call {
  readonly method: string;
  readonly ctx: CallContext;
  resolve(value: unknown): void;
  reject(err: RpcError): void;
  /** Server and bidi streams: the replies, read by the caller. */
  replies?: MessageQueue<unknown> | undefined;
  /** Client and bidi streams: requests we may still send before the server grants more. */
  credit: number;
  wakeSender?: (() => void) | undefined;
  ended: boolean;
}

/**
 * Multiplexes calls over one channel. When the channel fails every pending call fails with one
 * error: CANCELLED "client is closed" after close(), UNAVAILABLE "connection lost" otherwise.
 * Streams follow the envelope protocol: messages by call id, the client's half-close, and
 * credit (core/envelope.ts STREAM_WINDOW) both ways, so neither side can flood the other.
 */
export class StreamClientConnection implements ClientConnection {
  /** Settles (never rejects) with the reason the connection ended. */
  readonly closed: Promise<RpcError>;
  readonly #channel: MessageChannel;
  readonly #codec: CodecSession;
  readonly #calls = new Map<number, Call>();
  #nextId = 0;
  #error: RpcError | undefined;
  #resolveClosed!: (err: RpcError) => void;
  readonly #pinger: KeepalivePinger | undefined;
  readonly #keepalive: KeepaliveSettings | undefined;
  /** Keepalive pings awaiting their pong, by sequence number. */
  readonly #pings = new Map<number, () => void>();
  #pingSeq = 0;

  /**
   * `keepalive` pings the server with ping envelopes (a netrpc server answers them; Go's does
   * not) and drops the connection when one goes unanswered.
   */
  constructor(channel: MessageChannel, codec: CodecSession, keepalive?: KeepaliveSettings) {
    this.#channel = channel;
    this.#codec = codec;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#keepalive = keepalive;
    channel.open({ message: this.#onFrame, closed: (err) => this.#fail(err) });
    if (keepalive && !this.#error) {
      this.#pinger = new KeepalivePinger(keepalive, {
        busy: () => this.#calls.size > 0,
        ping: (acked) => {
          if (this.#error) return false;
          const seq = (this.#pingSeq = (this.#pingSeq % 0x7fffffff) + 1);
          this.#pings.set(seq, acked);
          this.#send(this.#codec.encodePing(seq, false));
          return true;
        },
        dead: (err) => this.#channel.close(err),
      });
    }
  }

  /** Calls waiting for replies. */
  get pending(): number {
    return this.#calls.size;
  }

  invoke(req: RpcRequest, ctx: CallContext): Promise<unknown> {
    if (this.#error) return Promise.reject(this.#error);
    const kind = req.kind ?? "unary";
    const streamedIn = kind === "client" || kind === "bidi";
    const streamedOut = kind === "server" || kind === "bidi";
    const id = this.#nextId++;
    let frame: Encoded;
    try {
      const timeout = ctx.deadline === undefined ? undefined : Math.max(0, ctx.deadline - Date.now());
      const envelope = { kind: "request", id, method: req.method, params: streamedIn ? undefined : req.params, timeout, metadata: metadataAsText(ctx.metadata) } as const;
      frame = this.#codec.encodeRequest(streamedIn ? { ...envelope, stream: true } : envelope);
    } catch (err) {
      return Promise.reject(RpcError.from(err, Code.INTERNAL));
    }
    return new Promise((resolve, reject) => {
      const call: Call = { method: req.method, ctx, resolve, reject, credit: STREAM_WINDOW, ended: false };
      this.#calls.set(id, call);
      if (ctx._cancellable || kind !== "unary") ctx._onAbort((reason) => this.#cancel(id, call, RpcError.from(reason, Code.CANCELLED)));
      this.#channel.send(frame);
      this.#pinger?.wake();
      if (streamedOut) {
        const replies = (call.replies = new MessageQueue<unknown>(STREAM_WINDOW + 1));
        let taken = 0;
        replies.onTaken = () => {
          // Credit goes back in batches of half a window: one envelope per eight replies read.
          if (++taken < STREAM_WINDOW / 2 || call.ended) return;
          this.#send(this.#codec.encodeCredit(id, taken));
          taken = 0;
        };
        resolve(replies);
      }
      if (streamedIn) void this.#pump(id, call, req.params);
    });
  }

  /** Sends a client or bidi stream's requests as the server's credit allows, then the half-close. */
  async #pump(id: number, call: Call, requests: unknown): Promise<void> {
    let it: Iterator<unknown> | AsyncIterator<unknown> | undefined;
    try {
      it = iteratorOf(requests, call.method);
      for (;;) {
        const next = await it.next();
        if (call.ended) break;
        if (next.done) {
          it = undefined;
          this.#send(this.#codec.encodeEnd(id));
          return;
        }
        while (call.credit === 0 && !call.ended) await new Promise<void>((wake) => (call.wakeSender = wake));
        if (call.ended) break;
        call.credit--;
        this.#send(this.#codec.encodeMessage(id, call.method, next.value, true));
      }
    } catch (err) {
      // The caller's requests failed (or would not encode): the call ends with that, and the server hears of it.
      const error = err instanceof RpcError ? err : new RpcError(Code.CANCELLED, `rpc: ${call.method}: the request stream failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      this.#cancel(id, call, error);
    } finally {
      if (it) void Promise.resolve(it.return?.()).catch(() => {});
    }
  }

  #send(frame: Encoded): void {
    if (!this.#error) this.#channel.send(frame);
  }

  /** The caller gave up (or its requests failed): forget the call, and tell the server, so its handler stops too. */
  #cancel(id: number, call: Call, err: RpcError): void {
    if (this.#calls.get(id) !== call) return;
    this.#end(id, call, err);
    if (this.#error) return;
    try {
      this.#send(this.#codec.encodeCancel(id));
    } catch (encodeError) {
      this.#channel.close(RpcError.from(encodeError, Code.INTERNAL));
    }
  }

  /** Ends call `id`: with its result, or with `err`. */
  #end(id: number, call: Call, err: RpcError | undefined, result?: unknown): void {
    this.#calls.delete(id);
    call.ended = true;
    call.wakeSender?.();
    if (err) {
      call.replies?.fail(err);
      call.reject(err);
    } else if (call.replies) {
      // A method that answers once, called as a stream: its one result is the stream (as over HTTP/2).
      if (result !== undefined) call.replies.push(result);
      call.replies.end();
    } else call.resolve(result);
  }

  readonly #onFrame = (frame: Encoded): void => {
    let msg: ClientInbound;
    try {
      msg = this.#codec.decodeResponse(frame);
    } catch (err) {
      this.#channel.close(new RpcError(Code.INTERNAL, `rpc: bad response from server: ${(err as Error).message}`, { cause: err }));
      return;
    }
    if (msg.kind === "pong") {
      const acked = this.#pings.get(msg.id);
      this.#pings.delete(msg.id);
      return acked?.();
    }
    if (msg.kind === "ping") return; // servers do not ping; their liveness checks are transport-level
    if (msg.id === null) {
      const e = (msg.kind === "response" ? msg.error : undefined) ?? { code: Code.UNKNOWN, message: "rpc: server closed the connection" };
      let message = e.message;
      if (message.startsWith(`rpc: ${TOO_MANY_PINGS}`) && this.#keepalive) {
        // We ping too often for this server: the next connection of this client pings half as often (A8).
        const was = this.#keepalive.time;
        message += `; we pinged every ${was} ms (keepaliveTime), the next connection pings every ${this.#keepalive.slowDown()} ms`;
      }
      this.#channel.close(new RpcError(e.code, message, { fromPeer: true }));
      return;
    }
    const id = msg.id as number;
    const call = this.#calls.get(id);
    if (!call) return; // for a call we already gave up on
    switch (msg.kind) {
      case "response":
        if (msg.error) this.#end(id, call, new RpcError(msg.error.code, msg.error.message, { fromPeer: true }));
        else this.#end(id, call, undefined, msg.result);
        return;
      case "message":
        if (msg.error) return this.#cancel(id, call, new RpcError(msg.error.code, msg.error.message));
        if (!call.replies) return this.#cancel(id, call, new RpcError(Code.INTERNAL, `rpc: ${call.method} streams its replies; call it with serverStream() or bidiStream()`));
        if (call.replies.size >= STREAM_WINDOW) return this.#cancel(id, call, new RpcError(Code.RESOURCE_EXHAUSTED, `rpc: ${call.method}: the server sent past its flow-control window`));
        call.replies.push(msg.payload);
        return;
      case "credit":
        call.credit += msg.credit;
        call.wakeSender?.();
        call.wakeSender = undefined;
        return;
    }
  };

  /** Closes by the user's choice; pending calls fail with CANCELLED. Idempotent. */
  close(): void {
    this.#channel.close(new RpcError(Code.CANCELLED, "rpc: client is closed"));
  }

  #fail(err: RpcError): void {
    if (this.#error) return;
    this.#error = err;
    this.#pinger?.stop();
    const calls = [...this.#calls];
    for (const [id, call] of calls) {
      this.#end(id, call, err);
      call.ctx._abort(err);
    }
    this.#resolveClosed(err);
  }
}

/** The iterator of a client stream's requests: any iterable or async iterable. */
function iteratorOf(requests: unknown, method: string): Iterator<unknown> | AsyncIterator<unknown> {
  const source = requests as Partial<AsyncIterable<unknown> & Iterable<unknown>> | null | undefined;
  const asyncIterator = source?.[Symbol.asyncIterator];
  if (typeof asyncIterator === "function") return asyncIterator.call(source);
  const iterator = source?.[Symbol.iterator];
  if (typeof iterator === "function") return iterator.call(source);
  throw new RpcError(Code.INVALID_ARGUMENT, `rpc: ${method}: requests must be an iterable or async iterable`);
}
