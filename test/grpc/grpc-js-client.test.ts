// @grpc/grpc-js calling our gRPC server over real sockets: every call kind, status codes and
// messages, metadata, deadlines, cancellation, compression, message limits and flow control.
import t, { type Test } from "tap";
import { Server, RpcError, Code, type CallContext, type ServerOptions } from "../../index.js";
import { bounded } from "../helpers/net.js";
import { ECHO, collect, echoRoot, grpc, grpcJsClient, msgOfSize, unaryCall, type Msg } from "../helpers/grpcjs.js";

const MiB = 1024 * 1024;
const WEIRD = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";

/** Our server serving `impl` as wire.Echo on grpc://127.0.0.1:0; closed at teardown. */
async function ours(t: Test, impl: object, options: ServerOptions = {}): Promise<{ server: Server; port: number }> {
  const server = new Server(options);
  server.register(impl, { service: ECHO, proto: echoRoot() });
  const listener = await server.listen("grpc://127.0.0.1:0");
  t.teardown(() => server.close());
  return { server, port: listener.port! };
}

/** A promise and its resolve, for a handler to report what it saw. */
function signal<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const aborted = (ctx: CallContext): Promise<unknown> =>
  new Promise((resolve) => (ctx.signal.aborted ? resolve(ctx.signal.reason) : ctx.signal.addEventListener("abort", () => resolve(ctx.signal.reason), { once: true })));

const echo = {
  Unary: (m: Msg) => ({ text: `${m.text}!`, n: (m.n ?? 0) + 1 }),
  async *ServerStream(m: Msg) {
    for (let i = 0; i < (m.n ?? 0); i++) yield { text: m.text, n: i };
  },
  async ClientStream(requests: AsyncIterable<Msg>) {
    let n = 0;
    const texts: string[] = [];
    for await (const m of requests) {
      n += m.n ?? 0;
      texts.push(m.text ?? "");
    }
    return { text: texts.join(","), n };
  },
  async *Bidi(requests: AsyncIterable<Msg>) {
    for await (const m of requests) yield { text: (m.text ?? "").toUpperCase(), n: m.n };
  },
};

t.test("every call kind", async (t) => {
  const { port } = await ours(t, echo);
  const client = grpcJsClient(t, port);

  const unary = await bounded(unaryCall(client, "Unary", { text: "hi", n: 41 }), 10_000, "unary");
  t.equal(unary.error, undefined);
  t.match(unary.value, { text: "hi!", n: 42 });
  t.equal(unary.status?.code, grpc.status.OK);

  const server = await bounded(collect(client.ServerStream({ text: "s", n: 5 })), 10_000, "server stream");
  t.equal(server.error, undefined);
  t.same(server.messages.map((m: Msg) => m.n), [0, 1, 2, 3, 4]);

  const empty = await bounded(collect(client.ServerStream({ text: "s", n: 0 })), 10_000, "empty server stream");
  t.same([empty.messages.length, empty.status.code], [0, grpc.status.OK], "a stream of no replies is fine");

  const up = await bounded(
    new Promise<Msg>((resolve, reject) => {
      const call = client.ClientStream((err: Error | null, v: Msg) => (err ? reject(err) : resolve(v)));
      for (let i = 1; i <= 4; i++) call.write({ text: `m${i}`, n: i });
      call.end();
    }),
    10_000,
    "client stream",
  );
  t.same(up, { text: "m1,m2,m3,m4", n: 10, blob: Buffer.alloc(0) });

  // Ping-pong: each request is written only after the reply to the one before arrived.
  const bidi: grpc.ClientDuplexStream<Msg, Msg> = client.Bidi();
  const replies: string[] = [];
  for (const word of ["ping", "pong", "again"]) {
    const next = new Promise<Msg>((resolve, reject) => {
      bidi.once("data", resolve);
      bidi.once("error", reject);
    });
    bidi.write({ text: word, n: 1 });
    replies.push((await bounded(next, 10_000, `reply to ${word}`)).text!);
  }
  bidi.end();
  const rest = await bounded(collect(bidi), 10_000, "bidi end");
  t.same(replies, ["PING", "PONG", "AGAIN"]);
  t.same([rest.messages.length, rest.status.code], [0, grpc.status.OK]);
});

