// WebSocket keepalive from a Node client: ws pings with keepaliveTime, a server gone silent ends
// the pending call UNAVAILABLE, and an idle connection is not pinged unless permitted.
import t from "tap";
import { Code, Server, dial } from "../../index.js";
import { Arith, Slow } from "../../examples/services.js";
import { bounded, rejection, sleep, waitFor, type Teardown } from "../helpers/net.js";
import { silentProxy } from "../helpers/silent-proxy.js";

async function wsServer(t: Teardown): Promise<number> {
  // The server's own pings are off: only the client's keepalive can find the silence.
  const server = new Server({ keepaliveInterval: 0 });
  server.register(new Arith()).register(new Slow());
  t.teardown(() => server.close());
  return (await server.listen("ws://127.0.0.1:0/rpc")).port!;
}

t.test("a server gone silent: the pending call ends UNAVAILABLE with the keepalive's reason", async (t) => {
  const proxy = await silentProxy(t, await wsServer(t));
  const client = await dial(`ws://127.0.0.1:${proxy.port}/rpc`, { keepaliveTime: 50, keepaliveTimeout: 200 });
  t.teardown(() => client.close());
  t.equal(await client.call("Arith.Multiply", { A: 6, B: 7 }), 42, "calls work through the proxy");
  const pending = client.call("Slow.Sleep", 10_000);
  await waitFor(() => client.pending === 1, "the call is in flight");
  proxy.freeze();
  const err = await rejection(pending, "pending call", 10_000);
  t.equal(err.code, Code.UNAVAILABLE);
  t.equal(err.message, "rpc: keepalive: no ping ack within 200 ms");
  t.equal((await bounded(client.closed, 5_000, "client.closed")).message, err.message, "the client's end says the same");
});

t.test("without calls the client does not ping, unless keepalivePermitWithoutCalls", async (t) => {
  const port = await wsServer(t);
  const proxy = await silentProxy(t, port);
  const idle = await dial(`ws://127.0.0.1:${proxy.port}/rpc`, { keepaliveTime: 20, keepaliveTimeout: 100 });
  t.teardown(() => idle.close());
  const eager = await dial(`ws://127.0.0.1:${proxy.port}/rpc`, { keepaliveTime: 20, keepaliveTimeout: 100, keepalivePermitWithoutCalls: true });
  t.teardown(() => eager.close());
  proxy.freeze();
  const why = await bounded(eager.closed, 5_000, "the pinging client ends");
  t.equal(why.message, "rpc: keepalive: no ping ack within 100 ms", "a client pinging without calls finds the silence");
  // Time enough for several of the idle client's pings to time out, had it sent any.
  await sleep(300);
  t.equal(await Promise.race([idle.closed.then(() => "closed"), Promise.resolve("open")]), "open", "an idle client that does not ping is still open");
});
