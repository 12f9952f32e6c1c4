// The server's ping policy holds on WebSocket too: a client that pings too often is closed with
// 1008 and too_many_pings; one within the policy is left alone.
import t from "tap";
import { WebSocket } from "ws";
import { Server } from "../../index.js";
import { bounded } from "../helpers/net.js";

async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, "netrpc.json");
  await bounded(new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  }), 5_000, "open");
  return ws;
}

t.test("a WebSocket client pinging more often than allowed is closed with 1008 too_many_pings", async (t) => {
  const server = new Server({ keepaliveMinTime: 60_000 });
  t.teardown(() => server.close());
  const { url } = await server.listen("ws://127.0.0.1:0/rpc");
  const ws = await open(url);
  t.teardown(() => ws.terminate());
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  for (let i = 0; i < 10 && ws.readyState === ws.OPEN; i++) ws.ping();
  const { code, reason } = await bounded(closed, 5_000, "close");
  t.equal(code, 1008, "policy violation");
  t.match(reason, /^rpc: too_many_pings: this server takes pings at most every 60000 ms, and only while calls run/);
});

t.test("pings within the policy are answered and the connection stays", async (t) => {
  const server = new Server({ keepaliveMinTime: 0, keepalivePermitWithoutCalls: true });
  t.teardown(() => server.close());
  const { url } = await server.listen("ws://127.0.0.1:0/rpc");
  const ws = await open(url);
  t.teardown(() => ws.terminate());
  let pongs = 0;
  ws.on("pong", () => pongs++);
  for (let i = 0; i < 10; i++) ws.ping();
  await bounded(new Promise<void>((resolve) => {
    const check = () => (pongs === 10 ? resolve() : setTimeout(check, 5));
    check();
  }), 5_000, "pongs");
  t.equal(ws.readyState, ws.OPEN, "still open");
});
