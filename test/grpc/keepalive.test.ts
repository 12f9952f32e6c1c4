// gRPC keepalive (A8, A9): the server's HTTP/2 PINGs
// find a client gone silent; the server holds clients to keepaliveMinTime with GOAWAY
// ENHANCE_YOUR_CALM "too_many_pings", and our client pings half as often after one.
import t from "tap";
import http2 from "node:http2";
import { Client, Code, Server, dial, json, type ServerOptions } from "../../index.js";
import { Arith, Slow } from "../../examples/services.js";
import { dialGrpc } from "../../transports/grpc/client.js";
import { messageCodec } from "../../transports/grpc/messages.js";
import { keepaliveSettings } from "../../core/keepalive.js";
import { bounded, rejection, type Teardown } from "../helpers/net.js";
import { silentProxy } from "../helpers/silent-proxy.js";

const { NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

async function grpcServer(t: Teardown, options: ServerOptions = {}): Promise<{ server: Server; port: number; url: string }> {
  const server = new Server(options);
  server.register(new Arith()).register(new Slow());
  t.teardown(() => server.close());
  const { port } = await server.listen("grpc://127.0.0.1:0");
  return { server, port: port!, url: `grpc://127.0.0.1:${port}` };
}

interface PingOutcome {
  /** Pings acked before the session ended (or all of them). */
  acked: number;
  goaway: { code: number; data: string } | undefined;
}

/** A raw node:http2 session pinging `count` times in a row, each after the last ack; stops at a GOAWAY. */
async function pingLoop(t: Teardown, port: number, count: number): Promise<PingOutcome> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.destroy());
  session.on("error", () => {});
  await bounded(new Promise((resolve) => session.once("connect", resolve)), 5_000, "connect");
  const outcome: PingOutcome = { acked: 0, goaway: undefined };
  session.once("goaway", (code: number, _last: number, data?: Buffer) => (outcome.goaway = { code, data: data?.toString("latin1") ?? "" }));
  for (let i = 0; i < count && !outcome.goaway && !session.destroyed; i++) {
    const ok = await bounded(new Promise<boolean>((resolve) => session.ping((err) => resolve(!err))), 5_000, `ping ${i + 1}`);
    if (ok) outcome.acked++;
  }
  if (outcome.goaway) await bounded(new Promise((resolve) => (session.closed ? resolve(undefined) : session.once("close", resolve))), 5_000, "the session ends");
  return outcome;
}

t.test("a client gone silent is dropped by the server's pings; one that acks them stays", async (t) => {
  const { port, url } = await grpcServer(t, { keepaliveInterval: 50 });
  const proxy = await silentProxy(t, port);
  const silent = await dial(`grpc://127.0.0.1:${proxy.port}`);
  t.teardown(() => silent.close());
  const healthy = await dial(url);
  t.teardown(() => healthy.close());
  t.equal(await silent.call("Arith.Multiply", { A: 2, B: 3 }), 6);
  t.equal(await healthy.call("Arith.Multiply", { A: 2, B: 4 }), 8);
  proxy.freeze();
  await bounded(proxy.upstreamClosed(0), 10_000, "the server drops the silent client");
  t.pass("the server closed the silent client's connection");
  // The healthy client has seen as many pings by now; it is still served on the same connection.
  t.equal(await healthy.call("Arith.Multiply", { A: 5, B: 5 }), 25, "a client that acks pings stays connected");
  t.equal(await Promise.race([healthy.closed.then(() => "closed"), Promise.resolve("open")]), "open");
});

t.test("pings without calls: GOAWAY ENHANCE_YOUR_CALM too_many_pings unless keepalivePermitWithoutCalls", async (t) => {
  const strict = await grpcServer(t, { keepaliveMinTime: 0 });
  const refused = await pingLoop(t, strict.port, 10);
  t.same(refused.goaway, { code: NGHTTP2_ENHANCE_YOUR_CALM, data: "too_many_pings" }, "GOAWAY code 11 with debug data too_many_pings");
  t.ok(refused.acked >= 3 && refused.acked <= 4, `the first ping and two strikes are answered first (acked ${refused.acked})`);

  const permissive = await grpcServer(t, { keepaliveMinTime: 0, keepalivePermitWithoutCalls: true });
  const welcome = await pingLoop(t, permissive.port, 10);
  t.equal(welcome.goaway, undefined, "no GOAWAY");
  t.equal(welcome.acked, 10, "every ping is acked");
});

