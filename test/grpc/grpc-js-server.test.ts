// Our gRPC client calling a @grpc/grpc-js server over real sockets: every call kind, status
// codes and messages, metadata, deadlines, cancellation, compression, limits and flow control.
import t, { type Test } from "tap";
import { dial, protobuf, RpcError, Code, type Client, type DialOptions, type Metadata } from "../../index.js";
import { bounded, rejection } from "../helpers/net.js";
import { parseProto } from "../../codecs/protobuf/index.js";
import { ECHO, ECHO_PROTO, echoRoot, grpc, grpcJsServer, msgOfSize, type Msg } from "../helpers/grpcjs.js";

const MiB = 1024 * 1024;
const WEIRD = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
const U = `${ECHO}.Unary`;
const SS = `${ECHO}.ServerStream`;
const CS = `${ECHO}.ClientStream`;
const BI = `${ECHO}.Bidi`;

type Impl = grpc.UntypedServiceImplementation;

/** A grpc-js server with `impl` and our client dialled to it; both closed at teardown. */
async function against(t: Test, impl: Impl, options: DialOptions = {}, serverOptions: grpc.ServerOptions = {}): Promise<{ client: Client; server: grpc.Server }> {
  const { server, url } = await grpcJsServer(t, impl, serverOptions);
  const client = await dial(url, { codec: protobuf({ root: echoRoot() }), ...options });
  t.teardown(() => client.close());
  return { client, server };
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

function signal<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const echo: Impl = {
  Unary(call: grpc.ServerUnaryCall<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
    callback(null, { text: `${call.request.text}!`, n: (call.request.n ?? 0) + 1 });
  },
  ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
    for (let i = 0; i < (call.request.n ?? 0); i++) call.write({ text: call.request.text, n: i });
    call.end();
  },
  ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
    let n = 0;
    const texts: string[] = [];
    call.on("data", (m: Msg) => {
      n += m.n ?? 0;
      texts.push(m.text ?? "");
    });
    call.on("end", () => callback(null, { text: texts.join(","), n }));
  },
  Bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
    call.on("data", (m: Msg) => call.write({ text: (m.text ?? "").toUpperCase(), n: m.n }));
    call.on("end", () => call.end());
  },
};

t.test("every call kind", async (t) => {
  const { client } = await against(t, echo);
  t.match(await bounded(client.call(U, { text: "hi", n: 41 }), 10_000, "unary"), { text: "hi!", n: 42 });
  t.same((await bounded(all(client.serverStream<Msg>(SS, { text: "s", n: 5 })), 10_000, "server stream")).map((m) => m.n), [0, 1, 2, 3, 4]);
  t.same(await bounded(all(client.serverStream(SS, { n: 0 })), 10_000, "empty stream"), [], "a stream of no replies");
  t.match(await bounded(client.clientStream(CS, [1, 2, 3, 4].map((n) => ({ text: `m${n}`, n }))), 10_000, "client stream"), { text: "m1,m2,m3,m4", n: 10 });
  t.match(await bounded(client.clientStream(CS, []), 10_000, "empty upload"), { text: "", n: 0 }, "an upload of nothing");

  // Ping-pong: the generator sends its next request only after the reply to the one before.
  const replies: string[] = [];
  let replied: () => void = () => {};
  const requests = (async function* () {
    for (const word of ["ping", "pong", "again"]) {
      const got = new Promise<void>((r) => (replied = r));
      yield { text: word, n: 1 };
      await got;
    }
  })();
  await bounded(
    (async () => {
      for await (const m of client.bidiStream<Msg>(BI, requests)) {
        replies.push(m.text!);
        replied();
      }
    })(),
    10_000,
    "bidi",
  );
  t.same(replies, ["PING", "PONG", "AGAIN"]);
});

