// The codecs under test and what each one promises: one entry per codec in CODECS, and the
// contract and fuzz suites run every entry the same way. Adding a codec is one entry here.
//
// Each entry declares how a Server enables it and a client dials it, the bytes a raw client
// sends first (the connection preface; none for JSON), and its round-trip table: for every
// value, what comes back from Contract.Echo (client encodes, server decodes and re-encodes,
// client decodes) and from Contract.Get (only the server encodes), or which error the call
// fails with.
import { Code, RpcError, json, msgpack, type CallContext, type Client, type Codec, type DialOptions, type Encoded, type Framer, type ServerOptions } from "../../index.js";
import { NewlineFramer } from "../../core/framing/newline.js";
import { LengthFramer } from "../../core/framing/length.js";
import { connect, startServer, type Started, type Teardown } from "./net.js";
import { protobuf, parseProto } from "../../codecs/protobuf/index.js";
import { JSON_TOKENS, MSGPACK_HUGE, MSGPACK_TOKENS, PROTOBUF_HUGE, PROTOBUF_TOKENS, deepJson, deepMsgpack, deepProtobuf, protobufEnvelope, randomValue, type Rng } from "./fuzz.js";

// ---------------------------------------------------------------------------------------------
// The contract service, the same object behind every codec.

export type ContractMethod = "Echo" | "Get" | "Fail" | "Throw" | "Meta" | "Len" | "Hold";

/** How long a Hold call waits for the rest of its batch before failing. */
const HOLD_MS = 15_000;

export class Contract {
  readonly #values: ReadonlyMap<string, unknown>;
  #holdTarget = 0;
  #held: Array<() => void> = [];

  constructor(values: readonly RoundTrip[]) {
    this.#values = new Map(values.map((v) => [v.name, v.value]));
  }

  /** Returns its argument as decoded. */
  Echo(x: unknown): unknown {
    return x;
  }

  /** Returns the round-trip table's value by name, so only the server encodes it. */
  Get(req: { name: string }): unknown {
    if (!this.#values.has(req.name)) throw new RpcError(Code.NOT_FOUND, `no value named ${req.name}`);
    return this.#values.get(req.name);
  }

  Fail(req: { code: number; message: string }): never {
    throw new RpcError(req.code as Code, req.message);
  }

  Throw(req: { text: string }): never {
    throw new Error(req.text);
  }

  /** The caller's metadata as JSON text. */
  Meta(_req: unknown, ctx: CallContext): { text: string } {
    return { text: JSON.stringify(ctx.metadata) };
  }

  /** The UTF-8 length of a text. */
  Len(req: { text: string }): { n: number } {
    return { n: Buffer.byteLength(req.text, "utf8") };
  }

  /** Waits until `_expectHolds(n)` calls are all waiting, then answers them newest first; honours ctx.signal. */
  Hold(x: unknown, ctx: CallContext): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const stop = (err: unknown) => {
        clearTimeout(timer);
        ctx.signal.removeEventListener("abort", onAbort);
        const at = this.#held.indexOf(release);
        if (at !== -1) this.#held.splice(at, 1);
        reject(err);
      };
      const onAbort = () => stop(ctx.signal.reason);
      const timer = setTimeout(() => stop(new RpcError(Code.DEADLINE_EXCEEDED, `Hold: only ${this.#held.length} of ${this.#holdTarget} calls arrived`)), HOLD_MS);
      const release = () => {
        clearTimeout(timer);
        ctx.signal.removeEventListener("abort", onAbort);
        resolve(x);
      };
      if (ctx.signal.aborted) return onAbort();
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      this.#held.push(release);
      if (this.#held.length === this.#holdTarget) for (const r of this.#held.splice(0).reverse()) r();
    });
  }

  /** Not exposed (leading underscore): how many Hold calls make a batch. */
  _expectHolds(n: number): void {
    this.#holdTarget = n;
    this.#held = [];
  }
}

// ---------------------------------------------------------------------------------------------
// Expectations.

