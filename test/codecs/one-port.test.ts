// One port, every codec: detection from the first bytes, the preface and its ack, refusals, limits.
import t from "tap";
import net from "node:net";
import { once } from "node:events";
import { Server, dial, json, msgpack, protobuf, Code } from "../../index.js";
import { encodeHello } from "../../core/preface.js";
import { User, USER_PROTO } from "../../examples/services.js";
import { LineSocket, bounded, rejection, sleep, startServer, connect } from "../helpers/net.js";

t.test("json, msgpack and protobuf clients share one port", async (t) => {
  const { server, url } = await startServer(t);
  server.register(new User(), { service: "user.User", proto: USER_PROTO });
  t.same(server.codecs(), ["json", "msgpack", "protobuf"]);
  const viaJson = await connect(t, url);
  const viaMsgpack = await connect(t, `${url}?codec=msgpack`);
  const viaProto = await connect(t, url, { codec: protobuf({ proto: USER_PROTO }) });
  const viaProtoOption = await connect(t, `${url}?codec=protobuf`, { proto: USER_PROTO });
  t.same(await viaJson.call("Arith.Divide", { A: 7, B: 2 }), { Quo: 3, Rem: 1 });
  t.same(await viaMsgpack.call("Arith.Divide", { A: 7, B: 2 }), { Quo: 3, Rem: 1 });
  const user = { id: "2", name: "小王", phone: "13200001111" };
  t.same(await viaProto.call("user.User.GetUser", { id: "2" }), user);
  t.same(await viaProtoOption.call("user.User.GetUser", { id: "2" }), user);
  t.same(await viaJson.call("user.User.GetUser", { id: "2" }), user, "a proto service answers JSON callers too");
});

t.test("the preface is exactly NRPC, version 1, the codec's name; the ack NRPC, 1, status", async (t) => {
  const { port } = await startServer(t);
  const raw = await LineSocket.connect(t, port);
  t.same([...encodeHello("msgpack")], [0x4e, 0x52, 0x50, 0x43, 0x01, 0x07, ...Buffer.from("msgpack")]);
  await raw.write(encodeHello("msgpack"));
  await waitBytes(raw, 7);
  t.same([...Buffer.from(raw.pendingText, "latin1")].slice(0, 7), [0x4e, 0x52, 0x50, 0x43, 0x01, 0x00, 0x00], "ok ack, no message");
});

t.test("an unknown codec is refused with a readable reason", async (t) => {
  const { port, url } = await startServer(t);
  const raw = await LineSocket.connect(t, port);
  await raw.write(encodeHello("xml"));
  t.ok(await raw.waitClosed(5_000), "the server hangs up");
  t.match(raw.pendingText, /^NRPC\x01\x01.rpc: this port does not speak codec "xml" \(it speaks json, msgpack\)$/s);
  // A port limited to JSON refuses msgpack clients through the ack; the client sees why.
  const server = new Server({ codecs: [json] });
  server.register(new (class Echo { Hi() { return "hi"; } })());
  const only = await server.listen("tcp://127.0.0.1:0");
  t.teardown(() => server.close());
  const c = await connect(t, `${only.url}?codec=msgpack`);
  const err = await rejection(c.call("Echo.Hi"));
  t.equal(err.code, Code.UNIMPLEMENTED);
  t.equal(err.fromPeer, true);
  t.match(err.message, /does not speak codec "msgpack"/);
  // And ?codec= on listen limits that port.
  const limited = await (await startServer(t)).server.listen("tcp://127.0.0.1:0?codec=msgpack");
  const j = await connect(t, limited.url.replace(/\?.*$/, ""));
  t.match((await rejection(j.call("Arith.Multiply", { A: 1, B: 1 }))).message, /does not speak JSON/);
  t.equal(await (await connect(t, `${url}?codec=msgpack`)).call("Arith.Multiply", { A: 2, B: 2 }), 4);
});

t.test("a preface that stalls is cut after handshakeTimeout; an idle connection is not", async (t) => {
  const { url, port } = await startServer(t, { server: { handshakeTimeout: 200 } });
  const idle = await LineSocket.connect(t, port);
  const stalled = await LineSocket.connect(t, port);
  await stalled.write(Buffer.from("NRP"));
  t.ok(await stalled.waitClosed(5_000), "half a preface is cut");
  await sleep(400);
  t.equal(idle.isClosed, false, "a connection that has sent nothing (a Go client before its first call) stays");
  await idle.write('{"method":"Arith.Multiply","params":[{"A":3,"B":3}],"id":0}\n');
  t.equal(await idle.readLine(), '{"id":0,"result":9,"error":null}');
  t.equal(await (await connect(t, `${url}?codec=msgpack`)).call("Arith.Multiply", { A: 2, B: 5 }), 10, "the server still serves");
});

t.test("bad prefaces close only their own connection", async (t) => {
  const { url, port } = await startServer(t);
  const good = await connect(t, `${url}?codec=msgpack`);
  for (const bytes of [Buffer.from("NOPE!"), Buffer.from([0x4e, 0x52, 0x50, 0x43, 0x09, 0x01, 0x61]), Buffer.from([0x4e, 0x52, 0x50, 0x43, 0x01, 0x03, 0x41, 0x20, 0x21])]) {
    const raw = await LineSocket.connect(t, port);
    await raw.write(bytes);
    t.ok(await raw.waitClosed(5_000), `refused ${bytes.toString("hex")}`);
  }
  t.equal(await good.call("Arith.Multiply", { A: 6, B: 7 }), 42);
});

t.test("close() and shutdown() cut connections still in their preface", async (t) => {
  const server = new Server();
  server.register(new (class Echo { Hi() { return "hi"; } })());
  const l = await server.listen("tcp://127.0.0.1:0");
  const sock = net.connect({ host: "127.0.0.1", port: l.port! });
  await once(sock, "connect");
  sock.write(Buffer.from("NRPC"));
  await sleep(50);
  await bounded(server.shutdown(), 5_000, "shutdown");
  await bounded(once(sock, "close"), 5_000, "the socket closes");
  t.pass();
});

async function waitBytes(raw: LineSocket, n: number): Promise<void> {
  for (let i = 0; i < 100 && Buffer.byteLength(raw.pendingText, "latin1") < n; i++) await sleep(20);
}

t.test("dial options: unknown codec names and protobuf without a proto are clear errors", async (t) => {
  const { url } = await startServer(t);
  await t.rejects(dial(`${url}?codec=xml`), { message: /unknown codec "xml"/ });
  await t.rejects(dial(`${url}?codec=protobuf`), { message: /protobuf needs its \.proto/ });
  t.equal(msgpack.name, "msgpack");
});