t.test("status codes and messages from grpc-js", async (t) => {
  const { client } = await against(t, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
      callback({ code: call.request.n, details: call.request.text === "percent" ? "100% sure %41 %zz" : WEIRD } as grpc.ServiceError);
    },
    ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
      call.write({ n: 1 });
      call.emit("error", { code: grpc.status.DATA_LOSS, details: "after one" });
    },
  });
  for (const code of [Code.CANCELLED, Code.UNKNOWN, Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.PERMISSION_DENIED, Code.RESOURCE_EXHAUSTED, Code.FAILED_PRECONDITION, Code.OUT_OF_RANGE, Code.INTERNAL, Code.UNAVAILABLE, Code.DATA_LOSS, Code.UNAUTHENTICATED]) {
    const err = await rejection(client.call(U, { n: code }), `code ${code}`);
    t.ok(err instanceof RpcError, "an RpcError");
    t.same([err.code, err.message, err.fromPeer], [code, WEIRD, true], `code ${code}: the message arrives exactly`);
  }
  t.equal((await rejection(client.call(U, { n: Code.ABORTED, text: "percent" }))).message, "100% sure %41 %zz", "percent signs decoded once");

  const got: number[] = [];
  const err = await rejection(
    (async () => {
      for await (const m of client.serverStream<Msg>(SS, {})) got.push(m.n!);
    })(),
  );
  t.same([got, err.code, err.message], [[1], Code.DATA_LOSS, "after one"], "an error status after a reply");

  // grpc-js answers what it does not serve with UNIMPLEMENTED (a trailers-only reply).
  const wider = parseProto(ECHO_PROTO.replace("service Echo {", "service Echo {\n  rpc Missing(Msg) returns (Msg);") + "service Nope { rpc Unary(Msg) returns (Msg); }\n");
  const other = await dial(`grpc://127.0.0.1:${client.peer!.port}`, { codec: protobuf({ root: wider }) });
  t.teardown(() => other.close());
  t.equal((await rejection(other.call("wire.Nope.Unary", {}))).code, Code.UNIMPLEMENTED, "unknown service");
  t.equal((await rejection(other.call("wire.Echo.Missing", {}))).code, Code.UNIMPLEMENTED, "unknown method");
  t.equal((await rejection(other.call(U, { n: Code.NOT_FOUND }))).code, Code.NOT_FOUND, "the connection still works");
  // grpc-js sends status OK without a message for { code: 0 }: a unary call with no reply is INTERNAL.
  const none = await rejection(other.call(U, { n: Code.OK }));
  t.same([none.code, none.message], [Code.INTERNAL, "rpc: wire.Echo.Unary: a unary call got 0 replies"], "OK without a reply");
});

t.test("metadata both ways: text, binary, repeated; response headers and trailers", async (t) => {
  const seen = signal<grpc.Metadata>();
  const { client } = await against(t, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
      seen.resolve(call.metadata);
      const header = new grpc.Metadata();
      header.add("x-header", "hv");
      header.add("x-header-bin", Buffer.from([0, 0xff, 1]));
      call.sendMetadata(header);
      const trailer = new grpc.Metadata();
      trailer.add("x-trailer", "t1");
      trailer.add("x-trailer", "t2");
      trailer.add("x-trailer-bin", Buffer.from([9]));
      trailer.add("x-trailer-bin", Buffer.from([8, 7]));
      if (call.request.text === "fail") callback({ code: grpc.status.NOT_FOUND, details: "no", metadata: trailer } as grpc.ServiceError);
      else callback(null, { text: "ok" }, trailer);
    },
  });
  let header: Metadata | undefined;
  let trailer: Metadata | undefined;
  const metadata: Metadata = {
    "x-text": ["one", "two"],
    "x-single": "value with spaces",
    "x-blob-bin": [Buffer.from([0xde, 0xad]), Buffer.from([0xbe, 0xef])],
    "x-one-bin": new Uint8Array([1, 2, 3]),
  };
  await bounded(client.call(U, {}, { metadata, onHeader: (h) => (header = h), onTrailer: (tr) => (trailer = tr) }), 10_000, "call");
  const md = await seen.promise;
  // grpc-js joins a repeated text key's values as node:http2 does; binary ones it splits again.
  t.same(md.get("x-text"), ["one, two"]);
  t.same(md.get("x-single"), ["value with spaces"]);
  t.same(md.get("x-blob-bin"), [Buffer.from([0xde, 0xad]), Buffer.from([0xbe, 0xef])]);
  t.same(md.get("x-one-bin"), [Buffer.from([1, 2, 3])]);
  t.match(md.get("user-agent")[0], /^netrpc-node\//);
  t.equal(header?.["x-header"], "hv");
  t.same(header?.["x-header-bin"], Buffer.from([0, 0xff, 1]));
  t.same(trailer?.["x-trailer"], ["t1", "t2"], "repeated trailer values stay apart");
  t.same(trailer?.["x-trailer-bin"], [Buffer.from([9]), Buffer.from([8, 7])]);

  let errTrailer: Metadata | undefined;
  const err = await rejection(client.call(U, { text: "fail" }, { onTrailer: (tr) => (errTrailer = tr) }));
  t.equal(err.code, Code.NOT_FOUND);
  t.same(err.metadata?.["x-trailer-bin"], [Buffer.from([9]), Buffer.from([8, 7])], "an error carries its trailers");
  t.same(errTrailer?.["x-trailer"], ["t1", "t2"], "onTrailer runs for an error status too");
});

