// A server that goes silent (a proxy stops forwarding, nothing is closed) is found by the
// client's keepalive on every transport: the pending call ends UNAVAILABLE with the reason, and
// the client's end says the same.
import t from "tap";
import { Code, Server, dial } from "../../index.js";
import { Arith, Slow } from "../../examples/services.js";
import { bounded, rejection, waitFor } from "../helpers/net.js";
import { silentProxy } from "../helpers/silent-proxy.js";

// Each kind of ping: a ping envelope (tcp), HTTP/2 PING (grpc), a WebSocket ping (ws).
const TRANSPORTS = [
  { name: "tcp", listen: "tcp://127.0.0.1:0", dial: (port: number) => `tcp://127.0.0.1:${port}` },
  { name: "grpc", listen: "grpc://127.0.0.1:0", dial: (port: number) => `grpc://127.0.0.1:${port}` },
  { name: "ws", listen: "ws://127.0.0.1:0/rpc", dial: (port: number) => `ws://127.0.0.1:${port}/rpc` },
];

for (const transport of TRANSPORTS) {
  t.test(`${transport.name}: a server gone silent is found by the client's pings`, async (t) => {
    // The server's own pings are off and any ping rate is allowed: only the client's keepalive acts.
    const server = new Server({ keepaliveInterval: 0, keepaliveMinTime: 0 });
    server.register(new Arith()).register(new Slow());
    t.teardown(() => server.close());
    const { port } = await server.listen(transport.listen);
    const proxy = await silentProxy(t, port!);
    const client = await dial(transport.dial(proxy.port), { keepaliveTime: 50, keepaliveTimeout: 200 });
    t.teardown(() => client.close());
    t.equal(await client.call("Slow.Sleep", 120), 120, "a call spanning pings works through the proxy");
    const pending = client.call("Slow.Sleep", 10_000);
    await waitFor(() => client.pending === 1, "the call is in flight");
    proxy.freeze();
    const err = await rejection(pending, "pending call", 10_000);
    t.equal(err.code, Code.UNAVAILABLE);
    t.equal(err.message, "rpc: keepalive: no ping ack within 200 ms");
    t.equal((await bounded(client.closed, 5_000, "client.closed")).message, err.message, "the client's end says the same");
  });
}
