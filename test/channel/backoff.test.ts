// The reconnect schedule of connection-backoff.md, checked as computed delays (an injected random
// source pins the jitter), and a sub-connection following it over real refused connections.
import t from "tap";
import { Backoff, DEFAULT_BACKOFF, backoffOptions } from "../../core/channel/backoff.js";
import { Subchannel, type Connector } from "../../core/channel/subchannel.js";
import { ConnectivityState } from "../../core/channel/states.js";
import { StreamClientConnection } from "../../core/client-conn.js";
import { DuplexChannel } from "../../core/duplex-channel.js";
import { json, tcp } from "../../index.js";
import { backend } from "../helpers/backends.js";
import { waitFor } from "../helpers/net.js";

const take = (b: Backoff, n: number) => Array.from({ length: n }, () => b.next());

t.test("defaults: 1 s, ×1.6, ±20 %, at most 120 s", async (t) => {
  t.same(DEFAULT_BACKOFF, { initial: 1000, multiplier: 1.6, jitter: 0.2, max: 120_000 });
  // random() = 0.5 is the middle of the spread: no jitter at all.
  const middle = new Backoff({}, () => 0.5);
  t.same(take(middle, 6), [1000, 1600, 2560, 4096, 6554, 10486], "each backoff is the last × 1.6");
  const capped = take(middle, 20);
  t.equal(capped.at(-1), 120_000, "it stops growing at MAX_BACKOFF");
  t.ok(capped.every((d) => d <= 120_000), "and never passes it without jitter");
});

t.test("jitter spreads each backoff after the first by up to 20 % either way", async (t) => {
  const low = new Backoff({}, () => 0);
  const high = new Backoff({}, () => 0.999_999);
  t.same(take(low, 3), [1000, 1280, 2048], "random 0: 20 % early (the first deadline is never jittered)");
  t.same(take(high, 3), [1000, 1920, 3072], "random → 1: 20 % late");
  const atMax = new Backoff({ initial: 100_000 }, () => 0);
  t.same(take(atMax, 3), [100_000, 96_000, 96_000], "at the cap the spread is around 120 s");
});

t.test("reset() after a successful connection starts the schedule again", async (t) => {
  const b = new Backoff({}, () => 0.5);
  take(b, 5);
  b.reset();
  t.same(take(b, 2), [1000, 1600]);
});

t.test("options are checked", async (t) => {
  t.same(backoffOptions({ initial: 10, multiplier: 2, jitter: 0, max: 40 }), { initial: 10, multiplier: 2, jitter: 0, max: 40 });
  t.throws(() => backoffOptions({ initial: -1 }), { name: "RangeError", message: /backoff\.initial/ });
  t.throws(() => backoffOptions({ multiplier: 0.5 }), { name: "RangeError", message: /backoff\.multiplier/ });
  t.throws(() => backoffOptions({ jitter: 1.5 }), { name: "RangeError", message: /backoff\.jitter/ });
  t.throws(() => backoffOptions({ initial: 100, max: 50 }), { name: "RangeError", message: /backoff\.max/ });
});

/** A connector over real TCP that records each attempt's connect timeout. */
function recordingConnector(timeouts: number[]): Connector {
  return async (address, attempt) => {
    timeouts.push(attempt.connectTimeout);
    const url = new URL(address.address);
    const { stream, peer } = await tcp.dial(url, { connectTimeout: attempt.connectTimeout, signal: attempt.signal });
    const session = json.fork();
    return { connection: new StreamClientConnection(new DuplexChannel(stream, session, "json", 1 << 20), session), peer };
  };
}

t.test("a sub-connection retries on the schedule, each attempt given max(backoff, MIN_CONNECT_TIMEOUT)", async (t) => {
  const b = await backend(t, "127.0.0.1");
  await b.kill(); // a port nothing listens on: every attempt is refused
  const timeouts: number[] = [];
  const states: string[] = [];
  const sc = new Subchannel(
    { address: `tcp://127.0.0.1:${b.port}` },
    { connector: recordingConnector(timeouts), backoff: { initial: 10, multiplier: 2, jitter: 0, max: 80 }, reconnect: true, connectTimeout: 1, onState: (_sc, s) => states.push(s) },
  );
  t.teardown(() => sc.close());
  sc.connect();
  await waitFor(() => timeouts.length >= 6, "six attempts");
  t.same(timeouts.slice(0, 6), [10, 20, 40, 80, 80, 80], "the attempt timeout follows the backoff when it is longer than connectTimeout");
  t.match(sc.lastError, { code: 14, message: /ECONNREFUSED/ }, "the last error says why");
  t.same(states.slice(0, 4), ["CONNECTING", "TRANSIENT_FAILURE", "CONNECTING", "TRANSIENT_FAILURE"]);

  // The server comes back: the next attempt connects, and the schedule starts over.
  await b.restart();
  await waitFor(() => sc.state === ConnectivityState.READY, "READY once the server is back");
  const before = timeouts.length;
  await b.kill();
  await waitFor(() => timeouts.length >= before + 3, "three attempts after the drop");
  t.same(timeouts.slice(before, before + 3), [10, 20, 40], "reset after a successful connection");
});

t.test("a sub-connection that does not reconnect stays in TRANSIENT_FAILURE after one attempt", async (t) => {
  const b = await backend(t, "127.0.0.1");
  await b.kill();
  const timeouts: number[] = [];
  const states: string[] = [];
  const sc = new Subchannel(
    { address: `tcp://127.0.0.1:${b.port}` },
    { connector: recordingConnector(timeouts), backoff: { initial: 10, multiplier: 2, jitter: 0, max: 80 }, reconnect: false, connectTimeout: 5_000, onState: (_sc, s) => states.push(s) },
  );
  t.teardown(() => sc.close());
  sc.connect();
  await waitFor(() => sc.state === ConnectivityState.TRANSIENT_FAILURE, "the attempt fails");
  t.same(timeouts, [5_000], "one attempt, with connectTimeout as it is");
  // Give a retry every chance to happen (the backoff is 10 ms) before looking again.
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(timeouts, [5_000], "and no second");
  t.same(states, ["CONNECTING", "TRANSIENT_FAILURE"]);
});