t.test("reserved metadata keys are refused before anything is sent", async (t) => {
  let calls = 0;
  const { client } = await against(t, {
    Unary(_call: grpc.ServerUnaryCall<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
      calls++;
      callback(null, {});
    },
  });
  for (const key of ["grpc-status", "grpc-timeout", "content-type", "te", "user-agent", "host", "connection", ":path"]) {
    const err = await rejection(client.call(U, {}, { metadata: { [key]: "x" } }), key);
    t.equal(err.code, Code.INVALID_ARGUMENT, `${key}: INVALID_ARGUMENT`);
  }
  await bounded(client.call(U, {}), 10_000, "a clean call");
  t.equal(calls, 1, "only the clean call reached the server");
});

t.test("deadlines: grpc-timeout reaches grpc-js, the caller gets DEADLINE_EXCEEDED", async (t) => {
  const seen = signal<{ deadline: number; cancelled: boolean }>();
  const { client } = await against(t, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>) {
      call.on("cancelled", () => seen.resolve({ deadline: Number(call.getDeadline()), cancelled: true }));
    },
    ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
      call.write({ n: 1 });
    },
  });
  const before = Date.now();
  const err = await rejection(client.call(U, {}, { timeout: 300 }));
  t.equal(err.code, Code.DEADLINE_EXCEEDED);
  const s = await bounded(seen.promise, 10_000, "server cancelled");
  t.ok(s.cancelled, "the grpc-js handler saw the call end");
  t.ok(s.deadline >= before + 250 && s.deadline <= before + 5_000, `grpc-js's deadline is ours (${s.deadline - before} ms after the call)`);

  const got: Msg[] = [];
  const streamErr = await rejection(
    (async () => {
      for await (const m of client.serverStream<Msg>(SS, {}, { timeout: 300 })) got.push(m);
    })(),
  );
  t.same([got.length, streamErr.code], [1, Code.DEADLINE_EXCEEDED], "a stream past its deadline");
});

t.test("cancellation: an aborted call resets the stream; grpc-js sees it cancelled", async (t) => {
  const cancelled: string[] = [];
  const done = { unary: signal(), stream: signal() };
  const { client } = await against(t, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>) {
      call.on("cancelled", () => {
        cancelled.push("unary");
        done.unary.resolve();
      });
    },
    ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
      call.write({ n: 1 });
      call.on("cancelled", () => {
        cancelled.push("stream");
        done.stream.resolve();
      });
    },
  });
  const ac = new AbortController();
  const pending = client.call(U, {}, { signal: ac.signal });
  setImmediate(() => ac.abort());
  t.equal((await rejection(pending)).code, Code.CANCELLED);
  await bounded(done.unary.promise, 10_000, "grpc-js unary cancelled");

  const ac2 = new AbortController();
  const err = await rejection(
    (async () => {
      for await (const _ of client.serverStream(SS, {}, { signal: ac2.signal })) ac2.abort();
    })(),
  );
  t.equal(err.code, Code.CANCELLED);
  await bounded(done.stream.promise, 10_000, "grpc-js stream cancelled");

  // Breaking out of the loop cancels too.
  done.stream = signal();
  for await (const _ of client.serverStream(SS, {})) break;
  await bounded(done.stream.promise, 10_000, "grpc-js stream cancelled by break");
  t.same(cancelled, ["unary", "stream", "stream"]);
});

