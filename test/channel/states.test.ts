// Connectivity states as connectivity-semantics-and-api.md documents them, on real sockets:
// the transitions a channel goes through, getState(tryToConnect), waitForStateChange, the idle
// timeout, and a plain address's single connection (READY until it is lost, then SHUTDOWN).
import net from "node:net";
import t from "tap";
import { Client, Code, ConnectivityState, dial, type DialOptions } from "../../index.js";
import { backend } from "../helpers/backends.js";
import { bounded, rejection, waitFor } from "../helpers/net.js";

const FAST = { initial: 20, multiplier: 1.6, jitter: 0.2, max: 100 };

/** The documented transitions (the table in connectivity-semantics-and-api.md). */
const ALLOWED = new Set([
  "IDLE>CONNECTING",
  "IDLE>SHUTDOWN",
  "CONNECTING>READY",
  "CONNECTING>TRANSIENT_FAILURE",
  "CONNECTING>IDLE",
  "CONNECTING>SHUTDOWN",
  "READY>TRANSIENT_FAILURE",
  "READY>IDLE",
  "READY>SHUTDOWN",
  "TRANSIENT_FAILURE>CONNECTING",
  "TRANSIENT_FAILURE>SHUTDOWN",
]);

function undocumented(states: readonly string[], from = "IDLE"): string[] {
  const bad: string[] = [];
  let last = from;
  for (const s of states) {
    if (!ALLOWED.has(`${last}>${s}`)) bad.push(`${last}>${s}`);
    last = s;
  }
  return bad;
}

async function recorded(target: string, options: DialOptions = {}) {
  const seen: string[] = [];
  const client = await dial(target, { backoff: FAST, ...options, onStateChange: (state) => seen.push(state) });
  return { client, seen };
}

t.test("IDLE → CONNECTING → READY → TRANSIENT_FAILURE → CONNECTING → … → READY → SHUTDOWN", async (t) => {
  const b = await backend(t, "127.0.0.1");
  const { client, seen } = await recorded(`passthrough:///tcp://${b.hostPort}`, { lazy: true });
  t.teardown(() => client.close());
  t.equal(client.getState(), ConnectivityState.IDLE, "a lazy dial returns IDLE");
  t.same(seen, [], "and has not connected");

  t.equal(await client.call("Who.Name"), "127.0.0.1", "the first call connects");
  t.same(seen, ["CONNECTING", "READY"], "IDLE → CONNECTING → READY");

  await b.kill();
  await waitFor(() => seen.length > 2, "a change after the drop");
  t.equal(seen[2], "TRANSIENT_FAILURE", "the connection drops: READY → TRANSIENT_FAILURE");
  await waitFor(() => seen.filter((s) => s === "TRANSIENT_FAILURE").length >= 3, "retries while the server is down");
  t.same(seen.slice(3, 6), ["CONNECTING", "TRANSIENT_FAILURE", "CONNECTING"], "each retry after the backoff: CONNECTING, then TRANSIENT_FAILURE again");

  await b.restart();
  await waitFor(() => client.getState() === ConnectivityState.READY, "READY again once the server is back");
  t.equal(await client.call("Who.Name"), "127.0.0.1", "calls work again");
  await client.close();
  t.equal(client.getState(), ConnectivityState.SHUTDOWN, "SHUTDOWN after close()");
  t.equal(seen.at(-1), "SHUTDOWN");
  t.same(undocumented(seen), [], "every transition is one the document allows");
  t.equal((await bounded(client.closed, 5_000, "closed")).code, Code.CANCELLED, "closed settles only now, with CANCELLED");
});

