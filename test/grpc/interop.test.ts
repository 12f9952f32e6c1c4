// The gRPC interop suite (examples/interop) on real sockets: our client against our server (both as
// child processes, cleartext and TLS), our client against a grpc-js TestService, and grpc-js's
// client against our server, each case asserted where it is observed.
import t, { type Test } from "tap";
import { INTEROP_CASES } from "../helpers/grpc-spec.js";
import http2 from "node:http2";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { gunzipSync } from "node:zlib";
import { loadRoot } from "../../index.js";
import { TEST_PROTO } from "../../examples/interop/flags.js";
import { repoRoot } from "../helpers/go.js";
import { runTs, startTs, type RunResult } from "../helpers/process.js";
import { grpc, grpcJsClient, unaryCall, collect, type GenericClient } from "../helpers/grpcjs.js";
import { startGrpcJsInteropServer } from "../helpers/grpcjs-interop-server.js";
import { bounded } from "../helpers/net.js";

const CLIENT = "examples/interop/client.ts";
const SERVER = "examples/interop/server.ts";
const TEST_SERVICE = "grpc.testing.TestService";

/** Every case our client runs with --test_case=all. */
const ALL_CASES = [...INTEROP_CASES, "server_compressed_streaming"];

const root = loadRoot(TEST_PROTO);

/** One assertion per case: its PASS line, or the FAIL line that says what differed. */
function assertCases(t: Test, run: RunResult, cases: readonly string[]): void {
  const lines = run.stdout.split("\n");
  for (const name of cases) {
    const line = lines.find((l) => l === `PASS ${name}` || l.startsWith(`FAIL ${name}:`));
    t.equal(line, `PASS ${name}`, name);
  }
  t.equal(lines.filter((l) => l.startsWith("PASS ")).length, cases.length, "no other case ran");
  t.equal(run.code, 0, `the client exits 0 when every case passed${run.stderr ? `\n${run.stderr}` : ""}`);
}

// One interop server process for the tests below; the last test stops it with SIGTERM.
const ours = await startTs(SERVER, ["--port=0"], 1);
t.teardown(() => void ours.child.kill("SIGKILL"));
const ourPort = Number(/^127\.0\.0\.1:(\d+)$/.exec(ours.urls[0]!)?.[1]);

t.test("the server prints LISTENING host:port with the bound port", async (t) => {
  t.match(ours.urls[0], /^127\.0\.0\.1:[1-9]\d*$/);
});

t.test("our interop client against our interop server: every case", async (t) => {
  const run = await runTs(CLIENT, [`--server_port=${ourPort}`, "--test_case=all"]);
  assertCases(t, run, ALL_CASES);
});

t.test("a failing case exits 1 and says what differed", async (t) => {
  // grpc-js's server cannot tell a compressed request apart, so its probe succeeds where it must fail.
  const reference = await startGrpcJsInteropServer(root);
  t.teardown(() => reference.stop());
  const run = await runTs(CLIENT, [`--server_port=${reference.port}`, "--test_case", "client_compressed_unary"]);
  t.equal(run.code, 1);
  t.match(run.stdout, /^FAIL client_compressed_unary: the uncompressed probe with expect_compressed=true: the call succeeded, expected INVALID_ARGUMENT$/m);
});

t.test("usage errors exit 2", async (t) => {
  const unknown = await runTs(CLIENT, [`--server_port=${ourPort}`, "--test_case=no_such_case"]);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown test case "no_such_case"/);
  const noPort = await runTs(SERVER, []);
  t.equal(noPort.code, 2);
  t.match(noPort.stderr, /--port is required/);
});

t.test("our interop client against a grpc-js TestService", async (t) => {
  const reference = await startGrpcJsInteropServer(root);
  t.teardown(() => reference.stop());
  // Left out: the compression cases, which a grpc-js handler cannot serve (it sees neither a
  // request's compressed flag nor can it compress one reply and not another).
  const cases = ALL_CASES.filter((name) => !name.includes("compressed"));
  const run = await runTs(CLIENT, [`--server_port=${reference.port}`, `--test_case=${cases.join(",")}`]);
  assertCases(t, run, cases);
});

