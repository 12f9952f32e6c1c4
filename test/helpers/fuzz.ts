// A small, dependency-free fuzzing kit: a seeded PRNG, value/envelope generators, and byte
// mutators (bit flips, truncation, splicing, length-field corruption, huge declared lengths,
// deep nesting, random bytes). Everything is deterministic for a given seed and bounded in
// size, so a failing input can be replayed from its seed and index.
import type { CallId, RequestEnvelope, ResponseEnvelope } from "../../core/envelope.js";
import { Code } from "../../core/codes.js";
import type { TextMetadata as Metadata } from "../../core/metadata.js";

/** sfc32: a fast 128-bit-state PRNG with good statistical quality; seeded from one integer. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const a = this.#a, b = this.#b, c = this.#c, d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    this.#c = (c << 21) | (c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** [0, 1) */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.float() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  bool(p = 0.5): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Small sizes are far more likely than large ones (log-uniform up to max). */
  size(max: number): number {
    return Math.min(max, Math.floor(Math.exp(this.float() * Math.log(max + 1))) - 1 + this.int(2));
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const x = this.u32();
      out[i] = x & 0xff;
      if (i + 1 < n) out[i + 1] = (x >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (x >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = x >>> 24;
    }
    return out;
  }

  /** A string mixing ASCII, Latin-1, CJK, emoji (surrogate pairs), controls and, if asked, lone surrogates. */
  string(maxLength: number, loneSurrogates = false): string {
    const n = this.size(maxLength);
    let s = "";
    for (let i = 0; i < n; i++) {
      switch (this.int(loneSurrogates ? 8 : 7)) {
        case 0:
        case 1:
        case 2:
          s += String.fromCharCode(this.range(0x20, 0x7e));
          break;
        case 3:
          s += String.fromCharCode(this.range(0xa0, 0x2ff));
          break;
        case 4:
          s += String.fromCharCode(this.range(0x4e00, 0x9fff));
          break;
        case 5:
          s += String.fromCodePoint(this.range(0x1f300, 0x1faff));
          break;
        case 6:
          s += String.fromCharCode(this.pick([0, 1, 9, 10, 13, 0x22, 0x5c, 0x7f, 0xfeff, 0x2028]));
          break;
        default:
          s += String.fromCharCode(this.range(0xd800, 0xdfff));
      }
    }
    return s;
  }
}

export interface ValueOptions {
  /** Include Uint8Array values. */
  binary?: boolean;
  /** Include bigint values. */
  bigint?: boolean;
  /** Include undefined values. */
  undefined?: boolean;
  /** Include lone surrogates in strings. */
  loneSurrogates?: boolean;
}

const EDGE_NUMBERS = [0, -0, 1, -1, 0.5, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1e21, 5e-324, 1.7976931348623157e308, 0.1];

/** A random value of bounded size and depth, of the kinds a codec carries. */
export function randomValue(rng: Rng, options: ValueOptions = {}, depth = 0): unknown {
  const leaf = depth >= 4 || rng.bool(0.55);
  if (!leaf) {
    const n = rng.size(6);
    if (rng.bool()) return Array.from({ length: n }, () => randomValue(rng, options, depth + 1));
    const obj: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) obj[rng.bool(0.7) ? rng.pick(["id", "name", "a", "b", "Id", "value", "list", "x-y"]) : rng.string(8)] = randomValue(rng, options, depth + 1);
    return obj;
  }
  switch (rng.int(10)) {
    case 0:
      return rng.pick(EDGE_NUMBERS);
    case 1:
      return rng.range(-1000, 1000);
    case 2:
      return (rng.float() - 0.5) * 10 ** rng.range(-10, 20);
    case 3:
      return rng.bool();
    case 4:
      return null;
    case 5:
      if (options.binary) return rng.bytes(rng.size(40));
      return rng.string(20);
    case 6:
      if (options.bigint) return rng.bool() ? BigInt(rng.range(-1000, 1000)) : BigInt(rng.u32()) * 4294967296n + BigInt(rng.u32());
      return rng.string(20);
    case 7:
      if (options.undefined) return undefined;
      return rng.string(5);
    default:
      return rng.string(30, options.loneSurrogates);
  }
}

