// The transport contract, unary calls: every row of test/helpers/transports.ts (TCP on 127.0.0.1
// port 0, a unix socket, TLS, WebSocket, HTTP/2, the in-memory pair) serves the same Probe service and
// must give the same answers: echo, a thousand calls running at once on one client, replies in
// completion order, and messages at exactly the size limit and one byte over, both ways.
// Streams are in contract-streams.test.ts; hang-ups and shutdown in contract-lifecycle.test.ts.
import t from "tap";
import { Code, RpcError } from "../../index.js";
import { bounded, rejection, waitFor } from "../helpers/net.js";
import { PROBE_STREAMS, Probe, ProbeState } from "../helpers/probe.js";
import { TRANSPORTS, dialRow, listenOn, replySize, requestSize, textLengthFor } from "../helpers/transports.js";

/** The server's message limit in this file: small, so a message at the limit is cheap to make. */
const LIMIT = 16 * 1024;
/** The client's reply limit in the reply-size case. */
const REPLY_LIMIT = 4000;

for (const row of TRANSPORTS) {
  t.test(`transport ${row.name}`, async (t) => {
    const state = new ProbeState();
    const { url } = await listenOn(t, row, (s) => s.register(new Probe(state), PROBE_STREAMS), { maxMessageSize: LIMIT });
    // One client for the cases that leave their connection as they found it.
    const client = await dialRow(t, row, url);

    t.test("echo: values of every JSON kind come back as sent", async (t) => {
      const values: unknown[] = [null, true, false, 0, -1.5, 2 ** 53 - 1, "", "héllo 😀\n\t\"", [], [1, "two", [3, null]], {}, { a: { b: [null, false, "c"] } }, "x".repeat(5000)];
      for (const v of values) {
        t.strictSame(await bounded(client.call("Probe.Echo", v), 10_000, "echo"), v, `${JSON.stringify(v).slice(0, 40)} comes back`);
      }
    });

    t.test("a thousand calls running at once on one client, each answered with its own reply", async (t) => {
      const N = 1000;
      // Hold answers only once all N are running on the server, newest first.
      state.expectHolds(N);
      const calls = Array.from({ length: N }, (_, i) => client.call("Probe.Hold", { i, text: `call ${i} é😀` }));
      t.equal(client.pending, N, "all pending at once");
      const results = await bounded(Promise.allSettled(calls), 30_000, `${N} calls`);
      const wrong: string[] = [];
      results.forEach((r, i) => {
        const ok = r.status === "fulfilled" && JSON.stringify(r.value) === JSON.stringify({ i, text: `call ${i} é😀` });
        if (!ok) wrong.push(`#${i}: ${r.status === "fulfilled" ? JSON.stringify(r.value) : String(r.reason)}`);
      });
      t.equal(wrong.length, 0, `every call got its own reply${wrong.length ? ": " + wrong.slice(0, 5).join("; ") : ""}`);
      t.equal(client.pending, 0, "nothing left pending");
    });

    t.test("out-of-order completion: a slow call started first finishes after fast ones", async (t) => {
      let slowSettled = false;
      const slow = client.call("Probe.Wait", { key: "slow" });
      const slowOutcome = slow.finally(() => (slowSettled = true));
      slowOutcome.catch(() => {});
      await waitFor(() => state.started("slow"), "the slow call is running on the server");
      const fast = await bounded(Promise.all(Array.from({ length: 10 }, (_, i) => client.call("Probe.Echo", i))), 10_000, "fast calls");
      t.strictSame(fast, Array.from({ length: 10 }, (_, i) => i), "the fast calls were answered");
      t.equal(slowSettled, false, "while the slow call, sent first on the same connection, is still running");
      state.open("slow");
      t.strictSame(await bounded(slowOutcome, 10_000, "slow call"), { key: "slow", done: true }, "then the slow call finishes with its result");
    });

    t.test("requests: exactly maxMessageSize passes, one byte over is RESOURCE_EXHAUSTED", async (t) => {
      const size = (n: number) => requestSize(row, "Probe.Echo", "x".repeat(n));
      const n = textLengthFor(size, LIMIT);
      t.equal(size(n + 1), LIMIT + 1, `a text of ${n + 1} makes a message one byte over`);
      // Fresh clients: their first request carries call id 0, as sized.
      const atLimit = await dialRow(t, row, url);
      t.equal(await bounded(atLimit.call("Probe.Echo", "x".repeat(n)), 10_000, "at the limit"), "x".repeat(n), `a request of exactly ${LIMIT} bytes is served`);

      const over = await dialRow(t, row, url);
      const err = await rejection(over.call("Probe.Echo", "x".repeat(n + 1)), "one byte over");
      t.ok(err instanceof RpcError, "an RpcError");
      t.equal(err.codeName, "RESOURCE_EXHAUSTED", "one byte over: RESOURCE_EXHAUSTED");
      t.equal(err.fromPeer, true, "told by the server");
      if (row.oversizeClosesConnection) {
        const closed = await bounded(over.closed, 5_000, "the oversize connection closes");
        t.equal(closed.code, Code.RESOURCE_EXHAUSTED, "that connection closed with the same reason");
      } else {
        t.equal(await bounded(over.call("Probe.Echo", "still here"), 10_000, "after"), "still here", "that connection serves on");
      }
      t.equal(await bounded(client.call("Probe.Echo", "other"), 10_000, "other"), "other", "other connections are unaffected");
    });

    t.test("replies: exactly the client's maxMessageSize passes, one byte over fails locally", async (t) => {
      const size = (n: number) => replySize(row, "Probe.Echo", "y".repeat(n));
      const n = textLengthFor(size, REPLY_LIMIT);
      const atLimit = await dialRow(t, row, url, { maxMessageSize: REPLY_LIMIT });
      t.equal(await bounded(atLimit.call("Probe.Echo", "y".repeat(n)), 10_000, "at the limit"), "y".repeat(n), `a reply of exactly ${REPLY_LIMIT} bytes is taken`);
      const over = await dialRow(t, row, url, { maxMessageSize: REPLY_LIMIT });
      const err = await rejection(over.call("Probe.Echo", "y".repeat(n + 1)), "reply one byte over");
      t.ok(err instanceof RpcError, "an RpcError");
      t.equal(err.codeName, "RESOURCE_EXHAUSTED", "one byte over: RESOURCE_EXHAUSTED");
      t.equal(err.fromPeer, false, "raised by the client itself");
      t.equal(await bounded(client.call("Probe.Echo", "fine"), 10_000, "other"), "fine", "the server is unaffected");
    });
  });
}