/** Starts the server with --use_tls and no certificate files: it makes one and names it. */
function startTlsServer(t: Test): Promise<{ port: number; cert: string }> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", SERVER, "--port=0", "--use_tls"], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  t.teardown(() => void child.kill("SIGKILL"));
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  return bounded(
    new Promise((resolve, reject) => {
      let cert: string | undefined;
      createInterface({ input: child.stdout! }).on("line", (line) => {
        cert ??= /^TLS_CERT (.+)$/.exec(line)?.[1];
        const listening = /^LISTENING 127\.0\.0\.1:(\d+)$/.exec(line);
        if (listening) cert ? resolve({ port: Number(listening[1]), cert }) : reject(new Error("no TLS_CERT line before LISTENING"));
      });
      child.on("exit", (code) => reject(new Error(`the TLS server exited (${code})\n${stderr}`)));
    }),
    30_000,
    "the TLS interop server to listen",
  );
}

t.test("over TLS with the server's generated certificate", { skip: spawnSync("openssl", ["version"]).status === 0 ? false : "openssl is not on PATH" }, async (t) => {
  const { port, cert } = await startTlsServer(t);
  const cases = ["empty_unary", "large_unary", "ping_pong", "custom_metadata", "status_code_and_message"];
  const run = await runTs(CLIENT, [`--server_port=${port}`, "--use_tls=true", `--ca_file=${cert}`, "--server_host_override=localhost", `--test_case=${cases.join(",")}`]);
  assertCases(t, run, cases);

  // Certificate checking stays on: without the CA the handshake fails.
  const untrusted = await runTs(CLIENT, [`--server_port=${port}`, "--use_tls=true", "--test_case=empty_unary"]);
  t.equal(untrusted.code, 2, "no connection without a trusted CA");
  t.match(untrusted.stderr, /certificate/i);
});

// grpc-js's client against our server: each case asserted from the grpc-js side.

const LARGE = { response_type: 0, response_size: 314159, payload: { body: Buffer.alloc(271828) } };
const ECHO_INITIAL = "x-grpc-test-echo-initial";
const ECHO_TRAILING = "x-grpc-test-echo-trailing-bin";

function isZeros(body: Buffer): boolean {
  return body.every((b) => b === 0);
}

function client(t: Test, options: grpc.ChannelOptions = {}, service = TEST_SERVICE): GenericClient {
  return grpcJsClient(t, ourPort, options, root, service);
}

