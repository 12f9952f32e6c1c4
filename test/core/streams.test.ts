// Streams over stream transports (TCP here): every call kind in every codec, credit-based flow
// control measured with bounded readers on both sides, half-close, and cancellation both ways.
import t from "tap";
import net from "node:net";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Code, RpcError, json, msgpack, protobuf, type CallContext, type Client } from "../../index.js";
import { STREAM_WINDOW } from "../../core/envelope.js";
import { LineSocket, bounded, connect, rejection, sleep, startServer, waitFor } from "../helpers/net.js";

const NUMS_PROTO = `syntax = "proto3";
package s;
message N { int32 n = 1; }
service Nums {
  rpc Count(N) returns (stream N);
  rpc Total(stream N) returns (N);
  rpc Sum(stream N) returns (stream N);
}
`;

const protoFile = (() => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "netrpc-streams-"));
  const file = path.join(dir, "nums.proto");
  writeFileSync(file, NUMS_PROTO);
  return file;
})();

interface N {
  n: number;
}

/** What the handlers saw, for the flow-control and cancellation checks. */
class Probe {
  produced = 0;
  consumed = 0;
  maxAhead = 0;
  aborted: unknown[] = [];
  readDelayMs = 0;

  /** Records the call's abort, also when it came before the handler ran. */
  watch(ctx: CallContext): void {
    if (ctx.signal.aborted) this.aborted.push(ctx.signal.reason);
    else ctx.signal.addEventListener("abort", () => this.aborted.push(ctx.signal.reason));
  }
}

class Nums {
  constructor(readonly probe: Probe) {}

  async *Count({ n }: N, ctx: CallContext): AsyncGenerator<N> {
    this.probe.watch(ctx);
    for (let i = 0; i < n; i++) {
      this.probe.produced++;
      this.probe.maxAhead = Math.max(this.probe.maxAhead, this.probe.produced - this.probe.consumed);
      yield { n: i };
    }
  }

  async Total(requests: AsyncIterable<N>, ctx: CallContext): Promise<N> {
    this.probe.watch(ctx);
    let total = 0;
    for await (const { n } of requests) {
      this.probe.consumed++;
      total += n;
      if (this.probe.readDelayMs > 0) await sleep(this.probe.readDelayMs);
    }
    return { n: total };
  }

  /** Replies only after the client's half-close: proves the end reached the handler. */
  async *Sum(requests: AsyncIterable<N>): AsyncGenerator<N> {
    const seen: number[] = [];
    for await (const { n } of requests) seen.push(n);
    let total = 0;
    for (const n of seen) yield { n: (total += n) };
  }
}

const CODECS = ["json", "msgpack", "protobuf"] as const;

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

async function setup(t: TapTest, codec: (typeof CODECS)[number]) {
  const probe = new Probe();
  const { url } = await startServer(t, {
    examples: false,
    server: { codecs: [json, msgpack, protobuf({ proto: protoFile })] },
    services: [[new Nums(probe), { service: "s.Nums", proto: protoFile }]],
  });
  const client = await connect(t, `${url}?codec=${codec}`, codec === "protobuf" ? { proto: protoFile } : {});
  return { probe, client, url };
}

async function collect<T>(it: AsyncIterable<T>, max = 10_000): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) {
    out.push(v);
    if (out.length > max) throw new Error("too many replies");
  }
  return out;
}