t.test("getState(true) leaves IDLE without a call; waitForStateChange resolves on a change or false at its deadline", async (t) => {
  const b = await backend(t, "127.0.0.1");
  const { client, seen } = await recorded(`static:///${b.hostPort}`, { lazy: true });
  t.teardown(() => client.close());
  t.equal(client.getState(), "IDLE");
  const changed = client.waitForStateChange("IDLE", Date.now() + 5_000);
  t.equal(client.getState(true), "CONNECTING", "tryToConnect starts connecting");
  t.equal(await bounded(changed, 5_000, "wait"), true, "the waiter saw the change");
  await waitFor(() => client.getState() === "READY", "READY without any call");
  t.equal(b.served, 0, "no call was made");
  t.equal(await client.waitForStateChange("IDLE", Date.now() + 5_000), true, "a state that already differs: true at once");
  t.equal(await client.waitForStateChange("READY", Date.now() + 20), false, "no change before the deadline: false");
  t.equal(await client.waitForStateChange("READY", new Date(Date.now() - 1)), false, "a deadline already past: false");
  const drop = client.waitForStateChange("READY", Date.now() + 5_000);
  await b.kill();
  t.equal(await bounded(drop, 5_000, "wait for the drop"), true, "the drop is a change");
  t.not(client.getState(), "READY");
  const removed: string[] = [];
  const stop = client.onStateChange((s) => removed.push(s));
  stop();
  await client.close();
  t.same(removed, [], "a removed listener hears nothing");
  t.equal(seen.at(-1), "SHUTDOWN", "an added one does");
});

t.test("idleTimeout: unused connections close (IDLE) and the next call reconnects", async (t) => {
  const b = await backend(t, "127.0.0.1");
  const { client, seen } = await recorded(`static:///${b.hostPort}`, { idleTimeout: 50 });
  t.teardown(() => client.close());
  t.same(seen, ["CONNECTING", "READY"], "dial connected first");
  // A call running longer than the timeout keeps the channel from going idle under it.
  t.equal(await client.call("Who.Work", { id: 1, ms: 200 }), "127.0.0.1");
  t.notOk(seen.includes("IDLE"), "not IDLE while a call was running");
  await waitFor(() => client.getState() === "IDLE", "IDLE once unused");
  t.equal(client.pending, 0);
  t.equal(await client.call("Who.Name"), "127.0.0.1", "the next call reconnects");
  t.same(seen.slice(2, 5), ["IDLE", "CONNECTING", "READY"]);
  t.same(undocumented(seen), []);
});

t.test("a plain address is one connection: READY until it is lost, then SHUTDOWN with why", async (t) => {
  const b = await backend(t, "127.0.0.1");
  const { client, seen } = await recorded(b.hostPort);
  t.teardown(() => client.close());
  t.equal(client.getState(), "READY");
  await b.kill();
  const why = await bounded(client.closed, 5_000, "closed");
  t.equal(why.code, Code.UNAVAILABLE, "closed settles with the loss");
  t.equal(client.getState(), "SHUTDOWN");
  t.same(seen, ["CONNECTING", "READY", "SHUTDOWN"]);
  await b.restart();
  const later = await rejection(client.call("Who.Name"), "a call after the loss");
  t.equal(later, why, "later calls fail with the same error, even with the server back");

  // A Client on a stream you connected yourself reports the same way.
  const socket = net.connect({ host: "127.0.0.1", port: b.port });
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const own = new Client(socket);
  t.equal(own.getState(), "READY");
  const changed = own.waitForStateChange("READY", Date.now() + 5_000);
  await own.close();
  t.equal(await changed, true);
  t.equal(own.getState(), "SHUTDOWN");
});

t.test("channel options are checked at dial", async (t) => {
  const b = await backend(t, "127.0.0.1");
  await t.rejects(dial(b.hostPort, { idleTimeout: 1_000 }), { name: "TypeError", message: /idleTimeout needs a channel that reconnects/ });
  await t.rejects(dial(`static:///${b.hostPort}`, { loadBalancing: "weighted" }), { name: "TypeError", message: /unknown loadBalancing "weighted" \(known: .*pick_first.*round_robin/ });
  await t.rejects(dial(`static:///${b.hostPort}`, { backoff: { multiplier: 0 } }), { name: "RangeError", message: /backoff\.multiplier/ });
  await t.rejects(dial(`static:///${b.hostPort}`, { waitForReady: "yes" as unknown as boolean }), { name: "TypeError", message: /waitForReady must be a boolean/ });
  await t.rejects(dial(`static:///${b.hostPort}`, { idleTimeout: -1 }), { name: "RangeError", message: /idleTimeout/ });
});
