// The gRPC wire pieces on their own: grpc-timeout, grpc-message percent-encoding, the HTTP
// status mapping, message framing and gzip limits.
import t from "tap";
import { HTTP_STATUS_CODES } from "../helpers/grpc-spec.js";
import zlib from "node:zlib";
import { Code } from "../../core/codes.js";
import { RpcError } from "../../core/errors.js";
import { encodeTimeout, parseTimeout } from "../../transports/grpc/timeout.js";
import { codeForHttpStatus, decodeMessage, encodeMessage, isReservedHeader, putMetadata, readHeaders } from "../../transports/grpc/headers.js";
import { MessageReader, messageHeader, type GrpcMessage } from "../../transports/grpc/frames.js";
import { decompress } from "../../transports/grpc/compression.js";

t.test("grpc-timeout: every unit parses, anything else is malformed", async (t) => {
  t.equal(parseTimeout("2H"), 7_200_000);
  t.equal(parseTimeout("3M"), 180_000);
  t.equal(parseTimeout("4S"), 4_000);
  t.equal(parseTimeout("500m"), 500);
  t.equal(parseTimeout("1500u"), 1.5);
  t.equal(parseTimeout("2000000n"), 2);
  t.equal(parseTimeout("99999999S"), 99_999_999_000, "eight digits");
  t.equal(parseTimeout("0m"), 0);
  for (const bad of ["", "S", "100", "123456789S", "1.5S", "-1S", "+1S", " 1S", "1S ", "1 S", "1s", "1h", "1x", "0x10S", "1e3m", "١S"]) {
    t.equal(parseTimeout(bad), undefined, `${JSON.stringify(bad)} is malformed`);
  }
});

t.test("grpc-timeout: encoding picks the finest unit in eight digits and never shortens the wait", async (t) => {
  t.equal(encodeTimeout(1), "1m");
  t.equal(encodeTimeout(1500), "1500m");
  t.equal(encodeTimeout(0.25), "250u");
  t.equal(encodeTimeout(0.0001), "1u", "less than a microsecond rounds up");
  t.equal(encodeTimeout(1.2), "2m", "fractions round up");
  t.equal(encodeTimeout(99_999_999), "99999999m");
  t.equal(encodeTimeout(100_000_000), "100000S");
  t.equal(encodeTimeout(2 ** 31 - 1), "2147484S");
  for (const ms of [0.001, 0.5, 1, 7, 999.5, 60_000, 86_400_000, 2 ** 31 - 1, 1e12, 1e15]) {
    const text = encodeTimeout(ms);
    t.match(text, /^\d{1,8}[HMSmun]$/, `${ms} ms -> ${text}: at most eight digits`);
    t.ok(parseTimeout(text)! >= Math.min(ms, parseTimeout("99999999H")!), `${text} is not shorter than ${ms} ms`);
  }
});

const WEIRD = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";

t.test("grpc-message: percent-encoding as PROTOCOL-HTTP2.md spells it", async (t) => {
  t.equal(encodeMessage("plain text ~!"), "plain text ~!", "printable ASCII except '%' goes as is");
  t.equal(encodeMessage("100%"), "100%25");
  t.equal(encodeMessage(WEIRD), "%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA and non-BMP %F0%9F%98%88%09%0A");
  t.equal(decodeMessage(encodeMessage(WEIRD)), WEIRD);
  t.equal(decodeMessage("%e2%98%ba lower case hex"), "☺ lower case hex");
  t.equal(decodeMessage("bad %zz and %4 and %"), "bad %zz and %4 and %", "a malformed escape is kept as written");
  t.equal(decodeMessage("%FF"), "\uFFFD", "bytes that are not UTF-8 become U+FFFD, never a throw");
  for (let c = 0; c < 0x80; c++) {
    const s = `a${String.fromCharCode(c)}b`;
    if (decodeMessage(encodeMessage(s)) !== s) t.fail(`code point ${c} does not survive`);
    if (!/^[\x20-\x7e]*$/.test(encodeMessage(s))) t.fail(`code point ${c} is not escaped`);
  }
});

