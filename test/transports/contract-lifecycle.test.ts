// The transport contract, connection lifecycle: on every row of test/helpers/transports.ts, the
// server's end of a connection cut while calls and streams are pending (as a crashing server
// process would) ends every one of them with UNAVAILABLE, and shutdown() lets a running call
// finish while refusing new ones. The cases run in order on one server per transport: the
// hang-ups leave it serving, shutdown ends it.
import t from "tap";
import { Code, RpcError, dial } from "../../index.js";
import { bounded, rejection, waitFor } from "../helpers/net.js";
import { PROBE_STREAMS, Probe, ProbeState } from "../helpers/probe.js";
import { TRANSPORTS, dialRow, hangUp, listenOn } from "../helpers/transports.js";

/** How long pending calls may take to fail once their connection is cut. */
const HANG_UP_BOUND_MS = 5_000;

/** A call's outcome, caught at once so a rejection before we look is not unhandled. */
function outcome(p: Promise<unknown>): Promise<{ value: unknown } | { error: unknown }> {
  return p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

for (const row of TRANSPORTS) {
  t.test(`transport ${row.name}`, async (t) => {
    const state = new ProbeState();
    const { server, listener, url } = await listenOn(t, row, (s) => s.register(new Probe(state), PROBE_STREAMS));

    t.test("the server hangs up mid-call: every pending call ends with UNAVAILABLE", async (t) => {
      const client = await dialRow(t, row, url);
      const keys = ["h0", "h1", "h2"];
      const pending = keys.map((key) => outcome(client.call("Probe.Wait", { key })));
      await waitFor(() => keys.every((k) => state.started(k)), "every call is running on the server");
      t.equal(client.pending, keys.length, "three calls pending");
      t.ok(hangUp(listener) >= 1, "the server's end of the connection is destroyed");
      const settled = await bounded(Promise.all(pending), HANG_UP_BOUND_MS, "pending calls after the hang-up");
      settled.forEach((s, i) => {
        const err = "error" in s ? s.error : undefined;
        t.ok(err instanceof RpcError, `call ${i}: an RpcError`);
        t.equal((err as RpcError | undefined)?.code, Code.UNAVAILABLE, `call ${i}: UNAVAILABLE`);
        t.equal((err as RpcError | undefined)?.fromPeer, false, `call ${i}: raised locally`);
      });
      const closed = await bounded(client.closed, HANG_UP_BOUND_MS, "client.closed");
      t.equal(closed.code, Code.UNAVAILABLE, "the client's closed reason is UNAVAILABLE");
      const later = await rejection(client.call("Probe.Echo", "later"), "a call on the lost connection");
      t.equal(later.code, Code.UNAVAILABLE, "later calls on it fail the same way");
      await waitFor(() => keys.every((k) => state.aborted.has(k)), "the handlers' signals abort");
      const fresh = await dialRow(t, row, url);
      t.equal(await bounded(fresh.call("Probe.Echo", "again"), 10_000, "fresh"), "again", "the server serves new connections");
    });

    t.test("the server hangs up mid-stream: open streams of every kind end with UNAVAILABLE", async (t) => {
      const client = await dialRow(t, row, url);
      // Request generators that stay open until the end of the test, so the calls stay open.
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      t.teardown(() => release());
      const firstThenWait = async function* <T>(first: T) {
        yield first;
        await released;
      };

      // Endless never stops by itself: read one, then keep the call open by not reading.
      const held = client.serverStream<number>("Probe.Endless", { key: "hang-held" })[Symbol.asyncIterator]();
      const heldFirst = await bounded(held.next(), 10_000, "held stream's first message");
      t.equal(heldFirst.value, 0, "a server stream is open");
      const upload = outcome(client.clientStream("Probe.Drain", firstThenWait({ key: "hang-upload" })));
      let echoed = 0;
      const chat = outcome(
        (async () => {
          for await (const _ of client.bidiStream("Probe.Echoes", firstThenWait("hello"))) echoed++;
          throw new Error("the bidi stream ended without an error");
        })(),
      );
      await waitFor(() => state.counts.get("hang-upload") === 1 && echoed === 1, "the upload and the bidi stream are under way");

      t.ok(hangUp(listener) >= 1, "the server's end of the connection is destroyed");
      // Messages already in flight are still read; then the stream must fail, not end.
      const rest = outcome(
        (async () => {
          for (let i = 0; i < 100_000; i++) if ((await held.next()).done) throw new Error("the server stream ended without an error");
          throw new Error("the server stream neither failed nor ended");
        })(),
      );
      const [a, b, c] = await bounded(Promise.all([rest, upload, chat]), HANG_UP_BOUND_MS, "open streams after the hang-up");
      for (const [what, s] of [["server stream", a], ["client stream", b], ["bidi stream", c]] as const) {
        const err = "error" in s ? s.error : undefined;
        t.ok(err instanceof RpcError, `${what}: an RpcError (got ${String(err)})`);
        t.equal((err as RpcError | undefined)?.code, Code.UNAVAILABLE, `${what}: UNAVAILABLE`);
        t.equal((err as RpcError | undefined)?.fromPeer, false, `${what}: raised locally`);
      }
    });

    t.test("shutdown(): a running call finishes with its result, new calls are refused", async (t) => {
      const client = await dialRow(t, row, url);
      const running = outcome(client.call("Probe.Wait", { key: "running" }));
      await waitFor(() => state.started("running"), "the call is running on the server");

      let shutDown = false;
      const shutdown = server.shutdown().then(() => (shutDown = true));
      const late = await rejection(client.call("Probe.Echo", "late"), "a new call on the open connection");
      t.ok(late instanceof RpcError, "a new call on the open connection: an RpcError");
      t.equal(late.code, Code.UNAVAILABLE, "UNAVAILABLE");
      const fresh = await rejection(
        (async () => {
          const c = await dial(url, row.dialOptions);
          try {
            return await c.call("Probe.Echo", "new");
          } finally {
            await c.close();
          }
        })(),
        "a call on a new connection",
      );
      t.ok(fresh instanceof RpcError, "a new connection: an RpcError");
      t.equal(fresh.code, Code.UNAVAILABLE, "UNAVAILABLE");
      t.equal(shutDown, false, "shutdown waits for the running call");

      state.open("running");
      const done = await bounded(running, 10_000, "the running call");
      t.strictSame(done, { value: { key: "running", done: true } }, "the running call finishes with its result");
      await bounded(shutdown, 10_000, "shutdown");
      t.equal(shutDown, true, "shutdown resolves once it has");
    });
  });
}