/** What a call comes back with: a value (compared with canon()), or an error. */
export type Outcome = { value: unknown } | { code: Code; fromPeer: boolean; message?: RegExp | string };

export interface RoundTrip {
  name: string;
  /** Sent as Echo's params; returned by Get. */
  value: unknown;
  /** Contract.Echo(value). */
  echo: Outcome;
  /** Contract.Get(name); default: the same as echo. */
  get?: Outcome;
  /** Why the value does not come back as sent. */
  note?: string;
}

export interface ErrorCase {
  name: string;
  /** The handler throws new RpcError(code, message) (Fail), or new Error(message) (Throw). */
  method: "Fail" | "Throw";
  params: { code: number; message: string } | { text: string };
  expect: { code: Code; message: string };
}

export interface CodecUnderTest {
  name: string;
  /** A fresh codec object as a client uses it (its sessions encode requests, decode responses). */
  codec(): Codec;
  /** A fresh codec object as a server uses it, for the fuzzers' decodeRequest. */
  serverCodec(): Codec;
  /** Starts a Server on tcp://127.0.0.1:0 speaking this codec, with `impl` as the contract service. */
  start(t: Teardown, impl: Contract, options?: ServerOptions): Promise<Started>;
  /** Connects a client speaking this codec; closed at teardown. */
  connect(t: Teardown, url: string, options?: DialOptions): Promise<Client>;
  /** The wire name of a contract method. */
  method(name: ContractMethod): string;
  /** Params for Echo/Hold carrying a text and a number (Kinds-typed for protobuf). */
  tagged(s: string, i32: number): unknown;
  /** Reads back what tagged() put in. */
  untag(result: unknown): { s: unknown; i32: unknown };
  /** Bytes a raw client sends before its first frame (none for JSON). */
  preface?: Uint8Array;
  /** Frames are text (newline framing) or bytes (length framing). */
  frames: "text" | "binary";
  values: readonly RoundTrip[];
  errors: readonly ErrorCase[];
  unknownMethod: Outcome;
  unknownService: Outcome;
  fuzz: {
    /** Params the fuzzers put in valid requests and results. */
    params(rng: Rng): unknown;
    /** Format tokens for the insert mutator. */
    tokens: readonly Uint8Array[];
    /** A deeply nested input. */
    deep(rng: Rng, depth: number): Uint8Array;
    /** Tokens declaring huge lengths or counts, for the amplification check (none for JSON). */
    huge: readonly Uint8Array[];
  };
}

/** The connection preface of a non-JSON codec: "NRPC" 0x01 <len u8> <name>. */
export function prefaceFor(name: string): Uint8Array {
  return new Uint8Array([0x4e, 0x52, 0x50, 0x43, 0x01, name.length, ...Buffer.from(name, "ascii")]);
}

/** A frame as its framer yields it: text for newline framing, bytes for length framing. */
export function asFrame(entry: CodecUnderTest, bytes: Uint8Array): Encoded {
  return entry.frames === "text" ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8") : bytes;
}

// ---------------------------------------------------------------------------------------------
// Comparing values exactly: -0, NaN, bigint, bytes and undefined members all count.