for (const codec of CODECS) {
  t.test(`${codec}: every call kind`, async (t) => {
    const { client } = await setup(t, codec);
    const counted = await collect(client.serverStream<N>("s.Nums.Count", { n: 50 }));
    t.same(counted.map((r) => r.n), [...Array(50).keys()], "a server stream, in order");
    t.same(await collect(client.serverStream<N>("s.Nums.Count", { n: 0 })), [], "an empty server stream");
    t.same(await client.clientStream<N>("s.Nums.Total", [1, 2, 3, 4].map((n) => ({ n }))), { n: 10 }, "a client stream");
    t.same(await client.clientStream<N>("s.Nums.Total", []), { n: 0 }, "an empty client stream");
    async function* slowly() {
      for (let n = 1; n <= 5; n++) {
        await sleep(1);
        yield { n };
      }
    }
    t.same((await collect(client.bidiStream<N>("s.Nums.Sum", slowly()))).map((r) => r.n), [1, 3, 6, 10, 15], "bidi: replies after the half-close");
    const many = await collect(client.serverStream<N>("s.Nums.Count", { n: 1000 }));
    t.equal(many.length, 1000, "more messages than the window: credit keeps coming");
    t.same(await client.clientStream<N>("s.Nums.Total", Array.from({ length: 300 }, () => ({ n: 1 }))), { n: 300 }, "a client stream longer than the window");
    t.equal(client.pending, 0, "nothing left pending");
  });

  t.test(`${codec}: a slow reader holds a fast server stream to the window`, async (t) => {
    const { client, probe } = await setup(t, codec);
    const it = client.serverStream<N>("s.Nums.Count", { n: 200 })[Symbol.asyncIterator]();
    // Read nothing for a while: the server may only run one window ahead.
    const first = await bounded(it.next(), 5_000, "first reply");
    probe.consumed = 1;
    t.equal(first.value?.n, 0);
    await sleep(100);
    t.ok(probe.produced <= STREAM_WINDOW + 2, `the server stopped producing at the window (produced ${probe.produced})`);
    for (let i = 1; i < 200; i++) {
      const next = await bounded(it.next(), 5_000, `reply ${i}`);
      probe.consumed++;
      if (next.value?.n !== i) t.fail(`reply ${i} was ${JSON.stringify(next.value)}`);
      if (i % 40 === 0) await sleep(20);
    }
    t.ok((await it.next()).done, "then the stream ends");
    t.ok(probe.maxAhead <= STREAM_WINDOW + 2, `never more than a window ahead of the reader (max ${probe.maxAhead})`);
  });

  t.test(`${codec}: a slow handler holds a fast client stream to the window`, async (t) => {
    const { client, probe } = await setup(t, codec);
    probe.readDelayMs = 2;
    let produced = 0;
    let maxAhead = 0;
    function* fast() {
      for (let i = 0; i < 100; i++) {
        produced++;
        maxAhead = Math.max(maxAhead, produced - probe.consumed);
        yield { n: 1 };
      }
    }
    t.same(await bounded(client.clientStream<N>("s.Nums.Total", fast()), 20_000, "total"), { n: 100 });
    t.ok(maxAhead <= STREAM_WINDOW + 2, `the client never ran more than a window ahead of the handler (max ${maxAhead})`);
  });

  t.test(`${codec}: cancellation reaches the other side`, async (t) => {
    const { client, probe } = await setup(t, codec);
    // The caller stops reading: the server's handler is aborted.
    let read = 0;
    for await (const _ of client.serverStream<N>("s.Nums.Count", { n: 1000 })) if (++read === 3) break;
    await waitFor(() => probe.aborted.length === 1, "server handler aborted after break");
    t.equal((probe.aborted[0] as RpcError).code, Code.CANCELLED);

    // The caller aborts while the handler waits for requests.
    const controller = new AbortController();
    async function* stalled() {
      yield { n: 1 };
      await sleep(60_000);
    }
    const pending = client.clientStream("s.Nums.Total", stalled(), { signal: controller.signal });
    await waitFor(() => probe.consumed === 1, "first request read");
    controller.abort();
    const err = await rejection(pending);
    t.equal(err.code, Code.CANCELLED, "the caller sees CANCELLED");
    await waitFor(() => probe.aborted.length === 2, "server handler aborted after abort()");

    // The caller's requests fail: the call ends with that, and the handler is aborted.
    async function* broken() {
      yield { n: 1 };
      throw new Error("disk on fire");
    }
    const failed = await rejection(client.clientStream("s.Nums.Total", broken()));
    t.equal(failed.code, Code.CANCELLED);
    t.match(failed.message, /the request stream failed: disk on fire/);
    await waitFor(() => probe.aborted.length === 3, "server handler aborted after the request stream failed");

    // A deadline ends a stream on both sides.
    const late = await rejection(collect(client.bidiStream("s.Nums.Sum", stalled(), { timeout: 50 })));
    t.equal(late.code, Code.DEADLINE_EXCEEDED);
    t.same(await client.clientStream<N>("s.Nums.Total", [{ n: 2 }]), { n: 2 }, "the connection serves on");
  });
}

t.test("a handler's error ends the stream after the replies before it, and the connection serves on", async (t) => {
  const failing = {
    async *Fail(n: number) {
      for (let i = 0; i < n; i++) yield i;
      throw new RpcError(Code.FAILED_PRECONDITION, "rpc: out of numbers");
    },
    async *Forever(_: unknown, ctx: CallContext) {
      for (let i = 0; !ctx.aborted; i++) {
        yield i;
        await sleep(1);
      }
    },
  };
  const { url, server } = await startServer(t, { services: [[failing, { name: "F" }]] });
  const client: Client = await connect(t, url);
  const got: number[] = [];
  const err = await rejection((async () => {
    for await (const n of client.serverStream<number>("F.Fail", 3)) got.push(n);
  })());
  t.same(got, [0, 1, 2]);
  t.equal(err.code, Code.FAILED_PRECONDITION);
  t.equal(err.message, "rpc: out of numbers");
  t.equal(await client.call("Arith.Multiply", { A: 6, B: 7 }), 42);

  // The server goes away mid-stream: the reader gets UNAVAILABLE, not a hang.
  const it = client.serverStream<number>("F.Forever")[Symbol.asyncIterator]();
  t.equal((await bounded(it.next(), 5_000, "first")).value, 0);
  await server.close();
  const lost = await rejection((async () => {
    for (let i = 0; i < 100_000; i++) if ((await it.next()).done) return;
  })());
  t.equal(lost.code, Code.UNAVAILABLE);
});

t.test("a method that answers once, called as a stream, streams its one result (as over HTTP/2)", async (t) => {
  const { url } = await startServer(t);
  const client = await connect(t, url);
  t.same(await collect(client.serverStream("Arith.Multiply", { A: 6, B: 7 })), [42]);
});