t.test("HTTP status -> gRPC code without grpc-status (http-grpc-status-mapping.md)", async (t) => {
  const table = [...HTTP_STATUS_CODES, [302, Code.UNKNOWN], [405, Code.UNKNOWN]] as const;
  for (const [status, code] of table) t.equal(codeForHttpStatus(status), code, `${status}`);
});

t.test("metadata <-> headers: reserved keys, base64 binary values, repeated fields", async (t) => {
  for (const key of [":path", "grpc-status", "grpc-anything", "content-type", "te", "user-agent", "host", "connection", "transfer-encoding"]) {
    t.ok(isReservedHeader(key), `${key} is reserved`);
    t.throws(() => putMetadata({}, { [key]: "x" }, Code.INVALID_ARGUMENT), { code: Code.INVALID_ARGUMENT });
  }
  t.notOk(isReservedHeader("grpcx"));
  const out: Record<string, string | string[]> = {};
  putMetadata(out, { "a-bin": [new Uint8Array([0xff, 0]), new Uint8Array(0)], b: ["1", "2"] }, Code.INTERNAL);
  t.same(out, { "a-bin": ["/wA=", ""], b: ["1", "2"] });
  const md = readHeaders({}, undefined, ["a-bin", "/wA", "a-bin", "AQ==,Ag", "b", "1", "B", "2", "grpc-status", "0", "content-type", "application/grpc"]);
  t.same(md, { "a-bin": [Buffer.from([0xff, 0]), Buffer.from([1]), Buffer.from([2])], b: ["1", "2"] }, "unpadded and comma-joined binary values, repeated text values");
  t.same(readHeaders({ "x-a": "1, 2", "x-b-bin": "AQ==, Ag==", te: "trailers" }), { "x-a": "1, 2", "x-b-bin": [Buffer.from([1]), Buffer.from([2])] });
});

t.test("message framing: split anywhere, limit checked on the declared length", async (t) => {
  const body = Buffer.from("hello, world");
  const wire = Buffer.concat([messageHeader(body.length, false), body, messageHeader(0, true), messageHeader(3, true), Buffer.from([1, 2, 3])]);
  for (let step = 1; step <= wire.length; step++) {
    const reader = new MessageReader(100);
    const got: GrpcMessage[] = [];
    for (let at = 0; at < wire.length; at += step) reader.push(wire.subarray(at, at + step), (m) => got.push({ compressed: m.compressed, data: Buffer.from(m.data) }));
    t.same(got, [
      { compressed: false, data: body },
      { compressed: true, data: Buffer.alloc(0) },
      { compressed: true, data: Buffer.from([1, 2, 3]) },
    ], `chunks of ${step}`);
    t.ok(reader.idle);
  }
  const partial = new MessageReader(100);
  partial.push(wire.subarray(0, 7), () => {});
  t.notOk(partial.idle, "inside a message");

  const exact = new MessageReader(4);
  const seen: number[] = [];
  exact.push(Buffer.concat([messageHeader(4, false), Buffer.alloc(4)]), (m) => seen.push(m.data.length));
  t.same(seen, [4], "a message of exactly the limit passes");
  t.throws(() => new MessageReader(4).push(messageHeader(5, false), () => {}), { code: Code.RESOURCE_EXHAUSTED }, "one byte over fails on the prefix alone");
  t.throws(() => new MessageReader(4).push(Buffer.from([2, 0, 0, 0, 0]), () => {}), { code: Code.INTERNAL }, "an unknown flag");
});

t.test("gzip: inflating is capped at the limit", async (t) => {
  const max = 1024;
  t.same(Buffer.from(decompress(zlib.gzipSync(Buffer.alloc(max, 7)), "gzip", max)), Buffer.alloc(max, 7), "exactly the limit");
  const err = t.throws(() => decompress(zlib.gzipSync(Buffer.alloc(max + 1)), "gzip", max)) as unknown;
  t.ok(err instanceof RpcError && err.code === Code.RESOURCE_EXHAUSTED, "one byte over");
  t.throws(() => decompress(Buffer.from("not gzip"), "gzip", max), { code: Code.INTERNAL });
  t.throws(() => decompress(zlib.gzipSync(Buffer.alloc(1)), undefined, max), { code: Code.INTERNAL }, "a compressed message without grpc-encoding");
});
