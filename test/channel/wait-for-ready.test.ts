// Calls while the channel has no ready connection: fail fast with UNAVAILABLE naming the last
// connection error, or (waitForReady) wait for READY within the deadline. Calls in flight on a
// connection that dies end UNAVAILABLE and are never retried.
import t from "tap";
import { Code, dial, RpcError } from "../../index.js";
import { backend } from "../helpers/backends.js";
import { bounded, rejection, waitFor, type Teardown } from "../helpers/net.js";

const FAST = { initial: 20, multiplier: 1.6, jitter: 0.2, max: 100 };

/** A backend that is down (its port known, nothing listening). */
async function down(t: Teardown) {
  const b = await backend(t, "127.0.0.1");
  await b.kill();
  return b;
}

t.test("fail fast: UNAVAILABLE at once, naming the connection error", async (t) => {
  const b = await down(t);
  const eager = await rejection(dial(`static:///${b.hostPort}`, { backoff: FAST }), "an eager dial");
  t.equal(eager.code, Code.UNAVAILABLE, "an eager dial rejects UNAVAILABLE when every address failed");
  t.match(eager.message, /ECONNREFUSED/);

  const client = await dial(`static:///${b.hostPort}`, { backoff: FAST, lazy: true });
  t.teardown(() => client.close());
  const first = await rejection(client.call("Who.Name"), "the first call");
  t.equal(first.code, Code.UNAVAILABLE, "the call that started connecting fails when the attempt does");
  t.match(first.message, /^rpc: no connection is ready: dial tcp:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/, "naming the last connection error");
  t.equal(first.fromPeer, false);
  await waitFor(() => client.getState() === "TRANSIENT_FAILURE", "TRANSIENT_FAILURE");
  const again = await rejection(client.call("Who.Name", undefined, { timeout: 10_000 }), "a call in TRANSIENT_FAILURE");
  t.equal(again.code, Code.UNAVAILABLE, "a call in TRANSIENT_FAILURE fails without waiting for its deadline");
  t.equal(client.pending, 0, "nothing is left waiting");
});

t.test("waitForReady (per call) waits for READY, then is sent", async (t) => {
  const b = await down(t);
  const client = await dial(`static:///${b.hostPort}`, { backoff: FAST, lazy: true });
  t.teardown(() => client.close());
  let settled = false;
  const waiting = client.call<string>("Who.Name", undefined, { waitForReady: true, timeout: 20_000 }).finally(() => (settled = true));
  await waitFor(() => client.getState() === "TRANSIENT_FAILURE", "the channel fails to connect");
  await waitFor(() => client.getState() === "CONNECTING", "and retries");
  t.equal(settled, false, "the call still waits through TRANSIENT_FAILURE");
  t.equal(client.pending, 1, "and counts as pending");
  await b.restart();
  t.equal(await bounded(waiting, 10_000, "the waiting call"), "127.0.0.1", "sent once READY");
  t.equal(b.served, 1);
});

t.test("waitForReady (client default): the deadline ends the wait; a call may opt out", async (t) => {
  const b = await down(t);
  const client = await dial(`static:///${b.hostPort}`, { backoff: FAST, lazy: true, waitForReady: true });
  t.teardown(() => client.close());
  const late = await rejection(client.call("Who.Name", undefined, { timeout: 100 }), "a waiting call with a deadline");
  t.equal(late.code, Code.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED while waiting");
  t.match(late.message, /deadline of 100 ms exceeded/);
  t.equal(client.pending, 0, "it left the queue");
  await waitFor(() => client.getState() === "TRANSIENT_FAILURE", "TRANSIENT_FAILURE");
  const fast = await rejection(client.call("Who.Name", undefined, { waitForReady: false }), "a call that opts out");
  t.equal(fast.code, Code.UNAVAILABLE, "waitForReady: false fails fast");

  const controller = new AbortController();
  const aborted = client.call("Who.Name", undefined, { signal: controller.signal });
  await waitFor(() => client.pending === 1, "the call waits");
  controller.abort();
  t.equal((await rejection(aborted, "an aborted waiting call")).code, Code.CANCELLED, "an abort ends the wait with CANCELLED");
  t.equal(client.pending, 0);

  const closing = client.call("Who.Name", undefined, { timeout: 20_000 });
  await waitFor(() => client.pending === 1, "the call waits");
  await client.close();
  const closed = await rejection(closing, "a call waiting at close()");
  t.equal(closed.code, Code.CANCELLED);
  t.equal(closed.message, "rpc: client is closed");
});

t.test("a call in flight on a connection that dies ends UNAVAILABLE and is not retried", async (t) => {
  const b = await backend(t, "127.0.0.1");
  const client = await dial(`static:///${b.hostPort}`, { backoff: FAST, waitForReady: true });
  t.teardown(() => client.close());
  const held = client.call("Who.Work", { id: 1, ms: 20_000 }, { timeout: 30_000 });
  await waitFor(() => b.ids.has(1), "the call runs on the server");
  await b.kill();
  const err = await rejection(held, "the call in flight");
  t.ok(err instanceof RpcError);
  t.equal(err.code, Code.UNAVAILABLE, "UNAVAILABLE, although the client waits for ready");
  t.equal(err.fromPeer, false);
  await b.restart();
  b.reset();
  t.equal(await bounded(client.call("Who.Work", { id: 2 }, { timeout: 10_000 }), 10_000, "a new call"), "127.0.0.1", "new calls go out once it reconnects");
  t.same([...b.ids], [2], "the lost call was not sent again");
});