t.test("compression: our gzip requests are read by grpc-js; one inflating past its limit is RESOURCE_EXHAUSTED", async (t) => {
  const { client } = await against(t, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
      callback(null, { n: call.request.blob?.length ?? 0 });
    },
    ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
      let n = 0;
      call.on("data", (m: Msg) => (n += m.blob?.length ?? 0));
      call.on("end", () => callback(null, { n }));
    },
  });
  t.match(await bounded(client.call(U, { blob: Buffer.alloc(100_000, 1) }, { compress: true }), 10_000, "gzip"), { n: 100_000 });
  t.match(await bounded(client.clientStream(CS, [1, 2, 3].map((i) => ({ blob: Buffer.alloc(30_000, i) })), { compress: true }), 10_000, "gzip upload"), { n: 90_000 });
  const err = await rejection(client.call(U, { blob: Buffer.alloc(4 * MiB + 100) }, { compress: true }));
  t.equal(err.code, Code.RESOURCE_EXHAUSTED, "grpc-js refuses what inflates past 4 MiB");
  t.match(await bounded(client.call(U, { blob: Buffer.alloc(10) }), 10_000, "after"), { n: 10 });
});

t.test("message limits: exactly 4 MiB passes, one byte more is RESOURCE_EXHAUSTED, both ways", async (t) => {
  const { client } = await against(t, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
      if (call.request.n) callback(null, msgOfSize(call.request.n));
      else callback(null, { n: call.request.blob?.length ?? 0 });
    },
  });
  t.match(await bounded(client.call(U, msgOfSize(4 * MiB)), 20_000, "4 MiB request"), { n: 4 * MiB - 5 }, "grpc-js takes our 4 MiB request");
  t.equal((await rejection(client.call(U, msgOfSize(4 * MiB + 1)), "4 MiB + 1", 20_000)).code, Code.RESOURCE_EXHAUSTED, "grpc-js refuses one byte more");
  const reply = await bounded(client.call<Msg>(U, { n: 4 * MiB }), 20_000, "4 MiB reply");
  t.equal(reply.blob?.length, 4 * MiB - 5, "we take grpc-js's 4 MiB reply");
  const over = await rejection(client.call(U, { n: 4 * MiB + 1 }), "4 MiB + 1 reply", 20_000);
  t.same([over.code, over.fromPeer], [Code.RESOURCE_EXHAUSTED, false], "we refuse one byte more ourselves");
  t.match(await bounded(client.call(U, { blob: Buffer.alloc(3) }), 10_000, "after"), { n: 3 }, "the connection keeps working");
});

t.test("flow control: a fast grpc-js stream into our slow reader, our upload into a slow grpc-js handler", async (t) => {
  const MESSAGES = 300;
  const blob = Buffer.alloc(32 * 1024, 0x64);
  let written = 0;
  let yielded = 0;
  let uploadConsumed = 0;
  let uploadAhead = 0;
  const { client } = await against(t, {
    ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
      void (async () => {
        while (written < MESSAGES) {
          written++;
          if (!call.write({ n: written, blob })) await new Promise((r) => call.once("drain", r));
        }
        call.end();
      })();
    },
    ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
      void (async () => {
        let n = 0;
        for await (const _ of call) {
          n++;
          uploadConsumed = n;
          uploadAhead = Math.max(uploadAhead, yielded - n);
          for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
        }
        callback(null, { n });
      })();
    },
  });
  let consumed = 0;
  let maxAhead = 0;
  for await (const _ of client.serverStream(SS, {})) {
    consumed++;
    maxAhead = Math.max(maxAhead, written - consumed);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  }
  t.equal(consumed, MESSAGES);
  t.ok(maxAhead <= 64, `grpc-js stayed at most ${maxAhead} messages ahead of our reader (bound 64 of ${MESSAGES})`);

  const requests = (async function* () {
    while (yielded < MESSAGES) {
      yielded++;
      yield { blob };
    }
  })();
  t.match(await bounded(client.clientStream(CS, requests), 60_000, "upload"), { n: MESSAGES });
  t.equal(uploadConsumed, MESSAGES);
  t.ok(uploadAhead <= 64, `our upload stayed at most ${uploadAhead} messages ahead of the grpc-js handler (bound 64 of ${MESSAGES})`);
});
