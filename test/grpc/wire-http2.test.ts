// gRPC on the wire, with node:http2 as the peer: what our server sends a raw HTTP/2 client
// (trailers-only replies, content-types, 405/415, timeouts, truncated messages, compression),
// and how our client reads a raw HTTP/2 server (HTTP status mapping, statuses, compression).
import t, { type Test } from "tap";
import { HTTP_STATUS_CODES } from "../helpers/grpc-spec.js";
import http2 from "node:http2";
import zlib from "node:zlib";
import type { AddressInfo } from "node:net";
import { Server, dial, protobuf, RpcError, Code, type CallContext, type Client, type ServerOptions } from "../../index.js";
import { bounded, rejection } from "../helpers/net.js";
import { ECHO, echoRoot, type Msg } from "../helpers/grpcjs.js";

const { NGHTTP2_FLAG_END_STREAM, NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;
const WEIRD = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
const MsgType = echoRoot().lookupType("wire.Msg");
const encodeMsg = (m: Msg): Buffer => Buffer.from(MsgType.encode(MsgType.fromObject(m)).finish());
const decodeMsg = (b: Uint8Array): any => MsgType.toObject(MsgType.decode(b), { defaults: true });
const frame = (body: Uint8Array, compressed = false): Buffer => {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
};

/** The messages in a DATA payload. */
function unframe(data: Buffer): Array<{ compressed: boolean; body: Buffer }> {
  const out: Array<{ compressed: boolean; body: Buffer }> = [];
  for (let at = 0; at < data.length; ) {
    const length = data.readUInt32BE(at + 1);
    out.push({ compressed: data[at] === 1, body: data.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

const U = `${ECHO}.Unary`;

// ---- a raw HTTP/2 client against our server ----

interface RawReply {
  headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader;
  /** The response HEADERS frame carried END_STREAM (a trailers-only or bodiless reply). */
  headersEnded: boolean;
  data: Buffer;
  trailers: http2.IncomingHttpHeaders | undefined;
  rawTrailers: string[] | undefined;
  rstCode: number | undefined;
}

async function rawSession(t: Test, port: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  t.teardown(() => session.destroy());
  await bounded(new Promise((resolve, reject) => session.once("connect", resolve).once("error", reject)), 10_000, "h2 connect");
  return session;
}

function rawCall(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer | Buffer[], end = true): Promise<RawReply> {
  const stream = session.request({ ":method": "POST", "content-type": "application/grpc", te: "trailers", ...headers }, { endStream: false });
  for (const chunk of body === undefined ? [] : Array.isArray(body) ? body : [body]) stream.write(chunk);
  if (end) stream.end();
  return bounded(
    new Promise<RawReply>((resolve) => {
      const reply: Partial<RawReply> = { data: Buffer.alloc(0) };
      stream.on("response", (h, flags) => {
        reply.headers = h;
        reply.headersEnded = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
      });
      stream.on("data", (d: Buffer) => (reply.data = Buffer.concat([reply.data!, d])));
      stream.on("trailers", (tr, _flags, raw: string[]) => {
        reply.trailers = tr;
        reply.rawTrailers = raw;
      });
      stream.on("error", () => {});
      stream.on("close", () => resolve({ ...(reply as RawReply), rstCode: stream.rstCode }));
    }),
    10_000,
    `raw call ${String(headers[":path"])}`,
  );
}

async function ours(t: Test, impl: object, options: ServerOptions = {}): Promise<{ server: Server; port: number }> {
  const server = new Server(options);
  server.register(impl, { service: ECHO, proto: echoRoot() });
  server.register({ Add: (p: { a: number; b: number }) => p.a + p.b }, { name: "Plain" });
  const listener = await server.listen("grpc://127.0.0.1:0");
  t.teardown(() => server.close());
  return { server, port: listener.port! };
}

t.test("our server: replies, trailers-only errors and content-types on the wire", async (t) => {
  let ran = 0;
  const { port } = await ours(t, {
    Unary(m: Msg, ctx: CallContext) {
      ran++;
      if (m.text === "fail") throw new RpcError(Code.NOT_FOUND, WEIRD);
      if (m.text === "fail-after-header") {
        ctx.responseHeader["x-h"] = "1";
        throw new RpcError(Code.ABORTED, "no");
      }
      ctx.responseTrailer["x-t"] = ["1", "2"];
      return { text: `${m.text}!` };
    },
    async *ServerStream() {
      yield { n: 1 };
      throw new RpcError(Code.OUT_OF_RANGE, "late");
    },
  });
  const session = await rawSession(t, port);

  const ok = await rawCall(session, { ":path": "/wire.Echo/Unary" }, frame(encodeMsg({ text: "a" })));
  t.same([ok.headers[":status"], ok.headers["content-type"], ok.headersEnded], [200, "application/grpc", false], "response headers first");
  t.equal(ok.headers["grpc-accept-encoding"], "identity,gzip");
  t.same(unframe(ok.data).map((m) => [m.compressed, decodeMsg(m.body).text]), [[false, "a!"]], "one uncompressed message");
  t.equal(ok.trailers?.["grpc-status"], "0");
  t.notOk("grpc-message" in (ok.trailers ?? {}), "no grpc-message for OK");
  t.same(ok.rawTrailers?.filter((_, i, a) => a[i - 1] === "x-t"), ["1", "2"], "a repeated trailer goes as two fields");

  const fail = await rawCall(session, { ":path": "/wire.Echo/Unary" }, frame(encodeMsg({ text: "fail" })));
  t.ok(fail.headersEnded, "an error before any reply is trailers-only: one HEADERS frame with END_STREAM");
  t.same([fail.headers[":status"], fail.headers["content-type"], fail.headers["grpc-status"]], [200, "application/grpc", "5"]);
  t.equal(fail.headers["grpc-message"], "%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA and non-BMP %F0%9F%98%88%09%0A", "grpc-message percent-encoded");
  t.same([fail.data.length, fail.trailers], [0, undefined], "no DATA, no second HEADERS");

  const late = await rawCall(session, { ":path": "/wire.Echo/ServerStream" }, frame(encodeMsg({})));
  t.same([late.headersEnded, unframe(late.data).length, late.trailers?.["grpc-status"], late.trailers?.["grpc-message"]], [false, 1, "11", "late"], "an error after a reply goes in trailers");

  const header = await rawCall(session, { ":path": "/wire.Echo/Unary" }, frame(encodeMsg({ text: "fail-after-header" })));
  t.same([header.headersEnded, header.headers["grpc-status"], header.headers["x-h"]], [true, "10", "1"], "trailers-only carries the response header metadata too");

  for (const path of ["/wire.Echo/Bidi", "/wire.Echo/Nope", "/wire.Nope/Unary", "/Echo", "/a/b/c", "/"]) {
    const r = await rawCall(session, { ":path": path }, frame(encodeMsg({})));
    t.same([r.headersEnded, r.headers[":status"], r.headers["grpc-status"]], [true, 200, String(Code.UNIMPLEMENTED)], `${path}: trailers-only UNIMPLEMENTED`);
  }

  const plus = await rawCall(session, { ":path": "/wire.Echo/Unary", "content-type": "application/grpc+proto" }, frame(encodeMsg({ text: "p" })));
  t.same([plus.headers["content-type"], plus.trailers?.["grpc-status"]], ["application/grpc+proto", "0"], "application/grpc+proto is protobuf, echoed back");
  const json = await rawCall(session, { ":path": "/Plain/Add", "content-type": "application/grpc+json" }, frame(Buffer.from(JSON.stringify({ a: 2, b: 3 }))));
  t.same([json.headers["content-type"], unframe(json.data)[0]?.body.toString(), json.trailers?.["grpc-status"]], ["application/grpc+json", "5", "0"], "application/grpc+json");
  const unknownCodec = await rawCall(session, { ":path": "/wire.Echo/Unary", "content-type": "application/grpc+thrift" }, frame(Buffer.from("x")));
  t.same([unknownCodec.headersEnded, unknownCodec.headers["content-type"], unknownCodec.headers["grpc-status"]], [true, "application/grpc+thrift", String(Code.UNIMPLEMENTED)], "a gRPC subtype we lack: UNIMPLEMENTED");

  const before = ran;
  for (const [method, contentType, status] of [
    ["GET", "application/grpc", 405],
    ["PUT", "application/grpc", 405],
    ["POST", "text/plain", 415],
    ["POST", "application/json", 415],
    ["POST", "application/grpc-web", 415],
    ["POST", undefined, 415],
  ] as const) {
    const stream = session.request({ ":method": method, ":path": "/wire.Echo/Unary", ...(contentType ? { "content-type": contentType } : {}) }, { endStream: method === "GET" });
    if (method !== "GET") stream.end(frame(encodeMsg({ text: "x" })));
    const [code, body] = await bounded(
      new Promise<[number, string]>((resolve) => {
        let status = 0;
        let text = "";
        stream.on("response", (h) => (status = Number(h[":status"])));
        stream.on("data", (d: Buffer) => (text += d.toString()));
        stream.on("close", () => resolve([status, text]));
      }),
      10_000,
      `${method} ${contentType}`,
    );
    t.equal(code, status, `${method} with content-type ${contentType ?? "(none)"}: HTTP ${status}${body ? ` (${body})` : ""}`);
  }
  t.equal(ran, before, "no handler ran for them");
});

t.test("our server: grpc-timeout of every unit reaches ctx.deadline; malformed ones are refused", async (t) => {
  const deadlines: Array<number | undefined> = [];
  const { port } = await ours(t, {
    async Unary(m: Msg, ctx: CallContext) {
      deadlines.push(ctx.deadline);
      if (m.text === "hang") await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      return {};
    },
  });
  const session = await rawSession(t, port);
  for (const [value, ms] of [["2H", 7_200_000], ["3M", 180_000], ["4S", 4_000], ["5000m", 5_000], ["6000000u", 6_000], ["70000000n", 70]] as const) {
    const expected = ms;
    const before = Date.now();
    const r = await rawCall(session, { ":path": "/wire.Echo/Unary", "grpc-timeout": value }, frame(encodeMsg({})));
    const after = Date.now();
    t.equal(r.trailers?.["grpc-status"], "0", `${value}: served`);
    const deadline = deadlines.at(-1)!;
    t.ok(deadline >= before + expected && deadline <= after + expected, `${value}: ctx.deadline is ${expected} ms after the call arrived`);
  }
  const count = deadlines.length;
  for (const value of ["1x", "123456789S", "-1S", "1.5S", "S", "1 S", ""]) {
    const r = await rawCall(session, { ":path": "/wire.Echo/Unary", "grpc-timeout": value }, frame(encodeMsg({})));
    t.same([r.headersEnded, r.headers["grpc-status"]], [true, String(Code.INTERNAL)], `malformed grpc-timeout ${JSON.stringify(value)}: INTERNAL`);
  }
  t.equal(deadlines.length, count, "no handler ran for a malformed timeout");

  const hung = await rawCall(session, { ":path": "/wire.Echo/Unary", "grpc-timeout": "50m" }, frame(encodeMsg({ text: "hang" })));
  t.equal(hung.headers["grpc-status"] ?? hung.trailers?.["grpc-status"], String(Code.DEADLINE_EXCEEDED), "the server ends a call past its deadline itself");
});

t.test("our server: a request stream ending inside a message, bad flags and encodings", async (t) => {
  let ran = 0;
  const { port } = await ours(t, {
    Unary() {
      ran++;
      return {};
    },
    async ClientStream(requests: AsyncIterable<Msg>) {
      let n = 0;
      for await (const _ of requests) n++;
      return { n };
    },
  });
  const session = await rawSession(t, port);
  const whole = frame(encodeMsg({ text: "abc" }));
  const cut = await rawCall(session, { ":path": "/wire.Echo/Unary" }, whole.subarray(0, whole.length - 2));
  t.same([cut.headers["grpc-status"], ran], [String(Code.INTERNAL), 0], "a unary request cut short: INTERNAL, handler not run");
  const cutHeader = await rawCall(session, { ":path": "/wire.Echo/ClientStream" }, [whole, whole.subarray(0, 3)]);
  t.equal(cutHeader.headers["grpc-status"] ?? cutHeader.trailers?.["grpc-status"], String(Code.INTERNAL), "a stream ending inside a message prefix: INTERNAL");
  const none = await rawCall(session, { ":path": "/wire.Echo/Unary" });
  t.equal(none.headers["grpc-status"], String(Code.INTERNAL), "a unary call without a request message");
  const two = await rawCall(session, { ":path": "/wire.Echo/Unary" }, [whole, whole]);
  t.equal(two.headers["grpc-status"], String(Code.INTERNAL), "a unary call with two request messages");
  const flag = await rawCall(session, { ":path": "/wire.Echo/Unary" }, Buffer.concat([Buffer.from([7]), whole.subarray(1)]));
  t.equal(flag.headers["grpc-status"], String(Code.INTERNAL), "a message flag other than 0 or 1");
  const noEncoding = await rawCall(session, { ":path": "/wire.Echo/Unary" }, frame(zlib.gzipSync(encodeMsg({})), true));
  t.equal(noEncoding.headers["grpc-status"], String(Code.INTERNAL), "a compressed message without grpc-encoding");
  const brotli = await rawCall(session, { ":path": "/wire.Echo/Unary", "grpc-encoding": "br" }, frame(encodeMsg({})));
  t.same([brotli.headers["grpc-status"], brotli.headers["grpc-accept-encoding"]], [String(Code.UNIMPLEMENTED), "identity,gzip"], "an unknown grpc-encoding: UNIMPLEMENTED, naming what we accept");
  const bad = await rawCall(session, { ":path": "/wire.Echo/Unary", "grpc-encoding": "gzip" }, frame(Buffer.from("not gzip at all"), true));
  t.equal(bad.headers["grpc-status"], String(Code.INTERNAL), "gzip that does not inflate");
  const big = await rawCall(session, { ":path": "/wire.Echo/Unary" }, Buffer.from([0, 0x7f, 0xff, 0xff, 0xff]), false);
  t.equal(big.headers["grpc-status"] ?? big.trailers?.["grpc-status"], String(Code.RESOURCE_EXHAUSTED), "a declared 2 GiB message is refused from its prefix");
  t.equal(ran, 0, "no unary handler ran");
  const fine = await rawCall(session, { ":path": "/wire.Echo/Unary" }, whole);
  t.same([fine.trailers?.["grpc-status"], ran], ["0", 1], "the session still serves");
});

t.test("our server: gzip replies only to clients that accept gzip", async (t) => {
  const impl = {
    Unary(m: Msg, ctx: CallContext) {
      if (m.text === "no") ctx.compressResponse = false;
      if (m.text === "yes") ctx.compressResponse = true;
      return { blob: Buffer.alloc(1000, 0x41) };
    },
  };
  const { port: gzipPort } = await ours(t, impl, { compression: "gzip" });
  const { port: plainPort } = await ours(t, impl);
  const gz = await rawSession(t, gzipPort);
  const plain = await rawSession(t, plainPort);
  const accepts = { ":path": "/wire.Echo/Unary", "grpc-accept-encoding": "identity, gzip" };

  const z = await rawCall(gz, accepts, frame(encodeMsg({})));
  const [msg] = unframe(z.data);
  t.same([z.headers["grpc-encoding"], msg?.compressed], ["gzip", true], "compressed reply with grpc-encoding: gzip");
  t.equal(decodeMsg(zlib.gunzipSync(msg!.body)).blob.length, 1000);
  const noAccept = await rawCall(gz, { ":path": "/wire.Echo/Unary" }, frame(encodeMsg({})));
  t.same([noAccept.headers["grpc-encoding"], unframe(noAccept.data)[0]?.compressed], [undefined, false], "no grpc-accept-encoding: identity");
  const optedOut = await rawCall(gz, accepts, frame(encodeMsg({ text: "no" })));
  t.same([optedOut.headers["grpc-encoding"], unframe(optedOut.data)[0]?.compressed], [undefined, false], "ctx.compressResponse = false");
  const optedIn = await rawCall(plain, accepts, frame(encodeMsg({ text: "yes" })));
  t.same([optedIn.headers["grpc-encoding"], unframe(optedIn.data)[0]?.compressed], ["gzip", true], "ctx.compressResponse = true on an identity server");
  const plainReply = await rawCall(plain, accepts, frame(encodeMsg({})));
  t.same([plainReply.headers["grpc-encoding"], unframe(plainReply.data)[0]?.compressed], [undefined, false], "identity by default");
});

t.test("our server: a gzip request that inflates past the limit", async (t) => {
  let ran = 0;
  const { port } = await ours(t, { Unary: () => (ran++, {}) }, { maxMessageSize: 1024 });
  const session = await rawSession(t, port);
  const r = await rawCall(session, { ":path": "/wire.Echo/Unary", "grpc-encoding": "gzip" }, frame(zlib.gzipSync(encodeMsg({ blob: Buffer.alloc(2000) })), true));
  t.same([r.headers["grpc-status"], ran], [String(Code.RESOURCE_EXHAUSTED), 0]);
  const ok = await rawCall(session, { ":path": "/wire.Echo/Unary", "grpc-encoding": "gzip" }, frame(zlib.gzipSync(encodeMsg({ blob: Buffer.alloc(1000) })), true));
  t.same([ok.trailers?.["grpc-status"], ran], ["0", 1], "under the limit is fine");
});

// ---- our client against a raw HTTP/2 server ----

type RawHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, raw: string[], body: Promise<Buffer>) => void;

/** A raw HTTP/2 server on 127.0.0.1:0 answering each stream with `handler`, and our client dialled to it. */
async function rawServer(t: Test, handler: RawHandler, options = {}): Promise<{ client: Client; port: number }> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("error", () => {});
  });
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, raw: string[]) => {
    stream.on("error", () => {});
    const chunks: Buffer[] = [];
    const body = new Promise<Buffer>((resolve) => {
      stream.on("data", (d: Buffer) => chunks.push(d));
      stream.on("end", () => resolve(Buffer.concat(chunks)));
      stream.on("close", () => resolve(Buffer.concat(chunks)));
    });
    handler(stream, headers, raw, body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  t.teardown(() => {
    for (const s of sessions) s.destroy();
    server.close();
  });
  const client = await dial(`grpc://127.0.0.1:${port}`, { codec: protobuf({ root: echoRoot() }), ...options });
  t.teardown(() => client.close());
  return { client, port };
}

t.test("our client: a non-gRPC HTTP reply maps to a code (http-grpc-status-mapping.md)", async (t) => {
  const { client } = await rawServer(t, (stream, headers) => {
    const status = Number(headers["x-status"]);
    stream.respond({ ":status": status, "content-type": status === 200 ? "text/html" : "text/plain" });
    stream.end(`HTTP ${status} from a proxy`);
  });
  const table = HTTP_STATUS_CODES;
  for (const [status, code] of table) {
    const err = await rejection(client.call(U, {}, { metadata: { "x-status": String(status) } }), `HTTP ${status}`);
    t.same([err.code, err.fromPeer], [code, true], `HTTP ${status} -> ${Code[code]}`);
  }
});

t.test("our client: grpc-status wins over the HTTP status; a reply without one is UNKNOWN or INTERNAL", async (t) => {
  const { client } = await rawServer(t, (stream, headers) => {
    switch (headers["x-mode"]) {
      case "Http503WithStatus":
        stream.respond({ ":status": 503, "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "gone" }, { endStream: true });
        break;
      case "Http503WithTrailers":
        stream.respond({ ":status": 503, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "7", "grpc-message": "denied" }));
        stream.end();
        break;
      case "HeadersOnlyNoStatus":
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { endStream: true });
        break;
      case "DataNoTrailers":
        stream.respond({ ":status": 200, "content-type": "application/grpc" });
        stream.end(frame(encodeMsg({ text: "x" })));
        break;
      case "TrailersNoStatus":
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "x-t": "1" }));
        stream.end(frame(encodeMsg({ text: "x" })));
        break;
      case "StatusOutOfRange":
        stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "17" }, { endStream: true });
        break;
      case "StatusNotANumber":
        stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "OK" }, { endStream: true });
        break;
      case "Truncated":
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(frame(encodeMsg({ text: "abcdef" })).subarray(0, 8));
        break;
      case "Refused":
        stream.close(NGHTTP2_REFUSED_STREAM);
        break;
      case "Message":
        stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "3", "grpc-message": "bad %zz %4 %E2%98%BA" }, { endStream: true });
        break;
    }
  });
  const code = async (name: string) => {
    const err = await rejection(client.call(U, {}, { metadata: { "x-mode": name } }), name);
    return [err.code, err.message];
  };
  t.same(await code("Http503WithStatus"), [Code.NOT_FOUND, "gone"], "trailers-only grpc-status under HTTP 503");
  t.same(await code("Http503WithTrailers"), [Code.PERMISSION_DENIED, "denied"], "grpc-status in trailers under HTTP 503");
  t.equal((await code("HeadersOnlyNoStatus"))[0], Code.UNKNOWN, "HTTP 200 ending without grpc-status: UNKNOWN");
  t.equal((await code("DataNoTrailers"))[0], Code.INTERNAL, "a stream ending without trailers: INTERNAL");
  t.equal((await code("TrailersNoStatus"))[0], Code.UNKNOWN, "trailers without grpc-status: UNKNOWN");
  t.equal((await code("StatusOutOfRange"))[0], Code.UNKNOWN, "grpc-status 17: UNKNOWN");
  t.equal((await code("StatusNotANumber"))[0], Code.UNKNOWN, "grpc-status OK (text): UNKNOWN");
  t.equal((await code("Truncated"))[0], Code.INTERNAL, "a reply stream ending inside a message: INTERNAL");
  t.equal((await code("Refused"))[0], Code.UNAVAILABLE, "RST_STREAM REFUSED_STREAM: UNAVAILABLE");
  t.same(await code("Message"), [Code.INVALID_ARGUMENT, "bad %zz %4 ☺"], "grpc-message decoded, malformed escapes kept");
});