t.test("status codes and messages", async (t) => {
  const { port } = await ours(t, {
    Unary(m: Msg) {
      if (m.text === "plain") throw new Error(`plain ${WEIRD}`);
      if (m.text === "percent") throw new RpcError(Code.FAILED_PRECONDITION, "100% sure %41 %zz");
      throw new RpcError(m.n as Code, WEIRD);
    },
    async *ServerStream(m: Msg) {
      yield { n: 1 };
      throw new RpcError(Code.DATA_LOSS, `after one ${m.text}`);
    },
  });
  const client = grpcJsClient(t, port);

  for (const code of [Code.CANCELLED, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.ALREADY_EXISTS, Code.PERMISSION_DENIED, Code.RESOURCE_EXHAUSTED, Code.ABORTED, Code.INTERNAL, Code.UNAVAILABLE, Code.UNAUTHENTICATED]) {
    const r = await bounded(unaryCall(client, "Unary", { text: "code", n: code }), 10_000, `code ${code}`);
    t.equal(r.error?.code, code, `code ${code} reaches grpc-js`);
    t.equal(r.error?.details, WEIRD, `code ${code}: whitespace, BMP and non-BMP text survive`);
  }
  const plain = await bounded(unaryCall(client, "Unary", { text: "plain" }), 10_000, "plain");
  t.equal(plain.error?.code, grpc.status.UNKNOWN, "a plain Error is UNKNOWN");
  t.equal(plain.error?.details, `plain ${WEIRD}`, "with its message");
  const percent = await bounded(unaryCall(client, "Unary", { text: "percent" }), 10_000, "percent");
  t.equal(percent.error?.details, "100% sure %41 %zz", "'%' in a message is escaped, not taken for an escape");

  const mid = await bounded(collect(client.ServerStream({ text: "x" })), 10_000, "error mid-stream");
  t.same(mid.messages.map((m: Msg) => m.n), [1]);
  t.same([mid.error?.code, mid.error?.details], [grpc.status.DATA_LOSS, "after one x"], "an error after replies goes in the trailers");

  // A method the proto declares but the object lacks, and one and a service nobody declares.
  const noArgs = (v: object) => Buffer.from(echoRoot().lookupType("wire.Msg").encode(v).finish());
  for (const path of ["/wire.Echo/Bidi", "/wire.Echo/Nope", "/wire.Nope/Unary", "/nothing"]) {
    const err = await bounded(
      new Promise<grpc.ServiceError | null>((resolve) => client.makeUnaryRequest(path, noArgs, (b: Buffer) => b, {}, (e: grpc.ServiceError | null) => resolve(e))),
      10_000,
      path,
    );
    t.equal(err?.code, grpc.status.UNIMPLEMENTED, `${path}: UNIMPLEMENTED`);
  }
});