/** A JSON-able tree that tells apart everything a codec might change. */
export function canon(v: unknown): unknown {
  if (v === undefined) return { $: "undefined" };
  if (v === null) return null;
  switch (typeof v) {
    case "number":
      if (Object.is(v, -0)) return { $: "-0" };
      if (!Number.isFinite(v)) return { $: String(v) };
      return v;
    case "bigint":
      return { $: "bigint", v: v.toString() };
    case "string":
    case "boolean":
      return v;
    case "object": {
      if (v instanceof Uint8Array) return { $: "bytes", hex: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex") };
      if (Array.isArray(v)) return Array.from(v, canon);
      const proto = Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null;
      const kind = proto === Object.prototype || proto === null ? "object" : `object:${proto.constructor?.name ?? "?"}`;
      const out: Record<string, unknown> = { $: kind };
      for (const key of Object.keys(v).sort()) out[`.${key}`] = canon((v as Record<string, unknown>)[key]);
      return out;
    }
    default:
      return { $: typeof v, s: String(v) };
  }
}

// ---------------------------------------------------------------------------------------------
// The generic value table (JSON-like codecs): name -> value sent.

const protoKeyObject = JSON.parse('{"__proto__":{"polluted":true},"y":2}') as unknown;

export const VALUES: ReadonlyArray<readonly [string, unknown]> = [
  ["zero", 0],
  ["negative zero", -0],
  ["one", 1],
  ["minus one", -1],
  ["int32 max", 2 ** 31 - 1],
  ["int32 min", -(2 ** 31)],
  ["uint32 max", 2 ** 32 - 1],
  ["2^32", 2 ** 32],
  ["max safe integer", Number.MAX_SAFE_INTEGER],
  ["min safe integer", Number.MIN_SAFE_INTEGER],
  ["2^53", 2 ** 53],
  ["2^64 as a double", 2 ** 64],
  ["1.5", 1.5],
  ["0.1", 0.1],
  ["-2.5e-10", -2.5e-10],
  ["smallest subnormal", 5e-324],
  ["largest double", Number.MAX_VALUE],
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
  ["empty string", ""],
  ["ascii", "hello, world"],
  ["latin accents", "héllo wörld ñ ß"],
  ["cjk", "小王 你好"],
  ["emoji", "😀👍🏽🇫🇷"],
  ["zwj sequence", "👨‍👩‍👧‍👦"],
  ["controls", "\u0000\u0001\t\n\r\u001f\u007f"],
  ["quotes and backslashes", '"\\/\'`'],
  ["line separators", "\u2028\u2029\ufeff"],
  ["lone surrogate", "a\ud800b\udc00c"],
  ["long string (64 KiB)", "x".repeat(65_536)],
  ["true", true],
  ["false", false],
  ["null", null],
  ["undefined", undefined],
  ["empty object", {}],
  ["empty array", []],
  ["nested objects", { a: { b: { c: [1, { d: "e" }], f: null } }, g: [[], {}] }],
  ["mixed array", [1, "a", null, true, { x: 1 }, [2, [3]]]],
  ["non-ASCII keys", { ключ: "значение", "🔑": 1, "": "empty key" }],
  ["own __proto__ key", protoKeyObject],
  ["object with an undefined member", { a: 1, b: undefined }],
  ["array with undefined", [undefined, 1]],
  ["10,000 numbers", Array.from({ length: 10_000 }, (_, i) => i * 3 - 5000)],
  ["1,000 keys", Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]))],
  ["Uint8Array", new Uint8Array([0, 1, 127, 128, 255])],
  ["empty Uint8Array", new Uint8Array(0)],
  ["Buffer", Buffer.from("bytes\u0000\u00ff", "latin1")],
  ["bytes in an object", { data: new Uint8Array([1, 2, 3]) }],
  ["bigint 1n", 1n],
  ["bigint -(2^63)", -(2n ** 63n)],
  ["bigint 2^64-1", 2n ** 64n - 1n],
  ["bigint beyond 64 bits", 2n ** 70n + 1n],
  ["bigint in an object", { n: 10n }],
];

const same = (value: unknown): Outcome => ({ value });

/** Builds a table from VALUES: every value comes back as sent unless `overrides` says otherwise. */
function table(overrides: Record<string, Omit<RoundTrip, "name" | "value">>): RoundTrip[] {
  for (const name of Object.keys(overrides)) if (!VALUES.some(([n]) => n === name)) throw new Error(`override for an unknown value: ${name}`);
  return VALUES.map(([name, value]) => ({ name, value, ...(overrides[name] ?? { echo: same(value) }) }));
}