export function randomId(rng: Rng): CallId {
  switch (rng.int(5)) {
    case 0:
      return rng.string(12);
    case 1:
      return rng.pick([0, 1, 2 ** 31 - 1, 2 ** 32, 2 ** 53 - 1]);
    default:
      return rng.int(100_000);
  }
}

export function randomMetadata(rng: Rng): Metadata | undefined {
  if (rng.bool(0.6)) return undefined;
  const md: Metadata = {};
  const n = rng.size(4);
  for (let i = 0; i < n; i++) {
    const key = rng.pick(["tenant", "request-id", "tag", "a.b_c-d", "x", "authorization"]) + (rng.bool(0.3) ? String(rng.int(10)) : "");
    md[key] = rng.bool() ? rng.string(16) : Array.from({ length: rng.size(3) }, () => rng.string(8));
  }
  return md;
}

/** A request envelope; `params` comes from the caller (codecs differ in what they carry). */
export function randomRequest(rng: Rng, method: string, params: unknown, id: CallId = randomId(rng)): RequestEnvelope {
  return {
    kind: "request",
    id,
    method,
    params,
    timeout: rng.bool(0.3) ? rng.pick([0, 1, 250, 2 ** 31 - 1, rng.int(100_000)]) : undefined,
    metadata: randomMetadata(rng),
  };
}

const ERROR_CODES = [Code.CANCELLED, Code.UNKNOWN, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.RESOURCE_EXHAUSTED, Code.UNIMPLEMENTED, Code.INTERNAL, Code.UNAVAILABLE, Code.UNAUTHENTICATED];

/** A response envelope: a result, an error, or (sometimes) a connection-level error with id null. */
export function randomResponse(rng: Rng, id: CallId, result: unknown): ResponseEnvelope {
  const r = rng.int(10);
  if (r === 0) return { kind: "response", id: null, error: { code: rng.pick(ERROR_CODES), message: "rpc: " + rng.string(30) } };
  if (r < 4) return { kind: "response", id, error: { code: rng.pick(ERROR_CODES), message: rng.string(40) || "x" } };
  return { kind: "response", id, result };
}

// ---------------------------------------------------------------------------------------------
// Byte mutators. Each returns a new array and never grows an input past `max` bytes.

/** A fresh plain Uint8Array (never a Buffer view: Buffer#slice shares memory, and encoders hand out views of their own buffers). */
export function toBytes(e: string | Uint8Array): Uint8Array {
  return typeof e === "string" ? new Uint8Array(Buffer.from(e, "utf8")) : new Uint8Array(e);
}

/** A copy that is safe to write to, whatever kind of Uint8Array `b` is. */
function copy(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function hex(bytes: Uint8Array, max = 256): string {
  const h = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, max)).toString("hex");
  return bytes.length > max ? `${h}… (${bytes.length} bytes)` : h;
}

/** Bytes that often sit on a parser's edge: type tags, lengths, sign and continuation bits. */
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0x81, 0xc0, 0xc1, 0xc4, 0xc6, 0xc7, 0xc9, 0xd4, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xfe, 0xff, 0x0a, 0x0d, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d];

export interface MutateOptions {
  /** Longest output. */
  max: number;
  /** Other valid inputs to splice with. */
  corpus?: readonly Uint8Array[];
  /** Format-specific tokens to insert (type headers with huge lengths, keywords, ...). */
  tokens?: readonly Uint8Array[];
}

type Mutator = (rng: Rng, b: Uint8Array, o: MutateOptions) => Uint8Array;