t.test("metadata: text, binary and repeated, both ways, with response headers and trailers", async (t) => {
  const seen = signal<Record<string, unknown>>();
  const { port } = await ours(t, {
    Unary(_m: Msg, ctx: CallContext) {
      seen.resolve({ ...ctx.metadata });
      ctx.responseHeader["x-header"] = "h ☺ not ascii is not allowed, so plain";
      ctx.responseHeader["x-header"] = "plain header";
      ctx.responseHeader["x-header-bin"] = Buffer.from([0, 1, 2, 0xfe, 0xff]);
      ctx.responseTrailer["x-trailer"] = ["t1", "t2"];
      ctx.responseTrailer["x-trailer-bin"] = [Buffer.from([0xff]), Buffer.from([0, 0])];
      return { text: "ok" };
    },
  });
  const client = grpcJsClient(t, port);
  const md = new grpc.Metadata();
  md.add("x-text", "one");
  md.add("x-text", "two");
  md.add("x-single", "value with spaces");
  md.add("x-blob-bin", Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  md.add("x-blob-bin", Buffer.from([]));
  md.add("x-blob-bin", Buffer.from([1]));
  const r = await bounded(unaryCall(client, "Unary", {}, md), 10_000, "call");
  t.equal(r.error, undefined);
  const got = await seen.promise;
  t.same(got["x-text"], ["one", "two"], "repeated text values stay apart");
  t.equal(got["x-single"], "value with spaces");
  t.same(got["x-blob-bin"], [Buffer.from([0xde, 0xad, 0xbe, 0xef]), Buffer.alloc(0), Buffer.from([1])], "binary values decoded, empty one kept");
  t.match(got["user-agent"], /grpc-node-js/, "the client's user-agent is shown");
  t.notOk("content-type" in got || "te" in got || ":path" in got || "grpc-accept-encoding" in got, "protocol headers are not metadata");

  t.same(r.header?.get("x-header"), ["plain header"]);
  t.same(r.header?.get("x-header-bin"), [Buffer.from([0, 1, 2, 0xfe, 0xff])]);
  // grpc-js itself joins a repeated text key's values (as node:http2 presents them); the wire test sees two fields.
  t.same(r.status?.metadata.get("x-trailer"), ["t1, t2"]);
  t.same(r.status?.metadata.get("x-trailer-bin"), [Buffer.from([0xff]), Buffer.from([0, 0])]);
});

t.test("metadata on an error status, and reserved response keys", async (t) => {
  const { port } = await ours(t, {
    Unary(m: Msg, ctx: CallContext) {
      if (m.text === "reserved") {
        ctx.responseTrailer["grpc-status"] = "0";
        return {};
      }
      throw new RpcError(Code.NOT_FOUND, "gone", { metadata: { "x-why-bin": Buffer.from([7]) } });
    },
  });
  const client = grpcJsClient(t, port);
  const r = await bounded(unaryCall(client, "Unary", {}), 10_000, "call");
  t.equal(r.error?.code, grpc.status.NOT_FOUND);
  t.same(r.error?.metadata.get("x-why-bin"), [Buffer.from([7])], "an RpcError's metadata goes in the trailers");
  const reserved = await bounded(unaryCall(client, "Unary", { text: "reserved" }), 10_000, "reserved");
  t.equal(reserved.error?.code, grpc.status.INTERNAL, "a handler setting grpc-status in its trailer fails the call, it does not forge a status");
});

t.test("deadlines: grpc-timeout reaches the handler, its signal aborts, the caller gets DEADLINE_EXCEEDED", async (t) => {
  const reason = signal<{ deadline: number | undefined; reason: unknown }>();
  const { port } = await ours(t, {
    async Unary(_m: Msg, ctx: CallContext) {
      const why = await aborted(ctx);
      reason.resolve({ deadline: ctx.deadline, reason: why });
      return {};
    },
    async *ServerStream(_m: Msg, ctx: CallContext) {
      yield { n: 1 };
      await aborted(ctx);
    },
  });
  const client = grpcJsClient(t, port);
  const deadline = Date.now() + 300;
  const r = await bounded(unaryCall(client, "Unary", {}, new grpc.Metadata(), { deadline }), 10_000, "call");
  t.equal(r.error?.code, grpc.status.DEADLINE_EXCEEDED);
  const seen = await bounded(reason.promise, 10_000, "handler abort");
  t.type(seen.deadline, "number", "ctx.deadline is set from grpc-timeout");
  t.ok(Math.abs(seen.deadline! - deadline) < 5_000, "ctx.deadline is the caller's deadline");
  t.ok(seen.reason instanceof RpcError && [Code.DEADLINE_EXCEEDED, Code.CANCELLED].includes(seen.reason.code), "the handler's signal aborted with the deadline (or the client's cancel)");

  const s = await bounded(collect(client.ServerStream({}, new grpc.Metadata(), { deadline: Date.now() + 300 })), 10_000, "stream");
  t.same([s.messages.length, s.error?.code], [1, grpc.status.DEADLINE_EXCEEDED], "a stream past its deadline ends DEADLINE_EXCEEDED");
});

t.test("cancellation: grpc-js cancel() resets the stream and aborts the handler", async (t) => {
  const reason = signal<unknown>();
  const uploading = signal();
  const { port } = await ours(t, {
    async *ServerStream(_m: Msg, ctx: CallContext) {
      yield { n: 1 };
      reason.resolve(await aborted(ctx));
    },
    async ClientStream(requests: AsyncIterable<Msg>, ctx: CallContext) {
      const why = aborted(ctx);
      try {
        for await (const _ of requests) uploading.resolve();
      } catch {
        // The input fails when the call is cancelled.
      }
      reason.resolve(await why);
      return {};
    },
  });
  const client = grpcJsClient(t, port);
  const call: grpc.ClientReadableStream<Msg> = client.ServerStream({});
  const first = await bounded(new Promise((resolve) => call.once("data", resolve)), 10_000, "first reply");
  t.match(first, { n: 1 });
  const error = new Promise<grpc.ServiceError>((resolve) => call.once("error", resolve));
  call.cancel();
  t.equal((await bounded(error, 10_000, "cancel")).code, grpc.status.CANCELLED);
  const why = await bounded(reason.promise, 10_000, "handler abort");
  t.ok(why instanceof RpcError && why.code === Code.CANCELLED, "the handler's signal aborted with CANCELLED");

  // A client-streaming upload cancelled half way.
  const again = signal<unknown>();
  reason.resolve = again.resolve;
  const upload = client.ClientStream(() => {});
  upload.write({ n: 1 });
  await bounded(uploading.promise, 10_000, "upload started");
  upload.cancel();
  const why2 = await bounded(again.promise, 10_000, "upload handler abort");
  t.ok(why2 instanceof RpcError && why2.code === Code.CANCELLED, "an upload's handler sees CANCELLED too");
});

t.test("compression: gzip requests from grpc-js, gzip replies from us", async (t) => {
  const compressed: boolean[] = [];
  const impl = {
    Unary(m: Msg, ctx: CallContext) {
      compressed.push(ctx.requestCompressed);
      if (m.text === "per-call") ctx.compressResponse = true;
      return { text: m.text, blob: Buffer.alloc(10_000, 0x62) };
    },
    async ClientStream(requests: AsyncIterable<Msg>, ctx: CallContext) {
      let total = 0;
      for await (const m of requests) total += m.blob?.length ?? 0;
      compressed.push(ctx.requestCompressed);
      return { n: total };
    },
  };
  const { port } = await ours(t, impl);
  const gzipClient = grpcJsClient(t, port, { "grpc.default_compression_algorithm": grpc.compressionAlgorithms.gzip });
  const r = await bounded(unaryCall(gzipClient, "Unary", { text: "z", blob: Buffer.alloc(50_000, 0x61) }), 10_000, "gzip unary");
  t.equal(r.error, undefined);
  t.equal(r.value.blob.length, 10_000);
  const up = await bounded(
    new Promise<Msg>((resolve, reject) => {
      const call = gzipClient.ClientStream((err: Error | null, v: Msg) => (err ? reject(err) : resolve(v)));
      for (let i = 0; i < 3; i++) call.write({ blob: Buffer.alloc(20_000, i) });
      call.end();
    }),
    10_000,
    "gzip upload",
  );
  t.equal(up.n, 60_000);
  t.same(compressed, [true, true], "the handler saw compressed requests");

  // Our replies, compressed by the server option and by the handler's choice; grpc-js inflates both.
  const { port: gzipPort } = await ours(t, impl, { compression: "gzip" });
  const plainClient = grpcJsClient(t, gzipPort);
  const z = await bounded(unaryCall(plainClient, "Unary", { text: "a" }), 10_000, "gzip reply");
  t.same([z.error, z.value?.blob.length], [undefined, 10_000]);
  const perCall = await bounded(unaryCall(grpcJsClient(t, port), "Unary", { text: "per-call" }), 10_000, "per-call gzip reply");
  t.same([perCall.error, perCall.value?.blob.length], [undefined, 10_000]);
});

t.test("a compressed request that inflates past the limit is RESOURCE_EXHAUSTED", async (t) => {
  let calls = 0;
  const { port } = await ours(t, {
    Unary(m: Msg) {
      calls++;
      return { n: m.blob?.length ?? 0 };
    },
  });
  const client = grpcJsClient(t, port, { "grpc.default_compression_algorithm": grpc.compressionAlgorithms.gzip });
  const bomb = await bounded(unaryCall(client, "Unary", { blob: Buffer.alloc(4 * MiB + 1000) }), 20_000, "bomb");
  t.equal(bomb.error?.code, grpc.status.RESOURCE_EXHAUSTED, "a few KB of gzip inflating past 4 MiB is refused");
  t.equal(calls, 0, "the handler never ran");
  const fine = await bounded(unaryCall(client, "Unary", { blob: Buffer.alloc(MiB) }), 20_000, "after");
  t.same([fine.error, fine.value?.n], [undefined, MiB], "the server keeps serving");
});

t.test("message limits: exactly 4 MiB passes, one byte more is RESOURCE_EXHAUSTED, both ways", async (t) => {
  const root = echoRoot();
  const Msg = root.lookupType("wire.Msg");
  t.equal(Msg.encode(msgOfSize(4 * MiB)).finish().length, 4 * MiB, "the test message is exactly 4 MiB");
  const { port } = await ours(t, {
    Unary(m: Msg) {
      if (m.n) return msgOfSize(m.n);
      return { n: m.blob?.length ?? 0 };
    },
  });
  const client = grpcJsClient(t, port);
  const exact = await bounded(unaryCall(client, "Unary", msgOfSize(4 * MiB)), 20_000, "4 MiB request");
  t.same([exact.error, exact.value?.n], [undefined, 4 * MiB - 5], "our server takes a 4 MiB request");
  const over = await bounded(unaryCall(client, "Unary", msgOfSize(4 * MiB + 1)), 20_000, "4 MiB + 1 request");
  t.equal(over.error?.code, grpc.status.RESOURCE_EXHAUSTED, "one byte more: RESOURCE_EXHAUSTED from our server");
  const reply = await bounded(unaryCall(client, "Unary", { n: 4 * MiB }), 20_000, "4 MiB reply");
  t.same([reply.error, reply.value?.blob.length], [undefined, 4 * MiB - 5], "grpc-js takes our 4 MiB reply");
  const bigReply = await bounded(unaryCall(client, "Unary", { n: 4 * MiB + 1 }), 20_000, "4 MiB + 1 reply");
  t.equal(bigReply.error?.code, grpc.status.RESOURCE_EXHAUSTED, "grpc-js refuses our reply one byte over");
  const after = await bounded(unaryCall(client, "Unary", { text: "small" }), 10_000, "after");
  t.same([after.error, after.value?.n], [undefined, 0], "the server keeps serving");
});

t.test("flow control: an upload into a slow handler holds the grpc-js writer back", async (t) => {
  const MESSAGES = 300;
  const BLOB = 32 * 1024;
  let written = 0;
  let consumed = 0;
  let maxAhead = 0;
  const { port } = await ours(t, {
    async ClientStream(requests: AsyncIterable<Msg>) {
      for await (const _ of requests) {
        consumed++;
        maxAhead = Math.max(maxAhead, written - consumed);
        // A slow consumer: a few turns of the event loop per message, so the writer can run ahead if nothing stops it.
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      }
      return { n: consumed };
    },
  });
  const client = grpcJsClient(t, port);
  const result = new Promise<Msg>((resolve, reject) => {
    const call: grpc.ClientWritableStream<Msg> = client.ClientStream((err: Error | null, v: Msg) => (err ? reject(err) : resolve(v)));
    void (async () => {
      const blob = Buffer.alloc(BLOB, 0x63);
      while (written < MESSAGES) {
        written++;
        if (!call.write({ blob })) await new Promise((r) => call.once("drain", r));
      }
      call.end();
    })();
  });
  const reply = await bounded(result, 60_000, "upload");
  t.equal(reply.n, MESSAGES);
  // HTTP/2 windows (64 KiB a stream), the stream buffers and the handler's queue of 16 hold a few dozen messages at most.
  t.ok(maxAhead <= 64, `the writer stayed at most ${maxAhead} messages ahead of the handler (bound 64 of ${MESSAGES})`);
});

t.test("one port: grpc-js calls a tcp:// netrpc port", async (t) => {
  const server = new Server();
  server.register(echo, { service: ECHO, proto: echoRoot() });
  const listener = await server.listen("tcp://127.0.0.1:0");
  t.teardown(() => server.close());
  const client = grpcJsClient(t, listener.port!);
  const r = await bounded(unaryCall(client, "Unary", { text: "tcp", n: 1 }), 10_000, "unary");
  t.match(r.value, { text: "tcp!", n: 2 });
  const s = await bounded(collect(client.ServerStream({ text: "s", n: 3 })), 10_000, "stream");
  t.same(s.messages.map((m: Msg) => m.n), [0, 1, 2]);
});