/** Handler errors: every code, non-ASCII, long and awkward messages, and a plain Error. */
function errorCases(overrides: Record<string, ErrorCase["expect"]> = {}): ErrorCase[] {
  const cases: ErrorCase[] = [];
  for (let code = 1; code <= 16; code++) {
    const message = `${Code[code]} happened`;
    cases.push({ name: `code ${code} (${Code[code]})`, method: "Fail", params: { code, message }, expect: { code, message } });
  }
  cases.push(
    { name: "non-ASCII message", method: "Fail", params: { code: Code.NOT_FOUND, message: "ошибка: 用户不存在 😀" }, expect: { code: Code.NOT_FOUND, message: "ошибка: 用户不存在 😀" } },
    { name: "quotes and newlines", method: "Fail", params: { code: Code.ABORTED, message: 'line 1\nline "2"\\\r\n' }, expect: { code: Code.ABORTED, message: 'line 1\nline "2"\\\r\n' } },
    { name: "8 KiB message", method: "Fail", params: { code: Code.INTERNAL, message: "m".repeat(8192) }, expect: { code: Code.INTERNAL, message: "m".repeat(8192) } },
    { name: "a plain Error", method: "Throw", params: { text: "plain failure" }, expect: { code: Code.UNKNOWN, message: "plain failure" } },
    { name: "code OK thrown as an error", method: "Fail", params: { code: Code.OK, message: "ok?" }, expect: { code: Code.OK, message: "ok?" } },
    { name: "empty message", method: "Fail", params: { code: Code.NOT_FOUND, message: "" }, expect: { code: Code.NOT_FOUND, message: "" } },
  );
  for (const c of cases) if (overrides[c.name]) c.expect = overrides[c.name]!;
  return cases;
}

// ---------------------------------------------------------------------------------------------
// JSON: Go's jsonrpc wire format. Only what JSON.stringify carries survives.

const JSON_BIGINT_ECHO: Omit<RoundTrip, "name" | "value"> = {
  echo: { code: Code.INTERNAL, fromPeer: false, message: /^rpc: cannot encode params as JSON: / },
  get: { code: Code.INTERNAL, fromPeer: true, message: /^rpc: cannot encode result as JSON: / },
  note: "JSON has no bigint: the client refuses to encode it (INTERNAL); a handler's bigint result becomes an INTERNAL error reply",
};

const jsonEntry: CodecUnderTest = {
  name: "json",
  codec: () => json,
  serverCodec: () => json,
  start: (t, impl, options) => startServer(t, { examples: false, services: [[impl, { name: "Contract" }]], ...(options ? { server: options } : {}) }),
  connect: (t, url, options) => connect(t, url, options),
  method: (name) => `Contract.${name}`,
  tagged: (s, i32) => ({ s, i32 }),
  untag: (r) => ({ s: (r as { s?: unknown } | null)?.s, i32: (r as { i32?: unknown } | null)?.i32 }),
  frames: "text",
  values: table({
    "negative zero": { echo: same(0), note: "JSON.stringify(-0) is 0" },
    NaN: { echo: same(null), note: "JSON has no NaN: params travel as null; a NaN result travels as the null marker" },
    Infinity: { echo: same(null), note: "JSON has no Infinity" },
    "-Infinity": { echo: same(null), note: "JSON has no -Infinity" },
    undefined: { echo: same(null), get: same(undefined), note: "undefined params travel as [null]; an undefined result travels as {} with \"void\":true" },
    "object with an undefined member": { echo: same({ a: 1 }), note: "JSON drops undefined members" },
    "array with undefined": { echo: same([null, 1]), note: "JSON writes undefined array items as null" },
    Uint8Array: { echo: same({ 0: 0, 1: 1, 2: 127, 3: 128, 4: 255 }), note: "binary is not carried: a Uint8Array becomes an index-keyed object" },
    "empty Uint8Array": { echo: same({}), note: "binary is not carried" },
    Buffer: { echo: same({ type: "Buffer", data: [98, 121, 116, 101, 115, 0, 255] }), note: "binary is not carried: Buffer.toJSON()" },
    "bytes in an object": { echo: same({ data: { 0: 1, 1: 2, 2: 3 } }), note: "binary is not carried" },
    "bigint 1n": JSON_BIGINT_ECHO,
    "bigint -(2^63)": JSON_BIGINT_ECHO,
    "bigint 2^64-1": JSON_BIGINT_ECHO,
    "bigint beyond 64 bits": JSON_BIGINT_ECHO,
    "bigint in an object": JSON_BIGINT_ECHO,
  }),
  errors: errorCases({
    "code OK thrown as an error": { code: Code.UNKNOWN, message: "ok?" },
    "empty message": { code: Code.NOT_FOUND, message: "unspecified error" },
  }),
  unknownMethod: { code: Code.UNIMPLEMENTED, fromPeer: true, message: "rpc: can't find method Contract.Nope" },
  unknownService: { code: Code.UNIMPLEMENTED, fromPeer: true, message: "rpc: can't find service Nope.Echo" },
  fuzz: {
    params: (rng) => randomValue(rng, { loneSurrogates: true }),
    tokens: JSON_TOKENS,
    deep: deepJson,
    huge: [],
  },
};