t.test("our client: what goes on the wire", async (t) => {
  const seen: Array<{ headers: http2.IncomingHttpHeaders; raw: string[]; body: Buffer; rst?: number }> = [];
  const { client } = await rawServer(t, (stream, headers, raw, body) => {
    const entry: (typeof seen)[number] = { headers, raw, body: Buffer.alloc(0) };
    seen.push(entry);
    if (headers["x-mode"] === "hang") {
      stream.on("close", () => (entry.rst = stream.rstCode));
      return;
    }
    void body.then((b) => {
      entry.body = b;
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(frame(encodeMsg({ text: "r" })));
    });
  });
  await bounded(
    client.call(U, { text: "hello" }, { timeout: 1500, compress: true, metadata: { "x-a": ["1", "2"], "x-b-bin": [new Uint8Array([0xff]), new Uint8Array([0, 1])] } }),
    10_000,
    "call",
  );
  const first = seen[0]!;
  t.match(first.headers, { ":method": "POST", ":scheme": "http", ":path": "/wire.Echo/Unary", "content-type": "application/grpc", te: "trailers", "grpc-encoding": "gzip", "grpc-accept-encoding": "identity,gzip" });
  t.match(first.headers["user-agent"], /^netrpc-node\//);
  const timeout = String(first.headers["grpc-timeout"]);
  t.ok(/^\d{1,4}m$/.test(timeout) && parseInt(timeout) > 0 && parseInt(timeout) <= 1500, `grpc-timeout ${timeout}: milliseconds, at most the time left`);
  const pairs = (key: string) => first.raw.filter((_, i, a) => i % 2 === 1 && a[i - 1] === key);
  t.same(pairs("x-a"), ["1", "2"], "repeated text metadata as two fields");
  t.same(pairs("x-b-bin"), ["/w==", "AAE="], "binary metadata as base64");
  const [message] = unframe(first.body);
  t.equal(message?.compressed, true, "the message is compressed");
  t.equal(decodeMsg(zlib.gunzipSync(message!.body)).text, "hello");

  const ac = new AbortController();
  const pending = client.call(U, {}, { signal: ac.signal, metadata: { "x-mode": "hang" } });
  await bounded((async () => { while (seen.length < 2) await new Promise((r) => setImmediate(r)); })(), 10_000, "hang arrives");
  ac.abort();
  t.equal((await rejection(pending)).code, Code.CANCELLED);
  await bounded((async () => { while (seen[1]!.rst === undefined) await new Promise((r) => setImmediate(r)); })(), 10_000, "reset arrives");
  t.equal(seen[1]!.rst, NGHTTP2_CANCEL, "an aborted call sends RST_STREAM CANCEL");

  const timed = client.call(U, {}, { timeout: 100, metadata: { "x-mode": "hang" } });
  t.equal((await rejection(timed)).code, Code.DEADLINE_EXCEEDED);
  await bounded((async () => { while (seen.length < 3 || seen[2]!.rst === undefined) await new Promise((r) => setImmediate(r)); })(), 10_000, "reset arrives");
  t.equal(seen[2]!.rst, NGHTTP2_CANCEL, "a call past its deadline sends RST_STREAM CANCEL");
});

t.test("our client: gzip replies, and one that inflates past the limit", async (t) => {
  const { client } = await rawServer(
    t,
    (stream, headers) => {
      const size = Number(headers["x-size"]);
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-encoding": "gzip" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(frame(zlib.gzipSync(encodeMsg({ blob: Buffer.alloc(size, 1) })), true));
    },
    { maxMessageSize: 4096 },
  );
  const ok = await bounded(client.call<Msg>(U, {}, { metadata: { "x-size": "4000" } }), 10_000, "gzip reply");
  t.equal(ok.blob?.length, 4000, "a gzip reply is inflated");
  const err = await rejection(client.call(U, {}, { metadata: { "x-size": "100000" } }));
  t.same([err.code, err.fromPeer], [Code.RESOURCE_EXHAUSTED, false], "a small gzip reply that inflates past maxMessageSize");
  t.equal((await bounded(client.call<Msg>(U, {}, { metadata: { "x-size": "10" } }), 10_000, "after")).blob?.length, 10, "the connection keeps working");
});

t.test("our client: a status while we are still sending settles the call and stops the upload", async (t) => {
  const { client } = await rawServer(t, (stream, headers) => {
    // Answer at once and leave the stream open, as a server that never reads the requests might.
    if (headers["x-mode"] === "trailers-only") stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": String(Code.FAILED_PRECONDITION), "grpc-message": "no uploads" }, { endStream: true });
    else {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(frame(encodeMsg({ n: 7 })));
    }
  });
  let sent = 0;
  const endless = () =>
    (async function* () {
      for (;;) {
        sent++;
        yield { blob: Buffer.alloc(1024) };
      }
    })();
  const err = await rejection(client.clientStream(`${ECHO}.ClientStream`, endless(), { metadata: { "x-mode": "trailers-only" } }), "trailers-only");
  t.same([err.code, err.message], [Code.FAILED_PRECONDITION, "no uploads"], "the status arrives although our side never ended");
  const reply = await bounded(client.clientStream<Msg>(`${ECHO}.ClientStream`, endless()), 10_000, "early reply");
  t.equal(reply.n, 7, "an early reply and OK end the call");
  const before = sent;
  await new Promise((r) => setImmediate(r));
  t.ok(sent - before <= 1, "the upload stopped");
  const got: Msg[] = [];
  for await (const m of client.bidiStream<Msg>(`${ECHO}.Bidi`, endless())) got.push(m);
  t.same(got.map((m) => m.n), [7], "a bidi call ends with the server's status too");
});
