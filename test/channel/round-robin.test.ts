// round_robin over three real backends on 127.0.0.1, 127.0.0.2 and 127.0.0.3: an even spread,
// a backend killed under load (only its own calls in flight fail), and its return on the same port.
import dc from "node:diagnostics_channel";
import t from "tap";
import { Code, RpcError, type CallContext, type Client } from "../../index.js";
import { backend, tally, type Backend } from "../helpers/backends.js";
import { bounded, connect, sleep, type Teardown } from "../helpers/net.js";

const FAST = { initial: 20, multiplier: 1.6, jitter: 0.2, max: 200 };

async function three(t: Teardown): Promise<Backend[]> {
  return Promise.all(["127.0.0.1", "127.0.0.2", "127.0.0.3"].map((host) => backend(t, host)));
}

const staticTarget = (backends: readonly Backend[]) => `static:///${backends.map((b) => b.hostPort).join(",")}`;

/** Runs `total` calls, `concurrency` at a time; each gets its index. */
async function load<T>(total: number, concurrency: number, call: (i: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = new Array(total);
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      try {
        results[i] = { status: "fulfilled", value: await call(i) };
      } catch (reason) {
        results[i] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/**
 * Calls Who.Name until each of `names` has answered (so each backend's connection is READY);
 * failed calls are allowed, as while a backend comes back. At most `max` calls, 5 ms apart.
 */
async function untilAllAnswer(client: Client, names: readonly string[], max = 1_000): Promise<void> {
  const seen = new Set<string>();
  for (let i = 0; i < max && !names.every((n) => seen.has(n)); i++) {
    try {
      seen.add(await bounded(client.call<string>("Who.Name"), 5_000, "warm-up call"));
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      await sleep(5);
    }
  }
  if (!names.every((n) => seen.has(n))) throw new Error(`only ${[...seen].join(", ")} answered within ${max} calls`);
}

t.test("3,000 calls spread evenly (within 10 %) over three backends", async (t) => {
  const backends = await three(t);
  const client = await connect(t, staticTarget(backends), { loadBalancing: "round_robin", backoff: FAST });
  t.equal(client.getState(), "READY");
  await untilAllAnswer(client, backends.map((b) => b.name));
  for (const b of backends) b.reset();
  const results = await bounded(load(3_000, 50, () => client.call<string>("Who.Name")), 60_000, "3,000 calls");
  const names = results.map((r) => (r.status === "fulfilled" ? r.value : "failed"));
  const counts = tally(names);
  t.equal(counts.get("failed") ?? 0, 0, "no call failed");
  for (const b of backends) {
    const n = counts.get(b.name) ?? 0;
    t.ok(n >= 900 && n <= 1100, `${b.name} answered ${n} of 3,000 (1,000 ± 10 %)`);
    t.equal(b.served, n, `${b.name}'s own count agrees`);
  }
});

t.test("a backend killed under load: only calls sent to it fail (UNAVAILABLE); the rest go to the live ones; it comes back on the same port", async (t) => {
  const backends = await three(t);
  const [, victim] = backends as [Backend, Backend, Backend];
  const client = await connect(t, staticTarget(backends), { loadBalancing: "round_robin", backoff: FAST });
  await untilAllAnswer(client, backends.map((b) => b.name));

  // Where the channel sent each call, by the id in its params.
  const sentTo = new Map<number, string>();
  const onPick = (message: unknown) => {
    const { address, context } = message as { address: string; context: CallContext };
    const id = Number(context.metadata["call-id"]);
    if (Number.isInteger(id)) sentTo.set(id, new URL(address).hostname);
  };
  dc.subscribe("netrpc:channel:pick", onPick);
  t.teardown(() => dc.unsubscribe("netrpc:channel:pick", onPick));

  const total = 1_500;
  let done = 0;
  let killed: Promise<void> | undefined;
  const results = await bounded(
    load(total, 30, async (id) => {
      // Kill the victim a third of the way in, while calls are running on every backend.
      if (id === 500) killed = victim.kill();
      try {
        return await client.call<string>("Who.Work", { id, ms: 5 }, { metadata: { "call-id": String(id) }, timeout: 10_000 });
      } finally {
        done++;
      }
    }),
    60_000,
    "the load",
  );
  await killed;
  t.equal(done, total, "every call settled");

  const failed = results.flatMap((r, id) => (r.status === "rejected" ? [{ id, err: r.reason as RpcError }] : []));
  t.ok(failed.length > 0, `calls in flight on the killed backend failed (${failed.length})`);
  for (const { id, err } of failed) {
    if (!(err instanceof RpcError) || err.code !== Code.UNAVAILABLE || sentTo.get(id) !== victim.host) {
      t.fail(`call ${id} failed with ${String(err)} after being sent to ${sentTo.get(id)}`);
    }
  }
  t.ok(
    failed.every(({ id, err }) => err.code === Code.UNAVAILABLE && sentTo.get(id) === victim.host),
    "every failed call had been sent to the killed backend, and ended UNAVAILABLE",
  );
  const live = backends.filter((b) => b !== victim);
  t.ok(
    failed.every(({ id }) => live.every((b) => !b.ids.has(id))),
    "no failed call was retried on a live backend",
  );
  const served = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  t.equal(served.length + failed.length, total, "the rest were answered");
  const lateIds = results.map((_r, id) => id).filter((id) => id >= 1_000);
  t.ok(
    lateIds.every((id) => sentTo.get(id) !== victim.host),
    "once the channel saw it go, no call was sent to the killed backend",
  );
  t.ok(
    lateIds.every((id) => results[id]!.status === "fulfilled"),
    "and every later call was answered by the live ones",
  );

  // Back on the same port: the sub-connection's next attempt reconnects and it is in rotation again.
  await victim.restart();
  for (const b of backends) b.reset();
  await untilAllAnswer(client, backends.map((b) => b.name));
  const again = await bounded(load(300, 10, () => client.call<string>("Who.Name")), 30_000, "300 calls");
  const counts = tally(again.map((r) => (r.status === "fulfilled" ? r.value : "failed")));
  t.equal(counts.get("failed") ?? 0, 0, "no call failed after the restart");
  for (const b of backends) {
    const n = counts.get(b.name) ?? 0;
    t.ok(n >= 90 && n <= 110, `${b.name} answered ${n} of 300`);
  }
});

t.test("pick_first (the default) sends every call to the first address that connects", async (t) => {
  const backends = await three(t);
  const client = await connect(t, staticTarget(backends), { backoff: FAST });
  const names = await Promise.all(Array.from({ length: 30 }, () => client.call<string>("Who.Name")));
  t.same(new Set(names), new Set([backends[0]!.name]), "all on the first");
  // The first goes away: the next pass connects to the second.
  await backends[0]!.kill();
  await untilAllAnswer(client, [backends[1]!.name]);
  const after = await Promise.all(Array.from({ length: 30 }, () => client.call<string>("Who.Name")));
  t.same(new Set(after), new Set([backends[1]!.name]), "all on the second");
});
