// gRPC interop with a second, independent implementation: Python's grpcio (gRPC C-core), driven by
// test/python/peer.py, in both directions on real sockets:
//   (a) grpcio's client -> our server (user.User and peer.Echo): every call kind, metadata text and
//       binary both ways, a deadline that expires, an error with a non-ASCII message, cancellation,
//       gzip; each check is asserted where the Python client saw it, and on our side where the
//       handler saw it;
//   (b) our client -> grpcio's server (peer.Echo): the same, seen from our client.
// Without grpcio for /usr/bin/python3 the file is skipped, except in CI (CI=true), where that is a failure.
import t from "tap";
import { Server, dial, RpcError, Code, type CallContext, type Client, type Metadata } from "../../index.js";
import { User, USER_PROTO } from "../../examples/services.js";
import { bounded, rejection } from "../helpers/net.js";
import { PEER_PROTO, PYTHON_MISSING_REASON, pythonGrpcAvailable, runPythonClient, startPythonServer, type PeerLine } from "../helpers/python.js";

const ECHO = "peer.Echo";
/** Whitespace, BMP and non-BMP text, and a '%' that must not be taken for an escape. */
const WEIRD = "\t\nbad ☺ thing 😈 ünïcödé\r\n100% %41\t";
/** The Python client's error message (test/python/peer.py, check "error"). */
const PY_ERROR = "bad ☺ thing 😈 ünïcödé\t100%";
const BLOB = 65536;

interface Msg {
  text?: string;
  n?: number;
  blob?: Uint8Array;
  deadline_ms?: number;
  compressed?: boolean;
}

const bytes = (...b: number[]) => Buffer.from(b);

/** Metadata pairs as peer.py prints them ([key, value], bytes as "b64:..."), grouped by key in order. */
function grouped(pairs: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of pairs as [string, string][]) (out[k] ??= []).push(v);
  return out;
}

/** A value of our Metadata as peer.py would print it, for comparing both sides alike. */
function asPrinted(v: Metadata[string] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v : [v]).map((x) => (typeof x === "string" ? x : `b64:${Buffer.from(x).toString("base64")}`));
}

/** What our peer.Echo handler (and peer.py's) echoes: every x-* entry, in the headers and the trailers. */
function echoMetadata(ctx: CallContext): void {
  for (const [k, v] of Object.entries(ctx.metadata)) {
    if (!k.startsWith("x-")) continue;
    ctx.responseHeader[k] = v;
    ctx.responseTrailer[k] = v;
  }
  if ("x-compress-reply" in ctx.metadata) ctx.compressResponse = true;
}

/** A promise and its resolve, for a handler to report what it saw. */
function seen<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The handler's abort reason once its signal aborts, or undefined after `ms`. */
const abortedWithin = (ctx: CallContext, ms: number): Promise<unknown> =>
  new Promise((resolve) => {
    const signal = ctx.signal;
    if (signal.aborted) return resolve(signal.reason);
    const done = () => {
      clearTimeout(timer);
      resolve(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", done);
      resolve(undefined);
    }, ms);
    signal.addEventListener("abort", done, { once: true });
  });