const mutators: Record<string, Mutator> = {
  bitFlip(rng, b) {
    if (b.length === 0) return b;
    const out = copy(b);
    const flips = rng.range(1, 4);
    for (let i = 0; i < flips; i++) out[rng.int(out.length)]! ^= 1 << rng.int(8);
    return out;
  },
  interestingByte(rng, b) {
    if (b.length === 0) return new Uint8Array([rng.pick(INTERESTING)]);
    const out = copy(b);
    out[rng.int(out.length)] = rng.pick(INTERESTING);
    return out;
  },
  truncate(rng, b) {
    return b.slice(0, rng.int(b.length + 1));
  },
  dropPrefix(rng, b) {
    return b.slice(rng.int(b.length + 1));
  },
  deleteRange(rng, b) {
    const at = rng.int(b.length + 1);
    const n = rng.size(Math.max(1, b.length - at));
    return concatBytes([b.subarray(0, at), b.subarray(at + n)]);
  },
  duplicateRange(rng, b, o) {
    const at = rng.int(b.length + 1);
    const n = Math.min(rng.size(Math.max(1, b.length - at)), o.max - b.length);
    return concatBytes([b.subarray(0, at + n), b.subarray(at, at + Math.max(0, n))]);
  },
  splice(rng, b, o) {
    const other = o.corpus && o.corpus.length > 0 ? rng.pick(o.corpus) : rng.bytes(rng.size(64));
    return concatBytes([b.subarray(0, rng.int(b.length + 1)), other.subarray(rng.int(other.length + 1))]).slice(0, o.max);
  },
  insertRandom(rng, b, o) {
    const at = rng.int(b.length + 1);
    return concatBytes([b.subarray(0, at), rng.bytes(rng.size(32)), b.subarray(at)]).slice(0, o.max);
  },
  insertToken(rng, b, o) {
    if (!o.tokens || o.tokens.length === 0) return mutators.insertRandom!(rng, b, o);
    const at = rng.int(b.length + 1);
    const token = rng.pick(o.tokens);
    // Insert, or overwrite in place (keeps the surrounding lengths consistent with the input's size).
    if (rng.bool()) return concatBytes([b.subarray(0, at), token, b.subarray(at)]).slice(0, o.max);
    const out = copy(b);
    out.set(token.subarray(0, Math.max(0, out.length - at)), at);
    return out;
  },
  /** Overwrites 1, 2, 4 or 8 bytes at a random offset with an extreme or random big-endian integer. */
  lengthField(rng, b) {
    if (b.length === 0) return b;
    const width = rng.pick([1, 2, 4, 8]);
    const at = rng.int(b.length);
    const out = copy(b);
    const value = rng.pick([0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff, b.length, b.length + 1, b.length - 1, rng.u32()]);
    for (let i = 0; i < width && at + i < out.length; i++) {
      const shift = (width - 1 - i) * 8;
      out[at + i] = shift >= 32 ? (value < 0 ? 0xff : 0) : (value >>> shift) & 0xff;
    }
    return out;
  },
};

const MUTATOR_NAMES = Object.keys(mutators);

/** Applies 1 to 4 random mutations. */
export function mutate(rng: Rng, input: Uint8Array, options: MutateOptions): Uint8Array {
  let b = input;
  const n = rng.range(1, 4);
  for (let i = 0; i < n; i++) b = mutators[rng.pick(MUTATOR_NAMES)]!(rng, b, options);
  return b.length > options.max ? b.slice(0, options.max) : b;
}

/** Cuts bytes into random chunks (some empty, some single bytes), the way a socket may deliver them. */
export function chunks(rng: Rng, bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const mode = rng.int(10);
    const n = mode === 0 ? 0 : mode < 3 ? 1 : mode < 6 ? rng.range(1, 8) : rng.size(bytes.length - at);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  if (rng.bool(0.1)) out.push(new Uint8Array(0));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Format-specific tokens and deeply nested inputs.

const enc = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));
const be32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

