// The browser client in a real headless Chromium: transports/browser.ts bundled by esbuild for
// the browser platform, served with a page from node:http, talking WebSocket to a Node Server.
//
// The page (PAGE below) holds the calls in plain JS and hands plain values back; every result
// is asserted here in Node. Without Chromium the file is skipped, except in CI (CI=true), where
// that is a failure.
import t from "tap";
import { Server, Code, loadRoot, type CallContext } from "../../index.js";
import { Arith, COUNTER_STREAMS, Counter, Slow, User, UserServer, USER_PROTO } from "../../examples/services.js";
import { bounded } from "../helpers/net.js";
import { CHROMIUM_MISSING_REASON, bundleForBrowser, chromiumAvailable, launchChromium, openPage, serveStatic } from "../helpers/browser.js";

/** Echoes the call's metadata, bytes as "bytes:<hex>", so the reply says what arrived as bytes. */
class Echo {
  Metadata(_: unknown, ctx: CallContext) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(ctx.metadata)) out[k] = Array.isArray(v) ? v.map(show) : show(v);
    return out;
  }

  /** A client stream: the sum of every number sent (registered as "client"). */
  async Total(numbers: AsyncIterable<number>): Promise<number> {
    let total = 0;
    for await (const n of numbers) total += n;
    return total;
  }
}
const show = (v: string | Uint8Array) => (typeof v === "string" ? v : `bytes:${Buffer.from(v).toString("hex")}`);

// Plain JS run by the page: no TypeScript, so nothing the Node-side compiler adds reaches it.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>netrpc browser test</title>
<link rel="icon" href="data:,">
<script type="module">
import * as netrpc from "/netrpc.js";

const clients = new Map();
const client = (name) => {
  const c = clients.get(name);
  if (!c) throw new Error("no client " + name);
  return c;
};
const failure = (e) => ({
  isRpcError: e instanceof netrpc.RpcError,
  isError: e instanceof Error,
  code: e && e.code,
  codeName: e && netrpc.Code[e.code],
  message: e && e.message,
  fromPeer: e && e.fromPeer,
});
// Metadata specs from Node: {"k-bin": {bytes: [..]}} becomes a Uint8Array here, in the page.
const metadataOf = (spec) => {
  if (!spec) return undefined;
  const md = {};
  for (const [k, v] of Object.entries(spec)) md[k] = v && typeof v === "object" && "bytes" in v ? new Uint8Array(v.bytes) : v;
  return md;
};
const codecOf = (name, descriptor) => {
  if (name === "protobuf") return netrpc.protobuf({ root: descriptor });
  return netrpc[name];
};