t.test("shutdown reaches a stream's half-close that waited behind a slow reader", async (t) => {
  const big = "x".repeat(600_000);
  let sawEnd = false;
  const { server, port } = await startServer(t, { server: { maxMessageSize: 8 << 20 }, services: [[{
    async Total(rs: AsyncIterable<number>) {
      let s = 0;
      for await (const r of rs) s += r;
      sawEnd = true;
      return s;
    },
    async *Big() {
      for (let i = 0; i < 16; i++) yield big;
    },
  }, { name: "B", streams: { Total: "client", Big: "server" } }]] });
  const raw = new LineSocket(net.connect(port, "127.0.0.1"));
  t.teardown(() => raw.destroy());
  raw.socket.pause(); // read nothing yet: the server's replies back up and it stops reading us
  await raw.write(`{"method":"B.Total","params":[null],"id":1,"stream":true}\n{"id":1,"message":5}\n{"method":"B.Big","params":[null],"id":2}\n`);
  await sleep(300);
  await raw.write(`{"id":1,"end":true}\n`);
  await sleep(100);
  const shutdown = server.shutdown();
  raw.socket.resume();
  await bounded(shutdown, 20_000, "shutdown");
  t.ok(sawEnd, "the handler saw the half-close");
  const lines: any[] = [];
  for (let i = 0; i < 100; i++) {
    const line = JSON.parse(await raw.readLine(10_000));
    if (line.message === undefined) lines.push(line);
    if (lines.length === 2) break;
  }
  t.same(lines.find((l) => l.id === 1), { id: 1, result: 5, error: null }, "the client stream's result");
  t.same(lines.find((l) => l.id === 2), { id: 2, result: {}, error: null, void: true }, "the server stream's end");
});

t.test("a peer that sends past its window fails its call, not the connection", async (t) => {
  const { port } = await startServer(t, { services: [[{ async Total(rs: AsyncIterable<number>) {
    await sleep(60_000); // never reads
    let s = 0;
    for await (const r of rs) s += r;
    return s;
  } }, { name: "Acc", streams: { Total: "client" } }]] });
  const raw = new LineSocket(net.connect(port, "127.0.0.1"));
  t.teardown(() => raw.destroy());
  let out = `{"method":"Acc.Total","params":[null],"id":1,"stream":true}\n`;
  for (let i = 0; i <= STREAM_WINDOW; i++) out += `{"id":1,"message":${i}}\n`;
  await raw.write(out);
  const reply = await raw.readJson();
  t.equal(reply.id, 1);
  t.equal(reply.code, Code.RESOURCE_EXHAUSTED);
  t.match(reply.error, /sent past its flow-control window of 16 messages/);
  await raw.write(`{"method":"Arith.Multiply","params":[{"A":2,"B":3}],"id":2}\n`);
  t.same(await raw.readJson(), { id: 2, result: 6, error: null }, "the connection serves on");
});

t.test("the stream envelopes on the JSON wire", async (t) => {
  const { port } = await startServer(t, { services: [[{
    async *Count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    },
  }, { name: "C" }]] });
  const raw = new LineSocket(net.connect(port, "127.0.0.1"));
  t.teardown(() => raw.destroy());
  await raw.write(`{"method":"C.Count","params":[2],"id":"a"}\n`);
  t.same(await raw.readJson(), { id: "a", message: 0 });
  t.same(await raw.readJson(), { id: "a", message: 1 });
  t.same(await raw.readJson(), { id: "a", result: {}, error: null, void: true });
  // Credit: after a window of replies the server waits for the client to grant more.
  await raw.write(`{"method":"C.Count","params":[${STREAM_WINDOW + 3}],"id":7}\n`);
  for (let i = 0; i < STREAM_WINDOW; i++) t.same(await raw.readJson(), { id: 7, message: i }, `reply ${i}`);
  await t.rejects(raw.readLine(200), /^no line within 200 ms/, "no more until credit");
  await raw.write(`{"id":7,"credit":8}\n`);
  for (let i = STREAM_WINDOW; i < STREAM_WINDOW + 3; i++) t.same(await raw.readJson(), { id: 7, message: i });
  t.same(await raw.readJson(), { id: 7, result: {}, error: null, void: true });
});

t.test("keepalive envelopes: the server answers a ping at once, in every codec", async (t) => {
  const { port } = await startServer(t);
  const raw = new LineSocket(net.connect(port, "127.0.0.1"));
  t.teardown(() => raw.destroy());
  await raw.write(`{"id":41,"ping":true}\n`);
  t.same(await raw.readJson(), { id: 41, pong: true });
  for (const codec of [json, msgpack, protobuf({ proto: protoFile })]) {
    const session = codec.fork();
    const server = codec.fork();
    const frame = session.encodePing(7, false);
    t.same(server.decodeRequest(frame), { kind: "ping", id: 7 }, `${codec.name}: ping`);
    t.same(session.decodeResponse(server.encodePing(7, true)), { kind: "pong", id: 7 }, `${codec.name}: pong`);
  }
});