// ---------------------------------------------------------------------------------------------
// msgpack (msgpackr, sequential records): everything round-trips.

const msgpackEntry: CodecUnderTest = {
  name: "msgpack",
  codec: () => msgpack,
  serverCodec: () => msgpack,
  start: (t, impl, options) => startServer(t, { examples: false, services: [[impl, { name: "Contract" }]], server: { codecs: [json, msgpack], ...options } }),
  connect: (t, url, options) => connect(t, `${url}?codec=msgpack`, options),
  method: (name) => `Contract.${name}`,
  tagged: (s, i32) => ({ s, i32 }),
  untag: (r) => ({ s: (r as { s?: unknown } | null)?.s, i32: (r as { i32?: unknown } | null)?.i32 }),
  preface: prefaceFor("msgpack"),
  frames: "binary",
  values: table({
    "negative zero": { echo: same(0), note: "msgpackr writes -0 as the integer 0" },
    "lone surrogate": {
      echo: same("a\ufffd\ufffd\ufffdb\ufffd\ufffd\ufffdc"),
      note: "msgpackr writes a lone surrogate as the 3 bytes ED A0 80 (not UTF-8); it comes back as three U+FFFD",
    },
    "own __proto__ key": {
      echo: same(JSON.parse('{"__proto_":{"polluted":true},"y":2}')),
      note: "msgpackr renames a \"__proto__\" key to \"__proto_\" when decoding (its prototype-pollution guard)",
    },
  }),
  errors: errorCases({
    "code OK thrown as an error": { code: Code.UNKNOWN, message: "ok?" },
  }),
  unknownMethod: { code: Code.UNIMPLEMENTED, fromPeer: true, message: "rpc: can't find method Contract.Nope" },
  unknownService: { code: Code.UNIMPLEMENTED, fromPeer: true, message: "rpc: can't find service Nope.Echo" },
  fuzz: {
    params: (rng) => randomValue(rng, { binary: true, bigint: true, undefined: true, loneSurrogates: true }),
    tokens: MSGPACK_TOKENS,
    deep: deepMsgpack,
    huge: MSGPACK_HUGE,
  },
};

// ---------------------------------------------------------------------------------------------
// protobuf: values typed by the contract's .proto; results come back normalised (every field
// present at its default, int64s as decimal strings, enums as names, bytes as Uint8Array).

export const CONTRACT_PROTO = `syntax = "proto3";
package contract;

service Contract {
  rpc Echo(Kinds) returns (Kinds);
  rpc Get(Name) returns (Kinds);
  rpc Fail(FailReq) returns (Empty);
  rpc Throw(Text) returns (Empty);
  rpc Meta(Empty) returns (Text);
  rpc Len(Text) returns (Count);
  rpc Hold(Kinds) returns (Kinds);
}

enum Color { RED = 0; GREEN = 1; BLUE = 2; }

message Inner { string label = 1; repeated int32 values = 2; }

message Kinds {
  string s = 1;
  int64 i64 = 2;
  uint64 u64 = 3;
  int32 i32 = 4;
  double d = 5;
  float f = 6;
  bytes b = 7;
  bool flag = 8;
  repeated string list = 9;
  repeated int32 nums = 10;
  Inner nested = 11;
  repeated Inner items = 12;
  map<string, string> dict = 13;
  Color color = 14;
  sint64 z64 = 15;
  string snake_case = 16;
}

message Name { string name = 1; }
message FailReq { int32 code = 1; string message = 2; }
message Text { string text = 1; }
message Count { int32 n = 1; }
message Empty {}
`;