export const JSON_TOKENS: readonly Uint8Array[] = [
  "{", "}", "[", "]", ",", ":", '"', "\\", "\\u", "\\ud800", "null", "true", "1e999999", "-0", "9".repeat(400), '"id":', '"id":null', '"id":1.5',
  '"cancel":true', '"method":', '"params":', '"timeout":', '"timeout":-1', '"timeout":1e400', '"metadata":', '"metadata":{"K":"v"}', '"metadata":{"a":[1]}',
  '"error":', '"code":', '"code":0', '"code":99', '"void":true', '"null":true', '"__proto__":', "\u00ff\u00fe",
].map(enc);

/** msgpack headers that declare huge (or odd) lengths, and tags nobody uses. */
export const MSGPACK_TOKENS: readonly Uint8Array[] = [
  [0xdb, 0xff, 0xff, 0xff, 0xff], // str32 of 4 GiB
  [0xd9, 0xff], // str8 of 255
  [0xda, 0xff, 0xff], // str16
  [0xc6, 0xff, 0xff, 0xff, 0xff], // bin32
  [0xc5, 0xff, 0xff], // bin16
  [0xdd, 0xff, 0xff, 0xff, 0xff], // array32
  [0xdf, 0xff, 0xff, 0xff, 0xff], // map32
  [0xdc, 0xff, 0xff], // array16
  [0xde, 0xff, 0xff], // map16
  [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], // ext32
  [0xc9, 0x00, 0x00, 0x00, 0x10, 0xff], // ext32, type -1 (timestamp)
  [0xc7, 0x10, 0x72], // ext8 'r' (msgpackr record definition)
  [0xd4, 0x72, 0x00], // fixext1 'r'
  [0xd5, 0x73, 0x00, 0x00], // fixext2 (structured clone / sets)
  [0xd6, 0xff, 0xff, 0xff, 0xff, 0xff], // fixext4 timestamp
  [0xd7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // fixext8 timestamp
  [0xc1], // never used
  [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0], // int64 min
  [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // uint64 max
  [0x40], [0x41], [0x60], [0x70], [0x7f], // msgpackr record references (0x40..0x7f)
  [0xa2, 0x69, 0x64], // "id"
  [0xc0], [0xc2], [0xc3], [0x80], [0x90], [0xa0],
].map((a) => new Uint8Array(a));

/** protobuf: tags with every wire type, varints that never end or overflow, huge length prefixes, groups. */
export const PROTOBUF_TOKENS: readonly Uint8Array[] = [
  [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], // field 1, LEN of 4 GiB
  [0x12, 0xff, 0xff, 0xff, 0xff, 0x07], // field 2, LEN of 2 GiB
  [0x22, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // LEN with an 10-byte varint
  [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // varint too long
  [0x08, 0x80], // unterminated varint
  [0x0b], // start group field 1
  [0x0c], // end group field 1
  [0x0e], [0x0f], // wire types 6 and 7 (invalid)
  [0x00], // field 0
  [0xf8, 0xff, 0xff, 0xff, 0x0f], // field 2^29-1 varint
  [0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // fixed64
  [0x0d, 0x00, 0x00, 0xc0, 0x7f], // fixed32 (NaN float)
  [0x1a, 0x00], [0x2a, 0x01, 0x00],
].map((a) => new Uint8Array(a));

/** Declared lengths for the amplification check: small, large, just under V8's fast-array limit, huge. */
const HUGE_COUNTS = [0x10000, 0x1000000, 0x1ffffff, 0x7fffffff, 0xffffffff];

/** msgpack containers and strings declaring far more items or bytes than any small frame holds. */
export const MSGPACK_HUGE: readonly Uint8Array[] = HUGE_COUNTS.flatMap((n) => [0xdd, 0xdf, 0xdb, 0xc6, 0xc9].map((tag) => new Uint8Array([tag, ...be32(n), ...(tag === 0xc9 ? [0x01] : [])])));

/** protobuf length-delimited fields (known and unknown numbers, packed and not) declaring huge lengths. */
export const PROTOBUF_HUGE: readonly Uint8Array[] = HUGE_COUNTS.flatMap((n) => [1, 2, 4, 5, 7, 9, 10, 12, 13, 99].map((field) => concatBytes([new Uint8Array([(field << 3) | 2]), new Uint8Array(varint(n))])));

export const LENGTH_PREFIX_TOKENS: readonly Uint8Array[] = [
  [0xff, 0xff, 0xff, 0xff], [0x7f, 0xff, 0xff, 0xff], [0x80, 0x00, 0x00, 0x00], [0x00, 0x00, 0x00, 0x00], [0x00, 0x10, 0x00, 0x01], [0x00, 0x00, 0x00, 0x01],
].map((a) => new Uint8Array(a));

/** A JSON request whose params nest `depth` arrays/objects deep (closed, or left open). */
export function deepJson(rng: Rng, depth: number, closed = rng.bool()): Uint8Array {
  const obj = rng.bool();
  const open = obj ? '{"a":' : "[";
  const close = obj ? "}" : "]";
  const body = open.repeat(depth) + "1" + (closed ? close.repeat(depth) : "");
  const where = rng.int(3);
  const text = where === 0 ? `{"method":"X.Y","params":[${body}],"id":1}` : where === 1 ? `{"id":1,"result":${body},"error":null}` : body;
  return enc(text);
}

/** msgpack nested `depth` deep: fixarray(1) or fixmap(1) {"a": ...} chains, or deep records. */
export function deepMsgpack(rng: Rng, depth: number): Uint8Array {
  const mode = rng.int(3);
  const unit = mode === 0 ? [0x91] : mode === 1 ? [0x81, 0xa1, 0x61] : [0xdc, 0x00, 0x01];
  const out = new Uint8Array(depth * unit.length + 1);
  for (let i = 0; i < depth; i++) out.set(unit, i * unit.length);
  out[out.length - 1] = 0xc0;
  // Sometimes wrap it as the value of a map's "params" key so it gets past the envelope.
  if (rng.bool()) return concatBytes([new Uint8Array([0x83, 0xa2, 0x69, 0x64, 0x01, 0xa6, ...enc("method"), 0xa3, ...enc("X.Y"), 0xa6, ...enc("params")]), out]);
  return out;
}

/** protobuf nested `depth` deep: LEN-delimited field 1 inside field 1 ..., or unterminated start-groups. */
export function deepProtobuf(rng: Rng, depth: number): Uint8Array {
  if (rng.bool()) {
    // Groups: start-group tags only; a recursive skipper descends once per tag.
    const field = rng.pick([1, 2, 3, 6, 15]);
    return new Uint8Array(depth).fill((field << 3) | 3);
  }
  // Nested length-delimited messages, lengths correct from the inside out.
  const field = rng.pick([1, 4, 6, 7, 12]);
  const inner = [0x08, 0x01];
  const headers: number[][] = [];
  let size = inner.length;
  for (let i = 0; i < depth && size < 64 * 1024; i++) {
    const header = [(field << 3) | 2, ...varint(size)];
    headers.push(header);
    size += header.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = headers.length - 1; i >= 0; i--) {
    out.set(headers[i]!, at);
    at += headers[i]!.length;
  }
  out.set(inner, at);
  return out;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A u32 big-endian length prefix. */
export function lengthPrefix(n: number): Uint8Array {
  return new Uint8Array(be32(n >>> 0));
}

/** A protobuf length-delimited field: tag, varint length, bytes. */
export function protobufField(field: number, bytes: Uint8Array): Uint8Array {
  return concatBytes([new Uint8Array([(field << 3) | 2, ...varint(bytes.length)]), bytes]);
}

/**
 * A netrpc protobuf envelope around `payload`: a Request (id 1, `method`, payload field 5) or a
 * Response (id 1, payload field 4), so nested payloads get past the envelope to the payload decoder.
 */
export function protobufEnvelope(kind: "request" | "response", payload: Uint8Array, method = "contract.Contract.Echo"): Uint8Array {
  if (kind === "request") return concatBytes([new Uint8Array([0x08, 0x01]), protobufField(2, enc(method)), protobufField(5, payload)]);
  return concatBytes([new Uint8Array([0x08, 0x01]), protobufField(4, payload)]);
}
