// A WebSocket peer that sends requests but never reads the replies cannot make the server buffer
// without bound: once the replies back up, the server stops reading that connection's requests.
import t from "tap";
import { WebSocket } from "ws";
import { Server } from "../../index.js";
import { bounded, sleep, waitFor } from "../helpers/net.js";

t.test("a WebSocket client that does not read: the server stops taking its requests", async (t) => {
  let served = 0;
  const big = "x".repeat(64 * 1024);
  const server = new Server();
  server.register({ Page() {
    served++;
    return big;
  } }, { name: "Big" });
  t.teardown(() => server.close());
  const { url } = await server.listen("ws://127.0.0.1:0/rpc");
  const ws = new WebSocket(url, "netrpc.json");
  t.teardown(() => ws.terminate());
  await bounded(new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  }), 5_000, "open");
  // Stop reading: the replies pile up in the kernel, then in ws, then the server must stop.
  ws.pause();
  const total = 4_000;
  for (let id = 0; id < total; id++) ws.send(`{"method":"Big.Page","params":[null],"id":${id}}`);
  await waitFor(() => served > 0, "first calls served");
  // Wait until the count stops moving (bounded), then check it is far below what was sent.
  let last = -1;
  for (let i = 0; i < 100 && served !== last; i++) {
    last = served;
    await sleep(100);
  }
  t.ok(served < total / 2, `the server stopped serving a peer that reads nothing (${served} of ${total} served)`);
  // Reading again lets every call through.
  let replies = 0;
  ws.on("message", () => replies++);
  ws.resume();
  await waitFor(() => replies === total, "every reply once the client reads", 60_000);
  t.equal(served, total);
});