const contractRoot = parseProto(CONTRACT_PROTO);

/** Kinds with every field at its default, as a decoded result shows it. */
const KIND_DEFAULTS = {
  s: "", i64: "0", u64: "0", i32: 0, d: 0, f: 0, b: new Uint8Array(0), flag: false, list: [], nums: [],
  nested: null, items: [], dict: {}, color: "RED", z64: "0", snake_case: "",
};
const kinds = (fields: Record<string, unknown>): Record<string, unknown> => ({ ...KIND_DEFAULTS, ...fields });
const normalised = (value: unknown, fields: Record<string, unknown>, note?: string): RoundTrip => ({ name: "", value, echo: same(kinds(fields)), ...(note ? { note } : {}) });

/** A value the client refuses to encode (INVALID_ARGUMENT) and the server refuses as a result (INTERNAL). */
const doesNotFit = (value: unknown, detail: RegExp, note: string): RoundTrip => ({
  name: "",
  value,
  echo: { code: Code.INVALID_ARGUMENT, fromPeer: false, message: new RegExp(`^rpc: protobuf: bad params for contract\\.Contract\\.Echo: .*${detail.source}`) },
  get: { code: Code.INTERNAL, fromPeer: true, message: new RegExp(`^rpc: protobuf: cannot encode the result of contract\\.Contract\\.Get: .*${detail.source}`) },
  note,
});

