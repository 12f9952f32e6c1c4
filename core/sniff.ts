// Picks a connection's codec from its first bytes, so one port serves every codec the server speaks.
import type { Duplex } from "node:stream";
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";
import { debug } from "./debug.js";
import { ACK_OK, ACK_UNKNOWN_CODEC, HelloReader, encodeAck, opensPreface } from "./preface.js";
import type { Codec } from "./codec.js";

export interface SniffOptions {
  /** The codecs this connection may use, by name. */
  readonly codecs: ReadonlyMap<string, Codec>;
  /** Milliseconds a started preface may take to complete. */
  readonly handshakeTimeout: number;
  /** Hand connections that open with the HTTP/2 preface to gRPC. */
  readonly http2?: boolean;
}

/** What sniffCodec resolves with for a connection that opens with the HTTP/2 client preface. */
export const HTTP2 = Symbol("http2");

/** "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" begins with P, which neither JSON nor our preface can. */
const HTTP2_FIRST_BYTE = 0x50;

/**
 * Waits for the first bytes: "{" (or white space) means JSON with no preface, as Go's client
 * sends; "N" opens a preface naming the codec, answered with an ack. An idle connection may wait
 * for ever (a Go client sends nothing until its first call), but once a preface has begun it must
 * finish within handshakeTimeout. "P" is the HTTP/2 preface: HTTP2 when `http2` is allowed.
 * Resolves with the codec (or HTTP2), the stream paused and its unread bytes put back; or with
 * undefined after refusing the connection.
 */
export function sniffCodec(stream: Duplex, options: SniffOptions): Promise<Codec | typeof HTTP2 | undefined> {
  return new Promise((resolve) => {
    let reader: HelloReader | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (codec: Codec | typeof HTTP2 | undefined, rest?: Uint8Array) => {
      clearTimeout(timer);
      stream.removeListener("data", onData);
      stream.removeListener("close", onClose);
      stream.removeListener("error", onError);
      stream.removeListener("end", onEnd);
      stream.pause();
      if (codec && rest && rest.length > 0) stream.unshift(rest);
      resolve(codec);
    };
    const refuse = (reason: string, reply?: Uint8Array | string) => {
      debug("refusing connection: %s", reason);
      done(undefined);
      if (reply !== undefined) stream.end(reply);
      const cut = setTimeout(() => stream.destroy(), 1000);
      stream.once("close", () => clearTimeout(cut));
      if (reply === undefined) stream.destroy();
    };
    const onClose = () => done(undefined);
    // A peer that ends its side before saying anything will never say anything.
    const onEnd = () => {
      done(undefined);
      stream.destroy();
    };
    const onError = (err: Error) => {
      debug("connection failed before its first message: %s", err.message);
      done(undefined);
      stream.destroy();
    };
    const onData = (chunk: Buffer) => {
      if (!reader) {
        if (chunk[0] === HTTP2_FIRST_BYTE && options.http2) return done(HTTP2, chunk);
        if (!opensPreface(chunk[0]!)) {
          const json = options.codecs.get("json");
          if (json) return done(json, chunk);
          const error = new RpcError(Code.UNIMPLEMENTED, `rpc: this port does not speak JSON (it speaks ${[...options.codecs.keys()].join(", ")})`);
          return refuse(error.message, `{"id":null,"result":null,"error":${JSON.stringify(error.message)},"code":${error.code}}\n`);
        }
        reader = new HelloReader();
        timer = setTimeout(() => refuse(`no complete preface within ${options.handshakeTimeout} ms`), options.handshakeTimeout);
      }
      let hello;
      try {
        hello = reader.push(chunk);
      } catch (err) {
        return refuse((err as Error).message);
      }
      if (!hello) return;
      const codec = options.codecs.get(hello.value);
      if (!codec) {
        const message = `rpc: this port does not speak codec ${JSON.stringify(hello.value)} (it speaks ${[...options.codecs.keys()].join(", ")})`;
        return refuse(message, encodeAck(ACK_UNKNOWN_CODEC, message));
      }
      stream.write(encodeAck(ACK_OK));
      done(codec, hello.rest);
    };
    stream.on("data", onData);
    stream.once("close", onClose);
    stream.on("error", onError);
    stream.once("end", onEnd);
    if (stream.destroyed) done(undefined);
  });
}
