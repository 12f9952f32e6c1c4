// WebSocket keepalive from a Node client: ws pings with keepaliveTime, and an idle connection is
// not pinged unless permitted (a silent server: test/transports/keepalive-silent.test.ts).
import t from "tap";
import { Server, dial } from "../../index.js";
import { Arith, Slow } from "../../examples/services.js";
import { bounded, sleep, type Teardown } from "../helpers/net.js";
import { silentProxy } from "../helpers/silent-proxy.js";

async function wsServer(t: Teardown): Promise<number> {
  // The server's own pings are off: only the client's keepalive can find the silence.
  const server = new Server({ keepaliveInterval: 0 });
  server.register(new Arith()).register(new Slow());
  t.teardown(() => server.close());
  return (await server.listen("ws://127.0.0.1:0/rpc")).port!;
}

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
