// Targets, and the two seams a user can plug into: a resolver registered by scheme and a balancer
// registered by name, each exercised over real backends.
import t from "tap";
import {
  ConnectivityState,
  QUEUE_PICKER,
  RpcError,
  Code,
  dial,
  failingPicker,
  registerBalancer,
  registerResolver,
  type Balancer,
  type BalancerHelper,
  type Picker,
  type SubConnection,
  type Target,
} from "../../index.js";
import { parseResolverTarget, addressFor } from "../../core/channel/target.js";
import { resolverSchemes } from "../../core/channel/resolver.js";
import { backend, tally } from "../helpers/backends.js";
import { bounded, waitFor } from "../helpers/net.js";

t.test("resolver targets and plain addresses", async (t) => {
  const schemes = resolverSchemes();
  t.same([...["dns", "static", "passthrough"]].filter((s) => schemes.has(s)), ["dns", "static", "passthrough"], "built in");
  const dns = parseResolverTarget("dns:///api.test:7001?transport=grpc&codec=msgpack", schemes)!;
  t.match(dns, { scheme: "dns", authority: "", endpoint: "api.test:7001" });
  t.equal(dns.query.get("transport"), "grpc");
  t.equal(addressFor(dns, "10.0.0.7", 7001), "grpc://10.0.0.7:7001?codec=msgpack", "a resolved address keeps the codec");
  t.equal(addressFor(dns, "::1", 7001), "grpc://[::1]:7001?codec=msgpack", "IPv6 in brackets");
  const ws = parseResolverTarget("static:///a.test:80?transport=ws&path=rpc", schemes)!;
  t.equal(addressFor(ws, "a.test", 80), "ws://a.test:80/rpc", "?path= is the WebSocket path");
  t.equal(addressFor(parseResolverTarget("static:///a.test:1", schemes)!, "a.test", 1), "tcp://a.test:1", "tcp by default");
  for (const plain of ["127.0.0.1:7001", "tcp://127.0.0.1:7001", "ws://127.0.0.1:7001/rpc", "grpc://127.0.0.1:7001", "unix:app.sock", "https://x.test/a"]) {
    t.equal(parseResolverTarget(plain, schemes), undefined, `${plain} is a plain address`);
  }
});

t.test("static:/// and passthrough:/// over real backends; bad targets refused at dial", async (t) => {
  const a = await backend(t, "127.0.0.1");
  const b = await backend(t, "127.0.0.2");
  const both = await dial(`static:///${a.hostPort},${b.hostPort}`, { loadBalancing: "round_robin" });
  t.teardown(() => both.close());
  for (let i = 0; i < 100 && !(a.served > 0 && b.served > 0); i++) await bounded(both.call("Who.Name"), 5_000, "call");
  t.ok(a.served > 0 && b.served > 0, "round_robin over a static list reaches both");
  const pass = await dial(`passthrough:///tcp://${b.hostPort}?codec=msgpack`);
  t.teardown(() => pass.close());
  t.equal(await pass.call("Who.Name"), "127.0.0.2", "passthrough keeps the address whole, ?codec= included");

  await t.rejects(dial("static:///"), { name: "TypeError", message: /lists no address/ });
  await t.rejects(dial("static:///127.0.0.1"), { name: "TypeError", message: /is not host:port/ });
  await t.rejects(dial("static:///127.0.0.1:99999"), { name: "TypeError", message: /is not host:port/ });
  await t.rejects(dial("passthrough:///"), { name: "TypeError", message: /names no address/ });
  await t.rejects(dial("passthrough:///nope://x:1"), { name: "TypeError", message: /no transport for scheme "nope"/ });
  await t.rejects(dial("nope://127.0.0.1:1"), { name: "TypeError", message: /no transport for scheme "nope"/ }, "a plain address is checked at dial, as before");
});