t.test("pings more often than keepaliveMinTime: GOAWAY too_many_pings on the third ping too soon", async (t) => {
  const { port } = await grpcServer(t, { keepalivePermitWithoutCalls: true });
  const outcome = await pingLoop(t, port, 10);
  t.same(outcome.goaway, { code: NGHTTP2_ENHANCE_YOUR_CALM, data: "too_many_pings" });
  const lenient = await grpcServer(t, { keepalivePermitWithoutCalls: true, maxPingStrikes: 0 });
  t.equal((await pingLoop(t, lenient.port, 10)).goaway, undefined, "maxPingStrikes 0: no limit");
  t.throws(() => new Server({ keepaliveMinTime: -1 }), { name: "RangeError", message: /keepaliveMinTime/ });
  t.throws(() => new Server({ maxPingStrikes: 1.5 }), { name: "RangeError", message: /maxPingStrikes/ });
  t.throws(() => new Server({ keepalivePermitWithoutCalls: "yes" as never }), { name: "TypeError", message: /keepalivePermitWithoutCalls/ });
});

t.test("our client pinging too often: the call fails with too_many_pings, and the next connection pings half as often", async (t) => {
  const { url } = await grpcServer(t, { keepaliveMinTime: 100 });
  const viaDial = await dial(url, { keepaliveTime: 20 });
  t.teardown(() => viaDial.close());
  const err = await rejection(viaDial.call("Slow.Sleep", 10_000), "call", 10_000);
  t.equal(err.code, Code.UNAVAILABLE);
  t.match(err.message, /^rpc: the server closed the connection \(GOAWAY code 11 "too_many_pings"\)/);
  t.match(err.message, /every 20 ms.*every 40 ms/, "the error says the keepaliveTime was doubled");
  t.equal((await bounded(viaDial.closed, 5_000, "closed")).message, err.message);

  // One dial's connections share the settings: after too_many_pings at 60 ms the next pings at
  // 120 ms, which this server (100 ms) accepts for a call spanning several pings.
  const settings = keepaliveSettings({ keepaliveTime: 60 })!;
  const options = { codec: messageCodec(json), maxMessageSize: 4 << 20, keepalive: settings };
  const first = await dialGrpc(new URL(url), options);
  const firstClient = new Client(first);
  t.teardown(() => firstClient.close());
  const tooOften = await rejection(firstClient.call("Slow.Sleep", 10_000), "first call", 10_000);
  t.match(tooOften.message, /too_many_pings/);
  t.equal(settings.time, 120, "keepaliveTime doubled");
  t.equal(first.keepaliveTime, 120);
  const second = await dialGrpc(new URL(url), options);
  const secondClient = new Client(second);
  t.teardown(() => secondClient.close());
  t.equal(await secondClient.call("Slow.Sleep", 700), 700, "a call across several pings at the doubled time succeeds");
  t.equal(await Promise.race([second.closed.then(() => "closed"), Promise.resolve("open")]), "open", "the connection stays");
});

t.test("keepalive options are checked", async (t) => {
  await t.rejects(dial("grpc://127.0.0.1:1", { keepaliveTime: -1 }), { name: "RangeError", message: /keepaliveTime/ });
  await t.rejects(dial("grpc://127.0.0.1:1", { keepaliveTime: 1000, keepaliveTimeout: Number.NaN }), { name: "RangeError", message: /keepaliveTimeout/ });
  await t.rejects(dial("grpc://127.0.0.1:1", { keepaliveTime: 1000, keepalivePermitWithoutCalls: 1 as never }), { name: "TypeError", message: /keepalivePermitWithoutCalls/ });
});