window.harness = {
  exports: () => Object.keys(netrpc).sort(),
  globals: () => ({ Buffer: typeof globalThis.Buffer, process: typeof globalThis.process }),
  async dial(name, url, descriptor) {
    try {
      clients.set(name, await netrpc.dial(url, { codec: codecOf(name, descriptor), connectTimeout: 10000 }));
      return { ok: true };
    } catch (e) {
      return { err: failure(e) };
    }
  },
  async dialFailure(url) {
    try {
      const c = await netrpc.dial(url, { connectTimeout: 10000 });
      await c.close();
      return { ok: true };
    } catch (e) {
      return { err: failure(e) };
    }
  },
  async call(name, method, params, options) {
    const opts = options ? { ...options, metadata: metadataOf(options.metadata) } : {};
    try {
      return { ok: await client(name).call(method, params, opts) };
    } catch (e) {
      return { err: failure(e) };
    }
  },
  // The caller aborts at once: the call fails with CANCELLED, whether or not it reached the server.
  async aborted(name, method, params) {
    const controller = new AbortController();
    const call = client(name).call(method, params, { signal: controller.signal });
    controller.abort();
    try {
      return { ok: await call };
    } catch (e) {
      return { err: failure(e) };
    }
  },
  // A client of its own whose interceptor adds metadata to every call.
  async intercepted(url, method) {
    const tagging = (next) => (req, ctx) => {
      ctx.metadata["x-from"] = "interceptor";
      return next(req, ctx);
    };
    let c;
    try {
      c = await netrpc.dial(url, { interceptors: [tagging], connectTimeout: 10000 });
      return { ok: await c.call(method, null) };
    } catch (e) {
      return { err: failure(e) };
    } finally {
      await c?.close();
    }
  },
  async proxy(name, service, method, params) {
    try {
      return { ok: await client(name).service(service)[method](params) };
    } catch (e) {
      return { err: failure(e) };
    }
  },
  async clientStream(name, method, requests) {
    try {
      return { ok: await client(name).clientStream(method, requests) };
    } catch (e) {
      return { err: failure(e) };
    }
  },
  async serverStream(name, method, params, stopAfter) {
    const items = [];
    try {
      for await (const v of client(name).serverStream(method, params)) {
        items.push(v);
        if (items.length === stopAfter) break;
      }
      return { ok: items };
    } catch (e) {
      return { items, err: failure(e) };
    }
  },
  async bidi(name, method, requests) {
    const items = [];
    try {
      for await (const v of client(name).bidiStream(method, requests)) items.push(v);
      return { ok: items };
    } catch (e) {
      return { items, err: failure(e) };
    }
  },
  // Each request goes out only after the reply to the one before: the stream is live both ways.
  async pingPong(name, method, values) {
    const items = [];
    let release = () => {};
    let turn = Promise.resolve();
    async function* requests() {
      for (const v of values) {
        await turn;
        turn = new Promise((resolve) => (release = resolve));
        yield v;
      }
    }
    try {
      for await (const v of client(name).bidiStream(method, requests())) {
        items.push(v);
        release();
      }
      return { ok: items };
    } catch (e) {
      return { items, err: failure(e) };
    }
  },
  async close(name) {
    const c = client(name);
    await c.close();
    const why = await c.closed;
    let after;
    try {
      after = { ok: await c.call("Arith.Multiply", { A: 1, B: 1 }) };
    } catch (e) {
      after = { err: failure(e) };
    }
    return { closed: failure(why), after };
  },
};
window.harnessReady = true;
</script>
<p>netrpc browser test page</p>
`;

/** What the page hands back for one call: the value, or the error as plain fields. */
interface Failure {
  isRpcError: boolean;
  isError: boolean;
  code: number;
  codeName: string;
  message: string;
  fromPeer: boolean;
}
interface Outcome<T = unknown> {
  ok?: T;
  items?: unknown[];
  err?: Failure;
}

if (!chromiumAvailable()) {
  if (process.env.CI === "true") t.fail(`${CHROMIUM_MISSING_REASON} (CI=true, so the browser tests must run)`);
  else t.plan(0, `skipped: ${CHROMIUM_MISSING_REASON}`);
} else {
  const bundle = await bundleForBrowser();

  t.test("the browser entry bundles for the browser platform without node: modules", async (t) => {
    t.same(bundle.inputs.filter((input) => input.startsWith("node:")), [], "no node: module among the bundle's inputs");
    t.same(bundle.external, [], "nothing left external: the bundle stands alone");
    t.ok(bundle.inputs.some((input) => input.endsWith("transports/browser.ts")), "the entry itself is bundled");
  });

  const server = new Server();
  server.register(new UserServer()).register(new Arith()).register(new Slow());
  server.register(new Echo(), { streams: { Total: "client" } });
  server.register(new Counter(), COUNTER_STREAMS);
  server.register(new User(), { service: "user.User", proto: USER_PROTO });
  const listener = await server.listen("ws://127.0.0.1:0/rpc");
  t.teardown(() => server.close());
  const wsUrl = listener.url;

  const base = await serveStatic(t, {
    "/": { type: "text/html; charset=utf-8", body: PAGE },
    "/netrpc.js": { type: "text/javascript; charset=utf-8", body: bundle.code },
  });
  const browser = await launchChromium(t);
  const { page, errors } = await openPage(browser, `${base}/`, "window.harnessReady === true");
  t.teardown(() => page.close().catch(() => {}));

  /** Runs harness[op](...args) in the page, bounded. */
  const run = <T = Outcome>(op: string, ...args: unknown[]): Promise<T> =>
    bounded(page.evaluate(([op, args]) => (window as unknown as { harness: Record<string, (...a: unknown[]) => unknown> }).harness[op as string]!(...(args as unknown[])), [op, args] as const) as Promise<T>, 30_000, `page ${op}`);

  t.test("the page runs the bundle as a real browser would", async (t) => {
    t.same(await run("globals"), { Buffer: "undefined", process: "undefined" }, "no Node globals in the page");
    const names = await run<string[]>("exports");
    for (const name of ["Client", "Code", "RpcError", "dial", "json", "msgpack", "protobuf"]) t.ok(names.includes(name), `the entry exports ${name}`);
  });

  t.test("dial refuses what a browser cannot reach", async (t) => {
    const grpc = await run("dialFailure", "grpc://127.0.0.1:1");
    t.ok(grpc.err?.isError, "grpc:// is refused");
    t.match(grpc.err?.message, /ws:\/\/|wss:\/\//, "the refusal names the schemes that work");
    const tcp = await run("dialFailure", "tcp://127.0.0.1:1");
    t.ok(tcp.err?.isError, "tcp:// is refused");
  });

  for (const codec of ["json", "msgpack"] as const) {
    t.test(`${codec} over WebSocket from the page`, async (t) => {
      const dialed = await run("dial", codec, wsUrl);
      t.same(dialed, { ok: true }, "dial");
      // Without a connection every call below would fail the same way: one failure says it.
      if (!dialed.ok) return;

      t.test("unary calls", async (t) => {
        t.same(await run("call", codec, "UserServer.GetUser", { id: "1" }), { ok: { Id: "1", Name: "bala", Phone: "13100001111" } });
        t.same(await run("call", codec, "UserServer.GetUser", { id: "2" }), { ok: { Id: "2", Name: "小王", Phone: "13200001111" } }, "non-ASCII text crosses intact");
        t.same(await run("call", codec, "Arith.Multiply", { A: 7, B: 8 }), { ok: 56 });
        t.same(await run("proxy", codec, "Arith", "Divide", { A: 17, B: 5 }), { ok: { Quo: 3, Rem: 2 } }, "through a service proxy");
      });

      t.test("errors arrive as RpcError with the server's code and message", async (t) => {
        const divide = await run("call", codec, "Arith.Divide", { A: 1, B: 0 });
        t.match(divide.err, { isRpcError: true, code: Code.UNKNOWN, codeName: "UNKNOWN", message: "divide by zero", fromPeer: true }, "a handler's plain Error");
        const missing = await run("call", codec, "UserServer.GetUser", { id: "9" });
        t.match(missing.err, { isRpcError: true, code: Code.NOT_FOUND, message: "user not found", fromPeer: true }, "a handler's RpcError keeps its code");
        const unknownMethod = await run("call", codec, "Arith.Nope", {});
        t.match(unknownMethod.err, { isRpcError: true, code: Code.UNIMPLEMENTED, codeName: "UNIMPLEMENTED", message: "rpc: can't find method Arith.Nope", fromPeer: true });
        const unknownService = await run("call", codec, "Nope.X", {});
        t.match(unknownService.err, { isRpcError: true, code: Code.UNIMPLEMENTED, message: "rpc: can't find service Nope.X" });
        const late = await run("call", codec, "Slow.Sleep", 5_000, { timeout: 50 });
        t.match(late.err, { isRpcError: true, code: Code.DEADLINE_EXCEEDED }, "the caller's deadline");
        const aborted = await run("aborted", codec, "Slow.Sleep", 5_000);
        t.match(aborted.err, { isRpcError: true, code: Code.CANCELLED }, "the caller's AbortSignal");
        t.same(await run("call", codec, "Arith.Multiply", { A: 2, B: 3 }), { ok: 6 }, "the connection serves on after errors");
      });

      t.test("metadata, with bytes under -bin keys", async (t) => {
        const md = { "trace-bin": { bytes: [0, 1, 254, 255] }, plain: "text", many: ["a", "b"] };
        t.same(await run("call", codec, "Echo.Metadata", null, { metadata: md }), { ok: { "trace-bin": "bytes:0001feff", plain: "text", many: ["a", "b"] } });
      });

      t.test("client streaming", async (t) => {
        t.same(await run("clientStream", codec, "Echo.Total", [1, 2, 3, 4]), { ok: 10 });
        t.same(await run("clientStream", codec, "Echo.Total", []), { ok: 0 }, "no requests");
      });

      t.test("server streaming", async (t) => {
        t.same(await run("serverStream", codec, "Counter.Count", 5), { ok: [0, 1, 2, 3, 4] });
        t.same(await run("serverStream", codec, "Counter.Count", 0), { ok: [] }, "an empty stream ends cleanly");
        t.same(await run("serverStream", codec, "Counter.Count", 1000, 3), { ok: [0, 1, 2] }, "the page stops reading early");
        const bad = await run("serverStream", codec, "Counter.Count", -1);
        t.same(bad.items, [], "no replies before the error");
        t.match(bad.err, { isRpcError: true, code: Code.INVALID_ARGUMENT, message: /Counter\.Count takes 0\.\.1000/, fromPeer: true }, "the handler's error ends the stream");
        t.same(await run("call", codec, "Arith.Multiply", { A: 3, B: 3 }), { ok: 9 }, "the connection serves on after streams");
      });

      t.test("bidi streaming", async (t) => {
        t.same(await run("bidi", codec, "Counter.Sum", [1, 2, 3, 4]), { ok: [1, 3, 6, 10] });
        t.same(await run("bidi", codec, "Counter.Sum", []), { ok: [] }, "no requests, no replies");
        t.same(await run("pingPong", codec, "Counter.Sum", [5, 10, 20]), { ok: [5, 15, 35] }, "each request waits for the reply before it");
        const bad = await run("bidi", codec, "Counter.Sum", [1, "two"]);
        t.same(bad.items, [1], "the reply before the bad request");
        t.match(bad.err, { isRpcError: true, code: Code.INVALID_ARGUMENT, message: "rpc: Counter.Sum takes numbers", fromPeer: true });
      });

      t.test("close", async (t) => {
        const closed = await run<{ closed: Failure; after: Outcome }>("close", codec);
        t.match(closed.closed, { isRpcError: true, code: Code.CANCELLED }, "closed settles with CANCELLED");
        t.match(closed.after.err, { isRpcError: true, code: Code.CANCELLED, message: "rpc: client is closed" }, "calls after close fail");
      });
    });
  }

  t.test("interceptors run in the page", async (t) => {
    t.same(await run("intercepted", wsUrl, "Echo.Metadata"), { ok: { "x-from": "interceptor" } });
  });

  t.test("protobuf from a JSON descriptor (no .proto files in a browser)", async (t) => {
    const descriptor = loadRoot(USER_PROTO).toJSON();
    const dialed = await run("dial", "protobuf", wsUrl, descriptor);
    t.same(dialed, { ok: true }, "dial");
    if (!dialed.ok) return;
    t.same(await run("call", "protobuf", "user.User.GetUser", { id: "2" }), { ok: { id: "2", name: "小王", phone: "13200001111" } });
    const missing = await run("call", "protobuf", "user.User.GetUser", { id: "9" });
    t.match(missing.err, { isRpcError: true, code: Code.NOT_FOUND, message: "user not found", fromPeer: true });
    await run("close", "protobuf");
  });

  t.test("the page logged no errors", async (t) => {
    t.same(errors, []);
  });
}