if (!pythonGrpcAvailable()) {
  if (process.env.CI === "true") {
    t.fail(`${PYTHON_MISSING_REASON} (CI=true, so Python gRPC interop must run)`);
  } else {
    t.plan(0, `skipped: ${PYTHON_MISSING_REASON}`);
  }
} else {
  t.test("grpcio's client against our server", async (t) => {
    const mdSeen = seen<Metadata>();
    const sleepAborted = seen<unknown>();
    const foreverAborted = seen<unknown>();
    const echo = {
      Unary(m: Msg, ctx: CallContext): Msg {
        if (m.text === "md") mdSeen.resolve({ ...ctx.metadata });
        echoMetadata(ctx);
        return {
          text: `${m.text}!`,
          n: (m.n ?? 0) + 1,
          blob: m.blob,
          deadline_ms: ctx.deadline === undefined ? -1 : Math.max(0, ctx.deadline - Date.now()),
          compressed: ctx.requestCompressed,
        };
      },
      async *ServerStream(m: Msg, ctx: CallContext): AsyncGenerator<Msg> {
        echoMetadata(ctx);
        if (m.text === "forever") {
          // Replies until the caller cancels (at most 1000, so it ends regardless).
          for (let i = 0; i < 1000 && !ctx.signal.aborted; i++) {
            yield { text: "forever", n: i };
            await abortedWithin(ctx, 10);
          }
          foreverAborted.resolve(ctx.signal.reason);
          return;
        }
        for (let i = 0; i < (m.n ?? 0); i++) yield { text: m.text, n: i };
        if (m.text === "fail") throw new RpcError(Code.DATA_LOSS, `after ${m.n ?? 0} ☺`);
      },
      async ClientStream(requests: AsyncIterable<Msg>, ctx: CallContext): Promise<Msg> {
        echoMetadata(ctx);
        const texts: string[] = [];
        let n = 0;
        for await (const m of requests) {
          texts.push(m.text ?? "");
          n += m.n ?? 0;
        }
        return { text: texts.join(","), n };
      },
      async *Bidi(requests: AsyncIterable<Msg>, ctx: CallContext): AsyncGenerator<Msg> {
        echoMetadata(ctx);
        for await (const m of requests) yield { text: (m.text ?? "").toUpperCase(), n: m.n };
      },
      Fail(m: Msg): Msg {
        throw new RpcError(m.n as Code, m.text ?? "", { metadata: { "x-why": "because", "x-why-bin": bytes(0, 1, 0xfe, 0xff) } });
      },
      async Sleep(m: Msg, ctx: CallContext): Promise<Msg> {
        const reason = await abortedWithin(ctx, Math.min(m.n ?? 0, 10_000));
        sleepAborted.resolve({ reason, hadDeadline: ctx.deadline !== undefined });
        return { n: m.n };
      },
    };

    const server = new Server();
    server.register(new User(), { service: "user.User", proto: USER_PROTO });
    server.register(echo, { service: ECHO, proto: PEER_PROTO });
    const listener = await server.listen("grpc://127.0.0.1:0");
    t.teardown(() => server.close());

    const run = await runPythonClient(listener.port!);
    const check = (name: string): PeerLine => run.checks.get(name) ?? { check: name, missing: "the Python client printed no such check" };

    t.same(check("get_user_1"), { check: "get_user_1", code: "OK", reply: { id: "1", name: "bala", phone: "13100001111" } }, "GetUser 1");
    t.same(check("get_user_2"), { check: "get_user_2", code: "OK", reply: { id: "2", name: "小王", phone: "13200001111" } }, "GetUser 2: a non-ASCII protobuf string");
    t.match(check("get_user_missing"), { code: "NOT_FOUND", details: "user not found" }, "an unknown id is NOT_FOUND \"user not found\"");

    t.match(check("unary"), { code: "OK", reply: { text: "hi!", n: 42, blob_len: 0 } }, "unary");
    const deadlineMs = (check("unary").reply as { deadline_ms?: number } | undefined)?.deadline_ms;
    t.ok(typeof deadlineMs === "number" && deadlineMs > 0, `grpcio's timeout reaches the handler as its deadline (${String(deadlineMs)} ms left)`);
    t.match(check("unary_no_deadline"), { code: "OK", reply: { text: "hi!", deadline_ms: -1 } }, "no timeout, no deadline");

    const md = check("metadata");
    t.equal(md.code, "OK", "metadata call");
    const sent = { "x-text": ["hello"], "x-multi": ["a", "b"], "x-blob-bin": ["b64:AAH+/w=="], "x-empty-bin": ["b64:"] };
    t.same(grouped(md.header), sent, "grpcio sees its text, repeated and binary (also empty) metadata echoed in the response headers");
    t.same(grouped(md.trailer), sent, "and in the trailers");
    const got = await bounded(mdSeen.promise, 5_000, "metadata seen by the handler");
    t.same(
      { text: got["x-text"], multi: got["x-multi"], blob: got["x-blob-bin"], empty: got["x-empty-bin"] },
      { text: "hello", multi: ["a", "b"], blob: bytes(0, 1, 0xfe, 0xff), empty: Buffer.alloc(0) },
      "the handler sees grpcio's metadata, binary values decoded",
    );
    t.match(got["user-agent"], /grpc-python/, "grpcio's user-agent reaches the handler");

    const ss = check("server_stream");
    t.same(
      [ss.code, (ss.replies as Msg[] | undefined)?.map((m) => [m.text, m.n])],
      ["OK", [["s", 0], ["s", 1], ["s", 2], ["s", 3], ["s", 4]]],
      "server stream: five replies, in order",
    );
    t.same([grouped(ss.header), grouped(ss.trailer)], [{ "x-kind": ["server"] }, { "x-kind": ["server"] }], "server stream: headers and trailers");
    t.same(check("server_stream_empty"), { check: "server_stream_empty", code: "OK", replies: [] }, "a server stream of no replies");
    const sse = check("server_stream_error");
    t.same(
      [sse.code, sse.details, (sse.replies as Msg[] | undefined)?.map((m) => m.n)],
      ["DATA_LOSS", "after 3 ☺", [0, 1, 2]],
      "a server stream failing after three replies: the replies, then the status",
    );

    const cs = check("client_stream");
    t.match(cs, { code: "OK", reply: { text: "m1,m2,m3,m4", n: 10 } }, "client stream: four requests, one reply");
    t.same(grouped(cs.trailer), { "x-kind": ["client"] }, "client stream: trailers");
    t.match(check("client_stream_empty"), { code: "OK", reply: { text: "", n: 0 } }, "a client stream of no requests");

    const bidi = check("bidi_ping_pong");
    t.same(
      [bidi.code, (bidi.replies as Msg[] | undefined)?.map((m) => m.text), bidi.rest, grouped(bidi.header)],
      ["OK", ["PING", "PONG", "AGAIN"], [], { "x-kind": ["bidi"] }],
      "bidi ping-pong: each reply before the next request",
    );

    t.same(
      check("error"),
      { check: "error", code: "FAILED_PRECONDITION", details: PY_ERROR, trailer: [["x-why", "because"], ["x-why-bin", "b64:AAH+/w=="]] },
      "an error: its code, its non-ASCII message and its trailers",
    );

    t.match(check("deadline"), { code: "DEADLINE_EXCEEDED" }, "grpcio's expired deadline: DEADLINE_EXCEEDED");
    const slept = (await bounded(sleepAborted.promise, 10_000, "Sleep handler ended")) as { reason: unknown; hadDeadline: boolean };
    t.ok(slept.hadDeadline, "the Sleep handler had the deadline");
    t.ok(slept.reason instanceof RpcError && [Code.DEADLINE_EXCEEDED, Code.CANCELLED].includes(slept.reason.code), `its signal aborted when the deadline passed (${String(slept.reason)})`);

    t.match(check("cancel"), { code: "CANCELLED", first: { text: "forever", n: 0 } }, "grpcio cancels a server stream after its first reply");
    const cancelled = await bounded(foreverAborted.promise, 10_000, "ServerStream handler ended");
    t.ok(cancelled instanceof RpcError && cancelled.code === Code.CANCELLED, `the handler's signal aborted with CANCELLED (${String(cancelled)})`);

    t.match(check("large_unary"), { code: "OK", reply: { text: "big!", blob_len: 1 << 20, blob_ok: true } }, "1 MiB each way: flow control beyond the initial windows");
    t.match(check("gzip"), { code: "OK", reply: { text: "z!", blob_len: BLOB, blob_ok: true, compressed: true } }, "grpc.Compression.Gzip: the request arrives gzipped, the gzipped reply is read");
    t.match(check("no_compression"), { code: "OK", reply: { blob_len: BLOB, blob_ok: true, compressed: false } }, "without compression the request arrives plain");
    t.match(check("unimplemented"), { code: "UNIMPLEMENTED" }, "a method nobody declares: UNIMPLEMENTED");

    t.same(
      run.order,
      [
        "get_user_1",
        "get_user_2",
        "get_user_missing",
        "unary",
        "unary_no_deadline",
        "metadata",
        "server_stream",
        "server_stream_empty",
        "server_stream_error",
        "client_stream",
        "client_stream_empty",
        "bidi_ping_pong",
        "error",
        "deadline",
        "cancel",
        "large_unary",
        "gzip",
        "no_compression",
        "unimplemented",
      ],
      "every check ran, once each",
    );
    t.same([run.done, run.code], [true, 0], `the Python client finished and exited 0${run.stderr ? `\n${run.stderr}` : ""}`);
  });

  t.test("our client against grpcio's server", async (t) => {
    const py = await startPythonServer();
    t.teardown(() => py.close());
    const client: Client = await dial(`grpc://127.0.0.1:${py.port}`, { proto: PEER_PROTO, connectTimeout: 10_000 });
    t.teardown(() => client.close());
    const call = (method: string, m: Msg, options: Parameters<Client["call"]>[2] = {}) => bounded(client.call<Msg>(`${ECHO}.${method}`, m, { timeout: 10_000, ...options }), 15_000, method);

    const unary = await call("Unary", { text: "hi", n: 41 });
    t.match(unary, { text: "hi!", n: 42 }, "unary");
    t.ok(typeof unary.deadline_ms === "number" && unary.deadline_ms > 0, `our timeout reaches grpcio as its deadline (${String(unary.deadline_ms)} ms left)`);
    const plain = await bounded(client.call<Msg>(`${ECHO}.Unary`, { text: "x" }), 10_000, "no deadline");
    t.equal(plain.deadline_ms, -1, "no timeout, no deadline");

    let header: Metadata | undefined;
    let trailer: Metadata | undefined;
    const metadata: Metadata = { "x-text": "hello", "x-multi": ["a", "b"], "x-blob-bin": bytes(0, 1, 0xfe, 0xff), "x-empty-bin": new Uint8Array(0) };
    await call("Unary", { text: "md" }, { metadata, onHeader: (m) => (header = m), onTrailer: (m) => (trailer = m) });
    const want = { "x-text": ["hello"], "x-multi": ["a", "b"], "x-blob-bin": ["b64:AAH+/w=="], "x-empty-bin": ["b64:"] };
    const printed = (m: Metadata | undefined) => Object.fromEntries(Object.keys(want).map((k) => [k, asPrinted(m?.[k])]));
    t.same(printed(header), want, "our text, repeated and binary (also empty) metadata reach grpcio, echoed in its response headers");
    t.same(printed(trailer), want, "and in its trailers");

    const streamed: Msg[] = [];
    let ssTrailer: Metadata | undefined;
    await bounded(
      (async () => {
        for await (const m of client.serverStream<Msg>(`${ECHO}.ServerStream`, { text: "s", n: 5 }, { timeout: 10_000, metadata: { "x-kind": "server" }, onTrailer: (md) => (ssTrailer = md) })) streamed.push(m);
      })(),
      15_000,
      "server stream",
    );
    t.same(streamed.map((m) => [m.text, m.n]), [["s", 0], ["s", 1], ["s", 2], ["s", 3], ["s", 4]], "server stream: five replies, in order");
    t.equal(ssTrailer?.["x-kind"], "server", "server stream: trailers");
    const none: Msg[] = [];
    await bounded(
      (async () => {
        for await (const m of client.serverStream<Msg>(`${ECHO}.ServerStream`, { text: "s", n: 0 }, { timeout: 10_000 })) none.push(m);
      })(),
      15_000,
      "empty server stream",
    );
    t.same(none, [], "a server stream of no replies");
    const before: number[] = [];
    const streamErr = await rejection(
      (async () => {
        for await (const m of client.serverStream<Msg>(`${ECHO}.ServerStream`, { text: "fail", n: 3 }, { timeout: 10_000 })) before.push(m.n ?? -1);
      })(),
      "server stream error",
    );
    t.same([before, streamErr.code, streamErr.message], [[0, 1, 2], Code.DATA_LOSS, "after 3 ☺"], "a server stream failing after three replies: the replies, then the status");

    async function* four(): AsyncGenerator<Msg> {
      for (let i = 1; i <= 4; i++) yield { text: `m${i}`, n: i };
    }
    const up = await bounded(client.clientStream<Msg>(`${ECHO}.ClientStream`, four(), { timeout: 10_000 }), 15_000, "client stream");
    t.match(up, { text: "m1,m2,m3,m4", n: 10 }, "client stream: four requests, one reply");
    const nothing = await bounded(client.clientStream<Msg>(`${ECHO}.ClientStream`, [], { timeout: 10_000 }), 15_000, "empty client stream");
    t.same([nothing.text, nothing.n], ["", 0], "a client stream of no requests");

    // Ping-pong: the generator hands over each request only once the reply before it has arrived.
    const replies: Msg[] = [];
    let notify = () => {};
    const replied = (k: number) => new Promise<void>((resolve) => (replies.length >= k ? resolve() : (notify = resolve)));
    async function* pingPong(): AsyncGenerator<Msg> {
      const words = ["ping", "pong", "again"];
      for (let i = 0; i < words.length; i++) {
        yield { text: words[i], n: i };
        await replied(i + 1);
      }
    }
    await bounded(
      (async () => {
        for await (const m of client.bidiStream<Msg>(`${ECHO}.Bidi`, pingPong(), { timeout: 10_000 })) {
          replies.push(m);
          notify();
        }
      })(),
      15_000,
      "bidi",
    );
    t.same(replies.map((m) => [m.text, m.n]), [["PING", 0], ["PONG", 1], ["AGAIN", 2]], "bidi ping-pong: each reply before the next request");

    let failTrailer: Metadata | undefined;
    const err = await rejection(client.call(`${ECHO}.Fail`, { text: WEIRD, n: Code.FAILED_PRECONDITION }, { timeout: 10_000, onTrailer: (m) => (failTrailer = m) }), "Fail");
    t.ok(err instanceof RpcError, "an error is an RpcError");
    t.same([err.code, err.message, err.fromPeer], [Code.FAILED_PRECONDITION, WEIRD, true], "grpcio's status: its code and its non-ASCII message, from the peer");
    t.same([failTrailer?.["x-why"], failTrailer?.["x-why-bin"]], ["because", bytes(0, 1, 0xfe, 0xff)], "its trailers reach onTrailer");
    t.same([err.metadata?.["x-why"], err.metadata?.["x-why-bin"]], ["because", bytes(0, 1, 0xfe, 0xff)], "and the error's metadata");

    const late = await rejection(client.call(`${ECHO}.Sleep`, { n: 10_000 }, { timeout: 300 }), "Sleep");
    t.equal(late.code, Code.DEADLINE_EXCEEDED, "our expired deadline: DEADLINE_EXCEEDED");
    t.match(await py.event((e) => e.event === "sleep_ended", "sleep_ended"), { active: false, had_deadline: true }, "grpcio's handler had the deadline and saw its call end");

    const ac = new AbortController();
    const firsts: Msg[] = [];
    const cancelled = await rejection(
      (async () => {
        for await (const m of client.serverStream<Msg>(`${ECHO}.ServerStream`, { text: "forever" }, { timeout: 10_000, signal: ac.signal })) {
          firsts.push(m);
          ac.abort();
        }
      })(),
      "cancel",
    );
    t.same([cancelled.code, firsts[0]?.n], [Code.CANCELLED, 0], "aborting a server stream after its first reply: CANCELLED");
    t.match(await py.event((e) => e.event === "stream_ended", "stream_ended"), { active: false }, "grpcio's handler saw the call cancelled");

    // Far beyond HTTP/2's initial 64 KiB windows both ways: flow control has to work.
    const mib = Buffer.alloc(1 << 20, 0x61);
    const large = await call("Unary", { text: "big", blob: mib });
    t.ok(Buffer.from(large.blob ?? []).equals(mib), "1 MiB each way");

    const many = await bounded(Promise.all(Array.from({ length: 50 }, (_, i) => client.call<Msg>(`${ECHO}.Unary`, { text: String(i), n: i }, { timeout: 10_000 }))), 15_000, "50 calls");
    t.same(many.map((m) => [m.text, m.n]), Array.from({ length: 50 }, (_, i) => [`${i}!`, i + 1]), "50 concurrent calls on one connection, each its own reply");

    const blob = Buffer.alloc(BLOB, 0x61);
    const zipped = await call("Unary", { text: "z", blob }, { compress: true, metadata: { "x-compress-reply": "1" } });
    t.same([zipped.text, Buffer.from(zipped.blob ?? []).equals(blob)], ["z!", true], "gzip both ways: grpcio reads our gzipped request, we read its gzipped reply");
  });
}
