// Our gRPC client and server together: flow control with slow readers on either side, early
// replies to uploads, shutdown() (GOAWAY, calls in flight finish, new ones refused) and close().
import t, { type Test } from "tap";
import http2 from "node:http2";
import { Server, dial, protobuf, RpcError, Code, type CallContext, type Client, type ServerOptions } from "../../index.js";
import { bounded, rejection } from "../helpers/net.js";
import { ECHO, echoRoot, grpcJsClient, unaryCall, type Msg } from "../helpers/grpcjs.js";

const SS = `${ECHO}.ServerStream`;
const CS = `${ECHO}.ClientStream`;
const U = `${ECHO}.Unary`;
const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

async function ours(t: Test, impl: object, options: ServerOptions = {}): Promise<{ server: Server; port: number; url: string }> {
  const server = new Server(options);
  server.register(impl, { service: ECHO, proto: echoRoot() });
  const listener = await server.listen("grpc://127.0.0.1:0");
  t.teardown(() => server.close());
  return { server, port: listener.port!, url: listener.url };
}

async function connect(t: Test, url: string): Promise<Client> {
  const client = await dial(url, { codec: protobuf({ root: echoRoot() }) });
  t.teardown(() => client.close());
  return client;
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

t.test("flow control: a fast handler into our slow reader, our fast upload into a slow handler", async (t) => {
  const MESSAGES = 300;
  const blob = Buffer.alloc(32 * 1024, 0x65);
  let yielded = 0;
  let uploaded = 0;
  let handled = 0;
  let uploadAhead = 0;
  const { url } = await ours(t, {
    async *ServerStream() {
      while (yielded < MESSAGES) {
        yielded++;
        yield { n: yielded, blob };
      }
    },
    async ClientStream(requests: AsyncIterable<Msg>) {
      for await (const _ of requests) {
        handled++;
        uploadAhead = Math.max(uploadAhead, uploaded - handled);
        await turns(20);
      }
      return { n: handled };
    },
  });
  const client = await connect(t, url);
  let consumed = 0;
  let maxAhead = 0;
  for await (const _ of client.serverStream(SS, {})) {
    consumed++;
    maxAhead = Math.max(maxAhead, yielded - consumed);
    await turns(20);
  }
  t.equal(consumed, MESSAGES);
  t.ok(maxAhead <= 64, `the handler was held to ${maxAhead} messages ahead of our reader (bound 64 of ${MESSAGES})`);

  const requests = (async function* () {
    while (uploaded < MESSAGES) {
      uploaded++;
      yield { blob };
    }
  })();
  t.match(await bounded(client.clientStream(CS, requests), 60_000, "upload"), { n: MESSAGES });
  t.ok(uploadAhead <= 64, `our upload was held to ${uploadAhead} messages ahead of the handler (bound 64 of ${MESSAGES})`);
});

t.test("a handler that replies before reading the whole upload ends the call", async (t) => {
  const { url } = await ours(t, {
    async ClientStream(requests: AsyncIterable<Msg>) {
      for await (const m of requests) return { n: m.n };
      return {};
    },
    async *Bidi(requests: AsyncIterable<Msg>) {
      for await (const m of requests) {
        yield { n: m.n };
        return;
      }
    },
  });
  const client = await connect(t, url);
  let sent = 0;
  const endless = () =>
    (async function* () {
      for (;;) yield { n: ++sent, blob: Buffer.alloc(4096) };
    })();
  t.match(await bounded(client.clientStream(CS, endless()), 10_000, "early reply"), { n: 1 });
  const got: Msg[] = [];
  for await (const m of client.bidiStream<Msg>(`${ECHO}.Bidi`, endless())) got.push(m);
  t.equal(got.length, 1, "a bidi call: one reply, then OK");
  t.match(await bounded(client.clientStream(CS, [{ n: 42 }]), 10_000, "after"), { n: 42 }, "the connection still works");
});

t.test("shutdown(): GOAWAY, calls in flight finish, new calls are refused", async (t) => {
  const release = gate();
  const started = { stream: gate(), unary: gate() };
  const { server, port, url } = await ours(t, {
    async Unary(m: Msg) {
      started.unary.open();
      await release.promise;
      return { text: `${m.text} done` };
    },
    async *ServerStream() {
      yield { n: 1 };
      started.stream.open();
      await release.promise;
      yield { n: 2 };
    },
  });
  const client = await connect(t, url);
  const grpcJs = grpcJsClient(t, port);
  const witness = http2.connect(`http://127.0.0.1:${port}`);
  witness.on("error", () => {});
  t.teardown(() => witness.destroy());
  const goaway = new Promise<number>((resolve) => witness.once("goaway", (code: number) => resolve(code)));
  await bounded(new Promise((r) => witness.once("connect", r)), 10_000, "witness connect");

  const streamed: number[] = [];
  const stream = (async () => {
    for await (const m of client.serverStream<Msg>(SS, {})) streamed.push(m.n!);
  })();
  const inFlight = unaryCall(grpcJs, "Unary", { text: "grpc-js" });
  await bounded(Promise.all([started.stream.promise, started.unary.promise]), 10_000, "calls started");

  let shutDown = false;
  const shutdown = server.shutdown().then(() => (shutDown = true));
  t.equal(await bounded(goaway, 10_000, "GOAWAY"), http2.constants.NGHTTP2_NO_ERROR, "GOAWAY with NO_ERROR");
  // Started now, settled only after the calls in flight are released: refused whichever way it goes.
  const late = client.call(U, { text: "late" });
  late.catch(() => {});
  t.equal((await rejection(dial(url, { codec: protobuf({ root: echoRoot() }) }), "dial")).code, Code.UNAVAILABLE, "the port no longer takes connections");
  t.notOk(shutDown, "shutdown waits for the calls in flight");

  release.open();
  await bounded(stream, 10_000, "stream in flight");
  t.same(streamed, [1, 2], "the stream in flight finished");
  const unary = await bounded(inFlight, 10_000, "unary in flight");
  t.same([unary.error, unary.value?.text], [undefined, "grpc-js done"], "the grpc-js call in flight finished");
  t.equal((await rejection(late, "late call")).code, Code.UNAVAILABLE, "a new call on the old connection: UNAVAILABLE");
  await bounded(shutdown, 10_000, "shutdown");
  t.equal((await rejection(client.call(U, { text: "after" }), "after")).code, Code.UNAVAILABLE, "and after shutdown");
});

t.test("close(): calls in flight are cut, their handlers aborted", async (t) => {
  const reasons: unknown[] = [];
  const started = gate();
  const { server, url } = await ours(t, {
    async Unary(_m: Msg, ctx: CallContext) {
      started.open();
      reasons.push(await new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve(ctx.signal.reason))));
      return {};
    },
  });
  const client = await connect(t, url);
  const pending = client.call(U, {});
  await bounded(started.promise, 10_000, "call started");
  await bounded(server.close(), 10_000, "close");
  const err = await rejection(pending);
  t.equal(err.code, Code.UNAVAILABLE, "the caller gets UNAVAILABLE");
  t.equal(reasons.length, 1);
  t.ok(reasons[0] instanceof RpcError && reasons[0].code === Code.UNAVAILABLE, "the handler's signal aborted");
  t.equal((await rejection(client.call(U, {}), "after close")).code, Code.UNAVAILABLE, "later calls: UNAVAILABLE");
});
