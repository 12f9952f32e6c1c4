// The preface of a non-JSON connection: the client names its codec, the server says yes or why not.
//   hello: "NRPC" 0x01 <len u8> <codec name>          client -> server, first bytes of the stream
//   ack:   "NRPC" 0x01 <status u8> <len u8> <message>  server -> client; status 0 = ok, 1 = unknown codec
// JSON connections send no preface: their first byte is "{", as Go's jsonrpc client sends.
import { Code } from "./codes.js";
import { RpcError } from "./errors.js";

const MAGIC = [0x4e, 0x52, 0x50, 0x43]; // "NRPC"
const VERSION = 1;
const NAME = /^[a-z0-9+.-]{1,64}$/;
export const ACK_OK = 0;
export const ACK_UNKNOWN_CODEC = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** True when `byte` can open a preface (so the connection is not JSON). */
export function opensPreface(byte: number): boolean {
  return byte === MAGIC[0];
}

export function encodeHello(codec: string): Uint8Array {
  const name = encoder.encode(codec);
  return Uint8Array.from([...MAGIC, VERSION, name.length, ...name]);
}

export function encodeAck(status: number, message = ""): Uint8Array {
  const text = encoder.encode(message).subarray(0, 255);
  return Uint8Array.from([...MAGIC, VERSION, status, text.length, ...text]);
}

function refuse(detail: string): RpcError {
  return new RpcError(Code.UNAVAILABLE, `rpc: bad connection preface: ${detail}`);
}

/** Checks magic and version at `bytes[0..4]`; throws naming what is wrong. */
function checkHead(bytes: Uint8Array): void {
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) throw refuse("expected NRPC");
  if (bytes[4] !== VERSION) throw refuse(`version ${bytes[4]} (this side speaks ${VERSION})`);
}

/** Bytes collected until a preface is whole; the rest of the stream belongs to the codec. */
class Collector {
  #bytes = new Uint8Array(0);

  add(chunk: Uint8Array): Uint8Array {
    const joined = new Uint8Array(this.#bytes.length + chunk.length);
    joined.set(this.#bytes);
    joined.set(chunk, this.#bytes.length);
    this.#bytes = joined;
    return joined;
  }
}

export interface Parsed<T> {
  value: T;
  /** Bytes after the preface, already read from the stream. */
  rest: Uint8Array;
}

/** Server side: feed chunks until the hello is whole. Throws UNAVAILABLE for bytes that are not one. */
export class HelloReader {
  readonly #collected = new Collector();

  push(chunk: Uint8Array): Parsed<string> | undefined {
    const b = this.#collected.add(chunk);
    if (b.length < 6) return b.length >= 5 ? (checkHead(b), undefined) : undefined;
    checkHead(b);
    const end = 6 + b[5]!;
    if (b.length < end) return undefined;
    const name = decoder.decode(b.subarray(6, end));
    if (!NAME.test(name)) throw refuse(`codec name ${JSON.stringify(name)}`);
    return { value: name, rest: b.subarray(end) };
  }
}

/** Client side: feed chunks until the ack is whole. */
export class AckReader {
  readonly #collected = new Collector();

  push(chunk: Uint8Array): Parsed<{ status: number; message: string }> | undefined {
    const b = this.#collected.add(chunk);
    if (b.length < 7) return b.length >= 5 ? (checkHead(b), undefined) : undefined;
    checkHead(b);
    const end = 7 + b[6]!;
    if (b.length < end) return undefined;
    return { value: { status: b[5]!, message: decoder.decode(b.subarray(7, end)) }, rest: b.subarray(end) };
  }
}
