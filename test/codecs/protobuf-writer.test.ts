// The protobuf codec's in-place writer: the same bytes as protobufjs's Writer, whole frames side by side; and BatchWriter joining them.
import t from "tap";
import type { Duplex } from "node:stream";
import { parseProto } from "../../codecs/protobuf/index.js";
import { SlabWriter, writeFrame } from "../../codecs/protobuf/writer.js";
import { checkMessage } from "../../codecs/protobuf/check.js";
import { BatchWriter } from "../../core/batch-writer.js";
import type { Message, Type } from "protobufjs";

const PROTO = `syntax = "proto3";
package w;
enum Sign { ZERO = 0; MINUS = -1; BIG = 1000000; }
message Inner { string s = 1; repeated Inner kids = 2; bytes b = 3; }
message All {
  int32 i32 = 1; sint32 s32 = 2; uint32 u32 = 3; fixed32 f32 = 4; sfixed32 sf32 = 5;
  int64 i64 = 6; sint64 s64 = 7; uint64 u64 = 8; fixed64 f64 = 9; sfixed64 sf64 = 10;
  float fl = 11; double db = 12; bool ok = 13; string str = 14; bytes raw = 15; Sign sign = 16;
  repeated int32 packed = 17; repeated string names = 18; repeated sint64 longs = 19;
  map<string, Inner> byName = 20; map<int64, string> byNum = 21; Inner inner = 22;
  oneof pick { string a = 23; Inner b = 24; }
  optional int32 maybe = 25;
  string far = 2000;
}`;

const root = parseProto(PROTO);
const All = root.lookupType("w.All");

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function nested(depth: number, width: number): unknown {
  return { s: `d${depth}`, b: Uint8Array.from({ length: depth * 10 }, (_, i) => i), kids: depth === 0 ? [] : Array.from({ length: width }, () => nested(depth - 1, width)) };
}

const values: Array<[string, unknown]> = [
  ["empty", {}],
  ["negative varints", { i32: -1, s32: -2147483648, sign: "MINUS", packed: [-1, 0, 1, 2147483647], i64: "-9223372036854775808", s64: "-1", longs: ["-5", "9007199254740993"] }],
  ["fixed and floats", { f32: 0xffffffff, sf32: -7, f64: "18446744073709551615", sf64: "-2", fl: 1.5, db: -0.1, u32: 300, u64: 2 ** 53 + 2 }],
  ["strings", { str: "héllo 小王 😀", names: ["", "a", "x".repeat(127), "y".repeat(128), "é".repeat(70), "z".repeat(20_000)], far: "lone \ud800 surrogate", a: "a\udc00" }],
  ["short lone surrogate (protobufjs's ED A0 80)", { str: "a\ud800b" }],
  ["long lone surrogate (Buffer's U+FFFD)", { str: `${"x".repeat(50)}\ud800` }],
  ["bytes", { raw: Uint8Array.from({ length: 300 }, (_, i) => i & 255), inner: { b: "AQID" } }],
  ["maps and nesting", { byName: { a: { s: "1" }, "": {}, long: nested(3, 3) }, byNum: { "5": "five", "-1": "minus" }, inner: nested(4, 2), b: { s: "oneof" }, maybe: 0, ok: true }],
  ["big enough to move slabs", { names: Array.from({ length: 40 }, (_, i) => `${i}`.repeat(3000)), inner: nested(6, 3) }],
];

function encodeBoth(type: Type, value: unknown): [string, string] {
  const message = checkMessage(type, value) as unknown as Message;
  const expected = hex(type.encode(message).finish());
  const frame = writeFrame((w) => void type.encode(message, w.asWriter));
  const length = Buffer.from(frame).readUInt32BE(0);
  if (length !== frame.length - 4) throw new Error(`prefix says ${length}, frame holds ${frame.length - 4}`);
  return [hex(frame.subarray(4)), expected];
}