t.test("registerResolver: a scheme of your own", async (t) => {
  const a = await backend(t, "127.0.0.1");
  const b = await backend(t, "127.0.0.3");
  const made: Target[] = [];
  let closed = 0;
  registerResolver("inventory", (target, listener) => {
    made.push(target);
    // Report later, never during the factory call (the channel may still be setting up).
    const timer = setTimeout(() => listener.addresses([a, b].map((x) => ({ address: `tcp://${x.hostPort}` }))), 0);
    return {
      resolveNow() {},
      close() {
        clearTimeout(timer);
        closed++;
      },
    };
  });
  t.throws(() => registerResolver("Bad Scheme", () => ({ resolveNow() {}, close() {} })), { name: "TypeError" });
  const client = await dial("inventory:///checkout?region=eu", { loadBalancing: "round_robin" });
  t.teardown(() => client.close());
  t.match(made.at(-1), { scheme: "inventory", endpoint: "checkout" });
  t.equal(made.at(-1)!.query.get("region"), "eu", "the resolver sees its own query parameters");
  await waitFor(() => client.getState() === "READY", "READY");
  const seen = new Set<string>();
  for (let i = 0; i < 200 && seen.size < 2; i++) seen.add(await client.call<string>("Who.Name"));
  t.same(seen, new Set(["127.0.0.1", "127.0.0.3"]), "both addresses it reported get calls");
  const before = closed;
  await client.close();
  t.ok(closed > before, "close() closes the resolver");
});

/**
 * A balancer of our own through the documented interface: connect to every address and send
 * every call to the last one (in the resolver's order) that is READY.
 */
class LastReady implements Balancer {
  readonly #helper: BalancerHelper;
  #subs: SubConnection[] = [];
  readonly events: string[] = [];

  constructor(helper: BalancerHelper) {
    this.#helper = helper;
    instances.push(this);
  }

  updateAddresses(addresses: readonly { address: string }[]): void {
    for (const sc of this.#subs) sc.close();
    this.#subs = addresses.map((address) => this.#helper.createSubConnection(address));
    for (const sc of this.#subs) sc.connect();
    this.#report();
  }

  subConnectionState(sc: SubConnection, state: ConnectivityState): void {
    this.events.push(`${new URL(sc.address.address).hostname} ${state}`);
    if (state === ConnectivityState.TRANSIENT_FAILURE) this.#helper.requestResolution();
    this.#report();
  }

  resolverError(err: RpcError): void {
    this.#helper.updateState(ConnectivityState.TRANSIENT_FAILURE, failingPicker(err), err);
  }

  close(): void {
    for (const sc of this.#subs) sc.close();
  }

  #report(): void {
    const ready = this.#subs.filter((sc) => sc.state === ConnectivityState.READY);
    const last = ready.at(-1);
    if (last) {
      const picker: Picker = { pick: () => ({ kind: "pick", subConnection: last }) };
      this.#helper.updateState(ConnectivityState.READY, picker);
    } else if (this.#subs.some((sc) => sc.state === ConnectivityState.CONNECTING || sc.state === ConnectivityState.IDLE)) {
      this.#helper.updateState(ConnectivityState.CONNECTING, QUEUE_PICKER);
    } else {
      const err = new RpcError(Code.UNAVAILABLE, `rpc: nothing ready (${this.#subs.at(-1)?.lastError?.message})`);
      this.#helper.updateState(ConnectivityState.TRANSIENT_FAILURE, failingPicker(err), err);
    }
  }
}
const instances: LastReady[] = [];

t.test("registerBalancer: a balancer of your own", async (t) => {
  registerBalancer("last_ready", (helper) => new LastReady(helper));
  const a = await backend(t, "127.0.0.1");
  const b = await backend(t, "127.0.0.2");
  const client = await dial(`static:///${a.hostPort},${b.hostPort}`, { loadBalancing: "last_ready" });
  t.teardown(() => client.close());
  await waitFor(() => instances.at(-1)!.events.filter((e) => e.endsWith("READY")).length === 2, "both connect");
  const counts = tally(await Promise.all(Array.from({ length: 20 }, () => client.call<string>("Who.Name"))));
  t.same([...counts], [["127.0.0.2", 20]], "every call goes to the last READY address");
  await b.kill();
  await waitFor(() => instances.at(-1)!.events.includes("127.0.0.2 TRANSIENT_FAILURE"), "the balancer hears of the drop");
  t.equal(await bounded(client.call("Who.Name"), 5_000, "after the drop"), "127.0.0.1", "and its next picker sends calls to the other");
  await a.kill();
  await waitFor(() => client.getState() === "TRANSIENT_FAILURE", "nothing is left");
  const err = await client.call("Who.Name").catch((e: unknown) => e);
  t.match(err, { code: Code.UNAVAILABLE, message: /^rpc: nothing ready/ }, "its own TRANSIENT_FAILURE error reaches the caller");
});