const PROTOBUF_VALUES: RoundTrip[] = Object.entries({
  "empty message": normalised({}, {}, "every field comes back at its default"),
  "null params": normalised(null, {}, "null and undefined encode as the empty message"),
  "undefined params": normalised(undefined, {}, "null and undefined encode as the empty message"),
  "ascii string": normalised({ s: "hello" }, { s: "hello" }),
  "non-ASCII and emoji": normalised({ s: "héllo 小王 😀👨‍👩‍👧" }, { s: "héllo 小王 😀👨‍👩‍👧" }),
  "controls in a string": normalised({ s: "\u0000\t\n\r" }, { s: "\u0000\t\n\r" }),
  "lone surrogate": normalised(
    { s: "a\ud800b" },
    { s: "a\ufffd\ufffd\ufffdb" },
    "protobufjs writes a lone surrogate as the 3 bytes ED A0 80 (not UTF-8; other languages' decoders refuse such a string); it comes back as three U+FFFD",
  ),
  "64 KiB string": normalised({ s: "x".repeat(65_536) }, { s: "x".repeat(65_536) }),
  "int64 from a number": normalised({ i64: 123 }, { i64: "123" }, "int64 comes back as a decimal string"),
  "int64 from a string past 2^53": normalised({ i64: "9007199254740993" }, { i64: "9007199254740993" }),
  "int64 min from a bigint": normalised({ i64: -(2n ** 63n) }, { i64: "-9223372036854775808" }),
  "int64 max": normalised({ i64: "9223372036854775807" }, { i64: "9223372036854775807" }),
  "uint64 max": normalised({ u64: "18446744073709551615" }, { u64: "18446744073709551615" }),
  "sint64 negative": normalised({ z64: -5 }, { z64: "-5" }),
  "int32 min and max": normalised({ i32: -(2 ** 31), nums: [2 ** 31 - 1, -1, 0] }, { i32: -(2 ** 31), nums: [2 ** 31 - 1, -1, 0] }),
  "double 0.1": normalised({ d: 0.1 }, { d: 0.1 }),
  "double -0": normalised({ d: -0 }, { d: -0 }),
  "double extremes": normalised({ d: Number.MAX_VALUE }, { d: Number.MAX_VALUE }),
  "double NaN": normalised({ d: NaN }, { d: NaN }),
  "double -Infinity": normalised({ d: -Infinity }, { d: -Infinity }),
  "float rounds to 32 bits": normalised({ f: 0.1 }, { f: Math.fround(0.1) }, "float is 32-bit: 0.1 comes back as Math.fround(0.1)"),
  "bytes": normalised({ b: new Uint8Array([0, 1, 127, 128, 255]) }, { b: new Uint8Array([0, 1, 127, 128, 255]) }),
  "bytes from a Buffer": normalised({ b: Buffer.from("hi\u0000", "latin1") }, { b: new Uint8Array([0x68, 0x69, 0]) }),
  "bytes from base64": normalised({ b: "AAH/" }, { b: new Uint8Array([0, 1, 255]) }, "bytes also accept base64 text"),
  "bool": normalised({ flag: true }, { flag: true }),
  "repeated strings": normalised({ list: ["a", "", "😀"] }, { list: ["a", "", "😀"] }),
  "nested message": normalised({ nested: { label: "x", values: [1, 2] } }, { nested: { label: "x", values: [1, 2] } }),
  "empty nested message": normalised({ nested: {} }, { nested: { label: "", values: [] } }),
  "repeated nested": normalised({ items: [{ label: "a" }, {}] }, { items: [{ label: "a", values: [] }, { label: "", values: [] }] }),
  "map": normalised({ dict: { a: "1", ключ: "😀", "": "empty key" } }, { dict: { a: "1", ключ: "😀", "": "empty key" } }),
  "enum by name": normalised({ color: "BLUE" }, { color: "BLUE" }, "enums come back as names"),
  "enum by number": normalised({ color: 1 }, { color: "GREEN" }),
  "lowerCamel key": normalised({ snakeCase: "camel" }, { snake_case: "camel" }, "lowerCamelCase keys are accepted; results use the .proto names"),
  "every field": normalised(
    { s: "all", i64: 1, u64: 2, i32: 3, d: 4.5, f: 0.5, b: new Uint8Array([9]), flag: true, list: ["l"], nums: [7], nested: { label: "n" }, items: [{ values: [1] }], dict: { k: "v" }, color: "GREEN", z64: -1, snake_case: "sc" },
    { s: "all", i64: "1", u64: "2", i32: 3, d: 4.5, f: 0.5, b: new Uint8Array([9]), flag: true, list: ["l"], nums: [7], nested: { label: "n", values: [] }, items: [{ label: "", values: [1] }], dict: { k: "v" }, color: "GREEN", z64: "-1", snake_case: "sc" },
  ),
  "unknown field": doesNotFit({ nope: 1 }, /no such field/, "a key that names no field is refused (as protojson does)"),
  "string for an int32": doesNotFit({ i32: "5" }, /int32/, "scalars are checked, not coerced"),
  "int32 out of range": doesNotFit({ i32: 2 ** 31 }, /int32/, "int32 range is checked"),
  "int64 past 2^63": doesNotFit({ i64: 2n ** 63n }, /int64/, "int64 range is checked"),
  "not an object": doesNotFit("text", /object expected/, "params must be an object"),
  "null in a repeated field": doesNotFit({ list: ["a", null] }, /null in a repeated field/, "repeated fields hold no nulls"),
  "unknown enum name": doesNotFit({ color: "PURPLE" }, /Color name or number expected/, "enum values are checked"),
}).map(([name, rt]) => ({ ...rt, name }));

let contractCodec: ReturnType<typeof protobuf> | undefined;
const contractProtobuf = () => (contractCodec ??= protobuf({ root: contractRoot }));