t.test("the same bytes as protobufjs's Writer, after a big-endian length prefix", async (t) => {
  for (let round = 0; round < 3; round++) {
    for (const [what, value] of values) {
      const [got, expected] = encodeBoth(All, value);
      t.equal(got, expected, `${what} (round ${round})`);
    }
  }
});

t.test("frames written in a row lie side by side; one that outgrows the slab moves whole", async (t) => {
  const Inner = root.lookupType("w.Inner");
  const frames: Uint8Array[] = [];
  let moved = 0;
  for (let i = 0; i < 300; i++) {
    const message = checkMessage(Inner, { s: "x".repeat(i * 7) }) as unknown as Message;
    const frame = writeFrame((w) => void Inner.encode(message, w.asWriter));
    const prev = frames[frames.length - 1];
    if (prev && (prev.buffer !== frame.buffer || prev.byteOffset + prev.length !== frame.byteOffset)) moved++;
    frames.push(frame);
    t.equal(hex(frame.subarray(4)), hex(Inner.encode(message).finish()), `frame ${i}`);
  }
  t.ok(moved >= 1 && moved < 20, `a new slab now and then (${moved})`);
});

t.test("message(): an empty message leaves no field at all, wherever the slab ends", async (t) => {
  const Inner = root.lookupType("w.Inner");
  const empty = checkMessage(Inner, {}) as unknown as Message;
  const some = checkMessage(Inner, { s: "ab" }) as unknown as Message;
  let bad = 0;
  for (let i = 0; i < 4000; i++) {
    const pad = "p".repeat(i % 97);
    const frame = writeFrame((w) => {
      w.uint32(0x0a).string(pad);
      w.message(0x22, Inner, i % 2 ? empty : some);
    });
    const expected = `0a${pad.length.toString(16).padStart(2, "0")}${Buffer.from(pad).toString("hex")}${i % 2 ? "" : "22040a026162"}`;
    if (hex(frame.subarray(4)) !== expected) bad++;
  }
  t.equal(bad, 0, "every frame as expected");
});

t.test("a write that throws leaves nothing behind, and the writer takes the next frame", async (t) => {
  const before = writeFrame((w) => void w.uint32(8).uint32(1));
  t.throws(() => writeFrame((w) => {
    w.uint32(10).fork().string("half");
    throw new Error("boom");
  }), /boom/);
  const after = writeFrame((w) => void w.uint32(8).uint32(2));
  t.equal(hex(after), "000000020802");
  t.equal(after.byteOffset, before.byteOffset + before.length, "written where the failed frame began");
  t.throws(() => writeFrame((w) => void w.fork()), /still open/);
  t.throws(() => new SlabWriter().ldelim(), /without fork/);
  // An encode inside an encode (a Long's getter, say) gets a writer of its own.
  const outer = writeFrame((w) => {
    const inner = writeFrame((v) => void v.uint32(8).uint32(3));
    t.equal(hex(inner), "000000020803");
    w.uint32(8).uint32(4);
  });
  t.equal(hex(outer), "000000020804");
});

t.test("BatchWriter: contiguous views go out as one view, others are copied once", async (t) => {
  // What the socket is handed, as it is handed.
  const written: Uint8Array[] = [];
  const stream = { destroyed: false, writableEnded: false, writableNeedDrain: false, write: (c: Uint8Array) => written.push(c) > 0 };
  const writer = new BatchWriter(stream as unknown as Duplex);

  const frames = [1, 2, 3].map((n) => writeFrame((w) => void w.uint32(8).uint32(n)));
  for (const f of frames) writer.write(f);
  writer.flush();
  t.equal(written.length, 1);
  t.equal(hex(written[0]!), "000000020801000000020802000000020803");
  t.equal(written[0]!.buffer, frames[0]!.buffer, "a view of the slab, not a copy");

  const apart = [Uint8Array.of(1, 2), Uint8Array.of(3)];
  for (const f of apart) writer.write(f);
  writer.write("é\n");
  writer.flush();
  t.equal(hex(written[1]!), "010203c3a90a", "bytes and text, joined");
});
