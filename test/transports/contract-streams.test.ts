// The transport contract, streams: every row of test/helpers/transports.ts carries all three
// streaming kinds with the same results, whether HTTP/2 frames them (grpc://, grpcs://) or
// netrpc's own stream envelopes do (tcp, unix, memory, tls, ws, wss): order, end of stream, a
// status after messages, a caller that stops reading, many streams at once, and flow control
// in both directions.
import t from "tap";
import { Code, RpcError } from "../../index.js";
import { bounded, rejection, waitFor } from "../helpers/net.js";
import { PROBE_STREAMS, Probe, ProbeState, turns } from "../helpers/probe.js";
import { TRANSPORTS, dialRow, listenOn } from "../helpers/transports.js";

/** Every message of `it`, failing past `max` messages or `ms` milliseconds. */
async function collect<T>(it: AsyncIterable<T>, what: string, max = 10_000, ms = 10_000): Promise<T[]> {
  const out: T[] = [];
  await bounded(
    (async () => {
      for await (const m of it) {
        out.push(m);
        if (out.length > max) throw new Error(`${what}: more than ${max} messages`);
      }
    })(),
    ms,
    what,
  );
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

for (const row of TRANSPORTS) {
  t.test(`transport ${row.name}`, async (t) => {
    const state = new ProbeState();
    const { url } = await listenOn(t, row, (s) => s.register(new Probe(state), PROBE_STREAMS));
    const client = await dialRow(t, row, url);

    t.test("server stream: every message in order, then the end", async (t) => {
      t.strictSame(await collect(client.serverStream<number>("Probe.Range", { n: 100 }), "Range 100"), range(100), "100 messages in order");
      t.strictSame(await collect(client.serverStream<number>("Probe.Range", { n: 0 }), "Range 0"), [], "an empty stream ends at once");
    });

    t.test("client stream: every request reaches the handler, then one reply", async (t) => {
      const numbers = async function* () {
        for (let i = 1; i <= 100; i++) yield i;
      };
      t.strictSame(await bounded(client.clientStream("Probe.Sum", numbers()), 10_000, "Sum"), { total: 5050, count: 100 }, "from an async generator");
      t.strictSame(await bounded(client.clientStream("Probe.Sum", [1, 2, 3]), 10_000, "Sum array"), { total: 6, count: 3 }, "from an array");
      t.strictSame(await bounded(client.clientStream("Probe.Sum", []), 10_000, "Sum empty"), { total: 0, count: 0 }, "no requests at all");
    });

    t.test("bidi stream: each reply arrives before the next request is sent (ping-pong)", async (t) => {
      const replies: unknown[] = [];
      const sent: number[] = [];
      const requests = async function* () {
        for (let i = 0; i < 10; i++) {
          sent.push(i);
          yield { i };
          // The next request goes only once this one's reply is in.
          await waitFor(() => replies.length > i, `reply ${i}`);
        }
      };
      await bounded(
        (async () => {
          for await (const r of client.bidiStream("Probe.Echoes", requests())) {
            replies.push(r);
            if (replies.length > 10) throw new Error("more replies than requests");
          }
        })(),
        20_000,
        "ping-pong",
      );
      t.strictSame(replies, range(10).map((i) => ({ i })), "ten rounds, each reply the request it answers");
      t.strictSame(sent, range(10), "every request was sent");
      t.strictSame(await collect(client.bidiStream("Probe.Echoes", ["a", "b", "c"]), "bidi array"), ["a", "b", "c"], "requests all sent up front come back too");
    });

    t.test("a status after messages: the messages, then an RpcError from the handler", async (t) => {
      const got: number[] = [];
      const err = await rejection(
        (async () => {
          for await (const n of client.serverStream<number>("Probe.FailAfter", { n: 3 })) {
            got.push(n);
            if (got.length > 3) break;
          }
        })(),
        "FailAfter",
      );
      t.strictSame(got, [0, 1, 2], "every message sent before the error arrives");
      t.ok(err instanceof RpcError, "an RpcError");
      t.equal(err.codeName, "FAILED_PRECONDITION", "the handler's code");
      t.equal(err.message, "stopped after 3", "the handler's message");
      t.equal(err.fromPeer, true, "from the server");
    });

    t.test("a caller that stops reading cancels the stream: the handler's signal aborts", async (t) => {
      const got: number[] = [];
      await bounded(
        (async () => {
          for await (const n of client.serverStream<number>("Probe.Endless", { key: "endless" })) {
            got.push(n);
            if (got.length === 3) break;
          }
        })(),
        10_000,
        "read three",
      );
      t.strictSame(got, [0, 1, 2], "three messages read");
      await waitFor(() => state.aborted.has("endless"), "the handler's signal aborts");
      const reason = state.aborted.get("endless");
      t.ok(reason instanceof RpcError, "with an RpcError");
      t.equal((reason as RpcError).code, Code.CANCELLED, "CANCELLED");
      t.equal(await bounded(client.call("Probe.Echo", "after"), 10_000, "after"), "after", "the connection still serves calls");
    });

    t.test("streams and unary calls share one connection at once", async (t) => {
      const streams = range(20).map((k) => collect(client.serverStream<number>("Probe.Range", { n: 50 + k }), `Range ${50 + k}`));
      const uploads = range(10).map((k) => bounded(client.clientStream("Probe.Sum", range(k + 1)), 10_000, `Sum ${k}`));
      const chats = range(5).map((k) => collect(client.bidiStream("Probe.Echoes", range(k + 1).map((i) => `${k}:${i}`)), `Echoes ${k}`));
      const calls = range(20).map((k) => bounded(client.call("Probe.Echo", k), 10_000, `Echo ${k}`));
      const [s, u, c, e] = await Promise.all([Promise.all(streams), Promise.all(uploads), Promise.all(chats), Promise.all(calls)]);
      t.strictSame(s, range(20).map((k) => range(50 + k)), "every server stream got its own messages");
      t.strictSame(u, range(10).map((k) => ({ total: (k * (k + 1)) / 2, count: k + 1 })), "every upload its own sum");
      t.strictSame(c, range(5).map((k) => range(k + 1).map((i) => `${k}:${i}`)), "every bidi stream its own echoes");
      t.strictSame(e, range(20), "every unary call its own reply");
    });

    t.test("flow control: a fast handler is held to a slow reader, a fast upload to a slow handler", async (t) => {
      // Without flow control the producer would run to the end (all of MESSAGES ahead) before
      // the slow side took a tenth of them; with it, it waits for the reader within a window.
      const MESSAGES = 1000;
      const SIZE = 4096;
      const BOUND = MESSAGES / 2;
      let consumed = 0;
      let maxAhead = 0;
      let outOfOrder = 0;
      await bounded(
        (async () => {
          for await (const m of client.serverStream<{ i: number; text: string }>("Probe.Flood", { key: "flood", n: MESSAGES, size: SIZE })) {
            if (m.i !== consumed || m.text.length !== SIZE) outOfOrder++;
            consumed++;
            maxAhead = Math.max(maxAhead, (state.counts.get("flood") ?? 0) - consumed);
            if (consumed > MESSAGES) break;
            await turns(3);
          }
        })(),
        60_000,
        "slow reader",
      );
      t.equal(consumed, MESSAGES, "every message read");
      t.equal(outOfOrder, 0, "in order, whole");
      t.ok(maxAhead <= BOUND, `the handler stayed within ${maxAhead} messages of the reader (bound ${BOUND} of ${MESSAGES})`);

      const text = "u".repeat(SIZE);
      let uploaded = 0;
      let upAhead = 0;
      const requests = async function* () {
        while (uploaded < MESSAGES) {
          uploaded++;
          upAhead = Math.max(upAhead, uploaded - (state.counts.get("drain") ?? 0));
          yield { key: "drain", text };
        }
      };
      t.strictSame(await bounded(client.clientStream("Probe.Drain", requests()), 60_000, "slow handler"), { n: MESSAGES }, "every request handled");
      t.ok(upAhead <= BOUND, `the upload stayed within ${upAhead} messages of the handler (bound ${BOUND} of ${MESSAGES})`);
    });
  });
}
