// Keepalive on the stream transports (tcp here): ping and pong envelopes and the server's limit on
// how often a client may ping (a silent server on every transport: test/transports/keepalive-silent.test.ts).
import t from "tap";
import net from "node:net";
import { Code } from "../../index.js";
import { LineSocket, connect, rejection, startServer } from "../helpers/net.js";

t.test("a client that pings more often than the server allows is dropped with too_many_pings", async (t) => {
  const { url } = await startServer(t, { server: { keepaliveMinTime: 60_000 } });
  const client = await connect(t, url, { keepaliveTime: 10 });
  const err = await rejection(client.call("Slow.Sleep", 10_000), "call", 15_000);
  t.equal(err.code, Code.UNAVAILABLE, "as a GOAWAY is to gRPC clients");
  t.match(err.message, /too_many_pings: this server takes pings at most every 60000 ms.*; we pinged every 10 ms \(keepaliveTime\), the next connection pings every 20 ms/);
});

t.test("a client within the server's limit keeps its connection across many pings", async (t) => {
  const { url } = await startServer(t, { server: { keepaliveMinTime: 20 } });
  const client = await connect(t, url, { keepaliveTime: 40, keepaliveTimeout: 5_000 });
  t.equal(await client.call("Slow.Sleep", 400), 400, "a call spanning several pings");
  t.equal(await client.call("Arith.Multiply", { A: 2, B: 21 }), 42);
});

t.test("stream messages forgive pings, as data does on HTTP/2", async (t) => {
  const ticker = {
    async *Ticks(n: number) {
      for (let i = 0; i < n; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        yield i;
      }
    },
  };
  // Pings every 30 ms against a server that takes them every 500 ms at most: only the replies in between make that fine.
  const { url } = await startServer(t, { services: [[ticker, { name: "T" }]], server: { keepaliveMinTime: 500 } });
  const client = await connect(t, url, { keepaliveTime: 30 });
  let n = 0;
  for await (const _ of client.serverStream("T.Ticks", 40)) n++;
  t.equal(n, 40, "the stream outlives many pings");
});

t.test("the wire: pings answered at once; pings with no call in flight are refused by default", async (t) => {
  const { port } = await startServer(t);
  const raw = new LineSocket(net.connect(port, "127.0.0.1"));
  t.teardown(() => raw.destroy());
  t.same(JSON.parse(await raw.exchange(`{"id":1,"ping":true}`)), { id: 1, pong: true }, "the first ping");
  t.same(JSON.parse(await raw.exchange(`{"id":2,"ping":true}`)), { id: 2, pong: true }, "a strike");
  t.same(JSON.parse(await raw.exchange(`{"id":3,"ping":true}`)), { id: 3, pong: true }, "a second strike");
  const last = JSON.parse(await raw.exchange(`{"id":4,"ping":true}`));
  t.equal(last.id, null, "the server's last word about the connection");
  t.equal(last.code, Code.UNAVAILABLE);
  t.match(last.error, /too_many_pings: .*only while calls run/);
  t.ok(await raw.waitClosed(), "and the connection closes");
});