/** The replies of a grpc-js stream, one at a time, as they arrive. */
class Inbox {
  readonly #got: any[] = [];
  #wake: (() => void) | undefined;
  constructor(stream: grpc.ClientDuplexStream<unknown, unknown>) {
    stream.on("data", (m) => {
      this.#got.push(m);
      this.#wake?.();
    });
  }
  next(): Promise<any> {
    return bounded(
      new Promise((resolve) => {
        const take = () => (this.#got.length > 0 ? resolve(this.#got.shift()) : (this.#wake = take));
        take();
      }),
      10_000,
      "the next reply",
    );
  }
}

t.test("grpc-js against our server: empty_unary", async (t) => {
  const r = await unaryCall(client(t), "EmptyCall", {});
  t.equal(r.error, undefined);
  t.same(r.value, {}, "an Empty reply");
});

t.test("grpc-js against our server: large_unary", async (t) => {
  const r = await unaryCall(client(t), "UnaryCall", LARGE);
  t.equal(r.error, undefined);
  t.equal(r.value.payload.body.length, 314159);
  t.ok(isZeros(r.value.payload.body), "zero bytes");
  t.equal(r.value.payload.type, 0, "COMPRESSABLE");
});

t.test("grpc-js against our server: client_compressed_unary", async (t) => {
  const probe = await unaryCall(client(t), "UnaryCall", { ...LARGE, expect_compressed: { value: true } });
  t.equal(probe.error?.code, grpc.status.INVALID_ARGUMENT, "an uncompressed request with expect_compressed=true fails");
  // grpc-js compresses every request of a channel with a default compression algorithm (2 = gzip).
  const gzip = client(t, { "grpc.default_compression_algorithm": 2 });
  const compressed = await unaryCall(gzip, "UnaryCall", { ...LARGE, expect_compressed: { value: true } });
  t.equal(compressed.error, undefined, "a compressed request with expect_compressed=true succeeds");
  t.equal(compressed.value?.payload.body.length, 314159);
  const plain = await unaryCall(client(t), "UnaryCall", { ...LARGE, expect_compressed: { value: false } });
  t.equal(plain.error, undefined);
  t.equal(plain.value?.payload.body.length, 314159);
});

t.test("grpc-js against our server: client_streaming", async (t) => {
  const reply = await new Promise<{ err: grpc.ServiceError | null; value: any }>((resolve) => {
    const call = client(t).StreamingInputCall((err: grpc.ServiceError | null, value: any) => resolve({ err, value }));
    for (const size of [27182, 8, 1828, 45904]) call.write({ payload: { body: Buffer.alloc(size) } });
    call.end();
  });
  t.equal(reply.err, null);
  t.equal(reply.value.aggregated_payload_size, 74922);
});

t.test("grpc-js against our server: server_streaming", async (t) => {
  const sizes = [31415, 9, 2653, 58979];
  const { messages, error, status } = await collect(client(t).StreamingOutputCall({ response_parameters: sizes.map((size) => ({ size })) }));
  t.equal(error, undefined);
  t.equal(status.code, grpc.status.OK);
  t.same(messages.map((m: any) => m.payload.body.length), sizes, "four replies, sized in order");
  t.ok(messages.every((m: any) => isZeros(m.payload.body)), "zero bytes");
});

t.test("grpc-js against our server: ping_pong", async (t) => {
  const call = client(t).FullDuplexCall();
  const inbox = new Inbox(call);
  const status = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
  for (const [size, body] of [[31415, 27182], [9, 8], [2653, 1828], [58979, 45904]] as const) {
    call.write({ response_parameters: [{ size }], payload: { body: Buffer.alloc(body) } });
    const reply = await inbox.next();
    t.equal(reply.payload.body.length, size, `the reply to the ${body}-byte request`);
  }
  call.end();
  t.equal((await bounded(status, 10_000, "the status")).code, grpc.status.OK);
});

t.test("grpc-js against our server: empty_stream", async (t) => {
  const call = client(t).FullDuplexCall();
  call.end();
  const { messages, error, status } = await collect(call);
  t.equal(error, undefined);
  t.equal(status.code, grpc.status.OK);
  t.equal(messages.length, 0);
});

t.test("grpc-js against our server: status_code_and_message and special_status_message", async (t) => {
  for (const message of ["test status message", "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"]) {
    const r = await unaryCall(client(t), "UnaryCall", { response_status: { code: 2, message } });
    t.equal(r.error?.code, 2, "UnaryCall: the code sent");
    t.equal(r.error?.details, message, "UnaryCall: the message sent");
  }
  const call = client(t).FullDuplexCall();
  call.write({ response_status: { code: 2, message: "test status message" } });
  call.end();
  const { error } = await collect(call);
  t.equal(error?.code, 2, "FullDuplexCall: the code sent");
  t.equal(error?.details, "test status message", "FullDuplexCall: the message sent");
});

t.test("grpc-js against our server: custom_metadata", async (t) => {
  const metadata = () => {
    const md = new grpc.Metadata();
    md.set(ECHO_INITIAL, "test_initial_metadata_value");
    md.set(ECHO_TRAILING, Buffer.from([0xab, 0xab, 0xab]));
    return md;
  };
  const r = await unaryCall(client(t), "UnaryCall", LARGE, metadata());
  t.equal(r.error, undefined);
  t.same(r.header?.get(ECHO_INITIAL), ["test_initial_metadata_value"], "UnaryCall: echoed in the response headers");
  t.same(r.status?.metadata.get(ECHO_TRAILING), [Buffer.from([0xab, 0xab, 0xab])], "UnaryCall: echoed in the trailers");

  const call = client(t).FullDuplexCall(metadata());
  const header = new Promise<grpc.Metadata>((resolve) => call.on("metadata", resolve));
  call.write({ response_parameters: [{ size: 314159 }], payload: { body: Buffer.alloc(271828) } });
  call.end();
  const { messages, error, status } = await collect(call);
  t.equal(error, undefined);
  t.equal(messages.length, 1);
  t.equal(messages[0].payload.body.length, 314159);
  t.same((await header).get(ECHO_INITIAL), ["test_initial_metadata_value"], "FullDuplexCall: echoed in the response headers");
  t.same(status.metadata.get(ECHO_TRAILING), [Buffer.from([0xab, 0xab, 0xab])], "FullDuplexCall: echoed in the trailers");
});

t.test("grpc-js against our server: unimplemented_method and unimplemented_service", async (t) => {
  const method = await unaryCall(client(t), "UnimplementedCall", {});
  t.equal(method.error?.code, grpc.status.UNIMPLEMENTED, "TestService/UnimplementedCall");
  const service = await unaryCall(client(t, {}, "grpc.testing.UnimplementedService"), "UnimplementedCall", {});
  t.equal(service.error?.code, grpc.status.UNIMPLEMENTED, "UnimplementedService/UnimplementedCall");
});

t.test("grpc-js against our server: timeout_on_sleeping_server", async (t) => {
  const c = client(t);
  // The spec's 1 ms, and a deadline long enough that the server surely has the call when it passes.
  for (const ms of [1, 100]) {
    const call = c.FullDuplexCall({ deadline: Date.now() + ms });
    call.write({ payload: { body: Buffer.alloc(27182) } });
    const { error } = await collect(call);
    t.equal(error?.code, grpc.status.DEADLINE_EXCEEDED, `a ${ms} ms deadline`);
  }
  t.equal((await unaryCall(c, "EmptyCall", {})).error, undefined, "the server still serves the channel");
});

t.test("grpc-js against our server: cancel_after_begin and cancel_after_first_response", async (t) => {
  const c = client(t);
  const begun = await new Promise<grpc.ServiceError | null>((resolve) => {
    const call = c.StreamingInputCall((err: grpc.ServiceError | null) => resolve(err));
    call.cancel();
  });
  t.equal(begun?.code, grpc.status.CANCELLED, "cancelled after it began");

  const call = c.FullDuplexCall();
  const inbox = new Inbox(call);
  const failed = new Promise<grpc.ServiceError>((resolve) => call.on("error", resolve));
  call.write({ response_parameters: [{ size: 31415 }], payload: { body: Buffer.alloc(27182) } });
  t.equal((await inbox.next()).payload.body.length, 31415, "the first response");
  call.cancel();
  t.equal((await bounded(failed, 10_000, "the cancelled call")).code, grpc.status.CANCELLED, "cancelled after the first response");
  t.equal((await unaryCall(c, "EmptyCall", {})).error, undefined, "the server still serves the channel");
});

/** Frames of a raw HTTP/2 gRPC exchange: [compressed flag, message bytes] each, and the trailers. */
function rawCall(path: string, request: Uint8Array): Promise<{ headers: http2.IncomingHttpHeaders; frames: Array<[number, Buffer]>; trailers: http2.IncomingHttpHeaders }> {
  return bounded(
    new Promise((resolve, reject) => {
      const session = http2.connect(`http://127.0.0.1:${ourPort}`);
      session.on("error", reject);
      const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", "grpc-accept-encoding": "gzip" });
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on("response", (h) => (headers = h));
      stream.on("trailers", (h) => (trailers = h));
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", reject);
      stream.on("close", () => {
        session.close();
        const body = Buffer.concat(chunks);
        const frames: Array<[number, Buffer]> = [];
        for (let at = 0; at + 5 <= body.length; ) {
          const length = body.readUInt32BE(at + 1);
          frames.push([body[at]!, body.subarray(at + 5, at + 5 + length)]);
          at += 5 + length;
        }
        resolve({ headers, frames, trailers });
      });
      const header = Buffer.alloc(5);
      header.writeUInt32BE(request.length, 1);
      stream.end(Buffer.concat([header, request]));
    }),
    10_000,
    `a raw call to ${path}`,
  );
}

t.test("our server: server_compressed_unary and server_compressed_streaming, read off the wire", async (t) => {
  const SimpleRequest = root.lookupType("grpc.testing.SimpleRequest");
  const SimpleResponse = root.lookupType("grpc.testing.SimpleResponse");
  for (const value of [true, false]) {
    const request = SimpleRequest.encode(SimpleRequest.fromObject({ response_size: 314159, payload: { body: Buffer.alloc(271828) }, response_compressed: { value } })).finish();
    const { frames, trailers } = await rawCall(`/${TEST_SERVICE}/UnaryCall`, request);
    t.equal(trailers["grpc-status"], "0");
    t.equal(frames.length, 1);
    t.equal(frames[0]![0], value ? 1 : 0, `response_compressed=${value}: the compressed flag`);
    const bytes = value ? gunzipSync(frames[0]![1]) : frames[0]![1];
    const reply = SimpleResponse.toObject(SimpleResponse.decode(bytes)) as { payload: { body: Buffer } };
    t.equal(reply.payload.body.length, 314159);
  }

  const StreamingOutputCallRequest = root.lookupType("grpc.testing.StreamingOutputCallRequest");
  const streaming = StreamingOutputCallRequest.encode(
    StreamingOutputCallRequest.fromObject({ response_parameters: [{ size: 31415, compressed: { value: true } }, { size: 92653, compressed: { value: false } }] }),
  ).finish();
  const { frames, trailers } = await rawCall(`/${TEST_SERVICE}/StreamingOutputCall`, streaming);
  t.equal(trailers["grpc-status"], "0");
  t.same(frames.map(([flag]) => flag), [1, 0], "the first reply compressed, the second not");
});

t.test("SIGTERM stops the server cleanly", async (t) => {
  ours.child.kill("SIGTERM");
  t.equal(await bounded(ours.exited, 10_000, "the server to exit"), 0);
});
