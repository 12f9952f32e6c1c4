// dns:///host:port with an injected lookup (node:dns's shape, `all: true`): every A and AAAA
// record is used, a changed answer is followed (on the interval, and when connections fail), a
// failing lookup is retried, and ?transport= / ?codec= say how each address is dialed.
import t from "tap";
import { Code, dial, type LookupFunction } from "../../index.js";
import { backend, commonFreePort, tally } from "../helpers/backends.js";
import { bounded, rejection, sleep, waitFor, type Teardown } from "../helpers/net.js";
import type { Client } from "../../index.js";

const FAST = { initial: 20, multiplier: 1.6, jitter: 0.2, max: 100 };

/** A lookup answering from `answer` (mutable), recording each question. */
function fakeDns(answer: { current: string[] }) {
  const questions: Array<{ hostname: string; options: unknown }> = [];
  const lookup: LookupFunction = async (hostname, options) => {
    questions.push({ hostname, options });
    return answer.current.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return { lookup, questions };
}

async function onOnePort(t: Teardown, hosts: readonly string[]) {
  const port = await commonFreePort(hosts);
  return Promise.all(hosts.map((host) => backend(t, host, port)));
}

/** Calls until every one of `names` has answered (failures allowed while the channel moves). */
async function untilAnswered(client: Client, names: readonly string[], max = 1_000): Promise<void> {
  const seen = new Set<string>();
  for (let i = 0; i < max && !names.every((n) => seen.has(n)); i++) {
    try {
      seen.add(await bounded(client.call<string>("Who.Name"), 5_000, "call"));
    } catch {
      await sleep(5);
    }
  }
  if (!names.every((n) => seen.has(n))) throw new Error(`only ${[...seen].join(", ")} answered`);
}

const names = (client: Client, n: number) => Promise.all(Array.from({ length: n }, () => client.call<string>("Who.Name")));

t.test("every record is used, and a changed answer is followed on resolveInterval", async (t) => {
  const [one, two, three] = await onOnePort(t, ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
  const answer = { current: ["127.0.0.1", "127.0.0.2"] };
  const dns = fakeDns(answer);
  const client = await dial(`dns:///backends.test:${one!.port}`, { lookup: dns.lookup, loadBalancing: "round_robin", resolveInterval: 20, backoff: FAST });
  t.teardown(() => client.close());
  t.same(dns.questions[0], { hostname: "backends.test", options: { all: true } }, "node:dns lookup's question: the host, all: true");
  await untilAnswered(client, [one!.name, two!.name]);
  t.same(new Set(await names(client, 20)), new Set([one!.name, two!.name]), "both records get calls");

  answer.current = ["127.0.0.3"];
  await untilAnswered(client, [three!.name]);
  await waitFor(() => dns.questions.length >= 3, "still resolving on the interval");
  t.same(new Set(await names(client, 20)), new Set([three!.name]), "only the new answer gets calls");
});

t.test("an address dropped from the answer: calls in flight on it finish, new calls go to the new answer", async (t) => {
  const [one, two] = await onOnePort(t, ["127.0.0.1", "127.0.0.2"]);
  const answer = { current: ["127.0.0.1"] };
  const dns = fakeDns(answer);
  const client = await dial(`dns:///drain.test:${one!.port}`, { lookup: dns.lookup, resolveInterval: 20, backoff: FAST });
  t.teardown(() => client.close());
  const inFlight = client.call<string>("Who.Work", { id: 1, ms: 300 }, { timeout: 10_000 });
  await waitFor(() => one!.ids.has(1), "the call runs on the first address");
  answer.current = ["127.0.0.2"];
  await untilAnswered(client, [two!.name]);
  t.equal(await bounded(inFlight, 10_000, "the call in flight"), "127.0.0.1", "the call in flight on the dropped address was answered");
  await waitFor(() => client.pending === 0, "nothing left pending");
  t.same(new Set(await names(client, 10)), new Set([two!.name]), "new calls go to the new answer only");
});

t.test("A and AAAA records: IPv4 and IPv6 backends both get calls", async (t) => {
  const [v6, v4] = await onOnePort(t, ["::1", "127.0.0.1"]);
  const dns = fakeDns({ current: ["::1", "127.0.0.1"] });
  const client = await dial(`dns:///dual.test:${v4!.port}`, { lookup: dns.lookup, loadBalancing: "round_robin", backoff: FAST });
  t.teardown(() => client.close());
  await untilAnswered(client, [v6!.name, v4!.name]);
  const counts = tally(await names(client, 40));
  t.equal(counts.get("::1"), 20, "half over IPv6");
  t.equal(counts.get("127.0.0.1"), 20, "half over IPv4");
});

t.test("a failing connection asks for a new answer (at most once per minResolveInterval)", async (t) => {
  const [one, two] = await onOnePort(t, ["127.0.0.1", "127.0.0.2"]);
  const answer = { current: ["127.0.0.1"] };
  const dns = fakeDns(answer);
  const client = await dial(`dns:///moving.test:${one!.port}`, { lookup: dns.lookup, minResolveInterval: 0, backoff: FAST });
  t.teardown(() => client.close());
  t.equal(await client.call("Who.Name"), one!.name);
  const asked = dns.questions.length;
  answer.current = ["127.0.0.2"];
  await one!.kill();
  await untilAnswered(client, [two!.name]);
  t.ok(dns.questions.length > asked, "the drop made the channel resolve again");
  t.same(new Set(await names(client, 10)), new Set([two!.name]), "calls follow the new answer");

  // With a long minimum interval, retries keep failing but DNS is asked no more.
  const slowDns = fakeDns({ current: ["127.0.0.2"] });
  let failures = 0;
  const patient = await dial(`dns:///patient.test:${two!.port}`, {
    lookup: slowDns.lookup,
    minResolveInterval: 60_000,
    backoff: FAST,
    onStateChange: (s) => void (s === "TRANSIENT_FAILURE" && failures++),
  });
  t.teardown(() => patient.close());
  await two!.kill();
  await waitFor(() => failures >= 4, "several failed reconnects");
  t.equal(slowDns.questions.length, 1, "one lookup only: the rest are held back by minResolveInterval");
});

t.test("a lookup that fails: dial rejects UNAVAILABLE naming the host; later lookups are retried with backoff", async (t) => {
  const nowhere: LookupFunction = async (hostname) => {
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
  };
  const err = await rejection(dial("dns:///nowhere.test:7001", { lookup: nowhere, backoff: FAST }), "dial");
  t.equal(err.code, Code.UNAVAILABLE);
  t.match(err.message, /dns:\/\/\/nowhere\.test:7001: cannot resolve nowhere\.test: getaddrinfo ENOTFOUND/);

  const empty = await rejection(dial("dns:///empty.test:7001", { lookup: async () => [], backoff: FAST }), "dial");
  t.equal(empty.code, Code.UNAVAILABLE);
  t.match(empty.message, /no A or AAAA records for empty\.test/);

  const b = await backend(t, "127.0.0.1");
  let asked = 0;
  const flaky: LookupFunction = async (hostname) => {
    if (++asked < 3) throw new Error(`getaddrinfo EAI_AGAIN ${hostname}`);
    return [{ address: "127.0.0.1", family: 4 }];
  };
  const client = await dial(`dns:///flaky.test:${b.port}`, { lookup: flaky, backoff: FAST, lazy: true });
  t.teardown(() => client.close());
  const fast = await rejection(client.call("Who.Name"), "a call while DNS fails");
  t.equal(fast.code, Code.UNAVAILABLE);
  t.match(fast.message, /^rpc: no connection is ready: dns:\/\/\/flaky\.test:\d+: cannot resolve flaky\.test: getaddrinfo EAI_AGAIN/);
  t.equal(await bounded(client.call("Who.Name", undefined, { waitForReady: true, timeout: 10_000 }), 10_000, "waiting call"), "127.0.0.1", "a waiting call goes out once DNS answers");
  t.equal(asked, 3, "the lookup was retried until it answered");
});

t.test("?transport= and ?codec= pick how every resolved address is dialed", async (t) => {
  const b = await backend(t, "127.0.0.1");
  const dns = fakeDns({ current: ["127.0.0.1"] });
  const viaGrpc = await dial(`dns:///svc.test:${b.port}?transport=grpc&codec=msgpack`, { lookup: dns.lookup });
  t.teardown(() => viaGrpc.close());
  t.equal(await viaGrpc.call("Who.Name"), "127.0.0.1");
  t.equal(viaGrpc.peer?.transport, "grpc", "gRPC over HTTP/2");
  const viaWs = await dial(`static:///${b.hostPort}?transport=ws&codec=msgpack`);
  t.teardown(() => viaWs.close());
  t.equal(await viaWs.call("Who.Name"), "127.0.0.1");
  t.equal(viaWs.peer?.transport, "ws", "WebSocket");
  await t.rejects(dial(`dns:///svc.test:${b.port}?transport=unix`, { lookup: dns.lookup }), { name: "TypeError", message: /transport "unix" cannot be reached at a host and port/ });
  await t.rejects(dial("dns:///svc.test", { lookup: dns.lookup }), { name: "TypeError", message: /"svc\.test" is not host:port/ });
  await t.rejects(dial("dns://8.8.8.8/svc.test:7001", { lookup: dns.lookup }), { name: "TypeError", message: /a DNS server in the target is not supported/ });
});