/** A random Kinds message as plain params. */
function randomKinds(rng: Rng): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (rng.bool()) out.s = rng.string(40);
  if (rng.bool(0.3)) out.i64 = rng.pick([0, 1, -1, "9223372036854775807", "-9223372036854775808", rng.range(-1e9, 1e9), BigInt(rng.u32()) * 4294967296n]);
  if (rng.bool(0.3)) out.u64 = rng.pick(["18446744073709551615", 0, rng.u32()]);
  if (rng.bool(0.3)) out.i32 = rng.range(-(2 ** 31), 2 ** 31 - 1);
  if (rng.bool(0.3)) out.d = rng.pick([0.1, -0, NaN, Infinity, rng.float() * 1e10]);
  if (rng.bool(0.2)) out.f = rng.float();
  if (rng.bool(0.3)) out.b = rng.bytes(rng.size(64));
  if (rng.bool(0.2)) out.flag = rng.bool();
  if (rng.bool(0.2)) out.list = Array.from({ length: rng.size(5) }, () => rng.string(10));
  if (rng.bool(0.2)) out.nums = Array.from({ length: rng.size(8) }, () => rng.range(-1000, 1000));
  if (rng.bool(0.2)) out.nested = { label: rng.string(8), values: [rng.int(100)] };
  if (rng.bool(0.2)) out.items = Array.from({ length: rng.size(3) }, () => ({ label: rng.string(5) }));
  if (rng.bool(0.2)) out.dict = Object.fromEntries(Array.from({ length: rng.size(3) }, () => [rng.string(6), rng.string(6)]));
  if (rng.bool(0.2)) out.color = rng.pick(["RED", "GREEN", "BLUE", 2]);
  if (rng.bool(0.2)) out.z64 = rng.range(-1e6, 1e6);
  return out;
}

const protobufEntry: CodecUnderTest = {
  name: "protobuf",
  codec: contractProtobuf,
  serverCodec: contractProtobuf,
  // The server learns the service (and its protobuf codec the message types) from register().
  start: (t, impl, options) => startServer(t, { examples: false, services: [[impl, { service: "contract.Contract", proto: contractRoot }]], ...(options ? { server: options } : {}) }),
  connect: (t, url, options) => connect(t, url, { ...options, codec: contractProtobuf() }),
  method: (name) => `contract.Contract.${name}`,
  tagged: (s, i32) => ({ s, i32 }),
  untag: (r) => ({ s: (r as { s?: unknown } | null)?.s, i32: (r as { i32?: unknown } | null)?.i32 }),
  preface: prefaceFor("protobuf"),
  frames: "binary",
  values: PROTOBUF_VALUES,
  errors: errorCases({
    "code OK thrown as an error": { code: Code.UNKNOWN, message: "ok?" },
    "empty message": { code: Code.NOT_FOUND, message: "unspecified error" },
  }),
  unknownMethod: { code: Code.UNIMPLEMENTED, fromPeer: false, message: /^rpc: protobuf: no descriptor for method contract\.Contract\.Nope/ },
  unknownService: { code: Code.UNIMPLEMENTED, fromPeer: false, message: /^rpc: protobuf: no descriptor for method Nope\.Echo/ },
  fuzz: {
    params: randomKinds,
    tokens: PROTOBUF_TOKENS,
    deep: (rng, depth) => {
      const nested = deepProtobuf(rng, depth);
      const where = rng.int(3);
      return where === 0 ? nested : protobufEnvelope(where === 1 ? "request" : "response", nested);
    },
    huge: PROTOBUF_HUGE,
  },
};

// ---------------------------------------------------------------------------------------------

/** Every codec the suites run. */
export const CODECS: readonly CodecUnderTest[] = [jsonEntry, msgpackEntry, protobufEntry];

export interface FramerUnderTest {
  name: string;
  make(maxMessageSize: number): Framer;
  /** Bytes the framing adds around a body of n bytes. */
  overhead: number;
  /** Whether frames come out as text (and bodies must be newline-free text). */
  text: boolean;
}

/** Every framer the fuzz suite runs. */
export const FRAMERS: readonly FramerUnderTest[] = [
  { name: "NewlineFramer", make: (max) => new NewlineFramer(max), overhead: 1, text: true },
  { name: "LengthFramer", make: (max) => new LengthFramer(max), overhead: 4, text: false },
];
