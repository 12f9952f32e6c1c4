// Server lifecycle: serveConn/serve/listen (tcp and unix), close() and shutdown(), interceptors on
// both sides, and option validation.
import t from "tap";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { mkdtemp, rm } from "node:fs/promises";
import { PassThrough } from "node:stream";
import { Server, dial, RpcError, Code, type CallContext, type Interceptor } from "../../index.js";
import { Arith } from "../../examples/services.js";
import { Watch } from "../helpers/watch.js";
import { LineSocket, bounded, rawServer, rejection, startServer, waitFor, type Teardown, connect } from "../helpers/net.js";

class Info {
  Peer(_: unknown, ctx: CallContext): unknown {
    return ctx.peer;
  }
  Meta(_: unknown, ctx: CallContext): unknown {
    return ctx.metadata;
  }
}

async function listenRaw(t: Teardown, server: net.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())));
  return `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

t.test("serveConn(socket) serves one connection and settles when it ends", async (t) => {
  const server = new Server().register(new Arith()).register(new Info());
  t.teardown(() => server.close());
  const served: Array<Promise<void>> = [];
  const url = await listenRaw(t, net.createServer((socket) => served.push(server.serveConn(socket))));
  const c = await dial(url);
  t.equal(await c.call("Arith.Multiply", { A: 3, B: 4 }), 12);
  t.match(await c.call("Info.Peer"), { transport: "tcp", address: "127.0.0.1" });
  let settled = false;
  void served[0]!.then(() => (settled = true));
  t.equal(settled, false, "still serving while the client is connected");
  await c.close();
  await t.resolves(bounded(served[0]!, 5000, "serveConn"), "settles once the client hangs up");

  const dead = new PassThrough();
  dead.destroy();
  await t.resolves(bounded(server.serveConn(dead), 1000, "destroyed stream"), "an already-destroyed stream settles at once");
});

t.test("serve(netServer) serves every accepted connection", async (t) => {
  const server = new Server().register(new Arith());
  const netServer = net.createServer();
  server.serve(netServer);
  const url = await listenRaw(t, netServer);
  t.teardown(() => server.close());
  const [a, b] = [await connect(t, url), await connect(t, url)];
  t.strictSame(await Promise.all([a.call("Arith.Multiply", { A: 2, B: 3 }), b.call("Arith.Multiply", { A: 4, B: 5 })]), [6, 20]);
  await server.close();
  t.equal(netServer.listening, false, "close() stops the net.Server");
});

t.test("listen(tcp://127.0.0.1:0): the url shows the real port", async (t) => {
  const { listener, url } = await startServer(t);
  const m = /^tcp:\/\/127\.0\.0\.1:(\d+)$/.exec(listener.url);
  t.ok(m, listener.url);
  t.not(Number(m?.[1]), 0);
  t.equal(Number(m?.[1]), listener.port);
  const c = await connect(t, url);
  t.equal(await c.call("Arith.Multiply", { A: 6, B: 7 }), 42);
});

t.test("listen(unix://...) and dial(unix://...)", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "netrpc-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sock = path.join(dir, "x.sock");
  const { listener, url } = await startServer(t, { address: `unix://${sock}`, services: [new Info()] });
  t.equal(listener.url, `unix://${sock}`);
  t.equal(listener.port, undefined);
  const c = await connect(t, url);
  t.equal(await c.call("Arith.Multiply", { A: 5, B: 5 }), 25);
  t.match(await c.call("Info.Peer"), { transport: "unix" });
});

t.test("close() is immediate and idempotent", async (t) => {
  const watch = new Watch();
  const { url, server } = await startServer(t, { services: [watch] });
  const c = await connect(t, url);
  const pending = rejection(c.call("Watch.Hang", "c1"), "pending");
  await waitFor(() => watch.started.includes("c1"), "handler started");
  await bounded(Promise.all([server.close(), server.close()]), 5000, "close");
  const reason = watch.aborted.get("c1");
  t.ok(reason instanceof RpcError, "the in-flight handler's signal aborted by the time close() resolved");
  t.equal((reason as RpcError).code, Code.CANCELLED);
  const err = await pending;
  t.equal(err.code, Code.UNAVAILABLE);
  t.match(err.message, /^rpc: connection lost/);
  await t.resolves(bounded(server.close(), 1000, "close again"));
  await t.resolves(bounded(server.shutdown(), 1000, "shutdown after close"));
  const refused = await rejection(dial(url, { connectTimeout: 2000 }), "dial");
  t.equal(refused.code, Code.UNAVAILABLE, "no longer accepting");
  const relisten = await rejection(server.listen("tcp://127.0.0.1:0"), "listen");
  t.equal(relisten.code, Code.UNAVAILABLE);
  t.equal(relisten.message, "rpc: server is closed");
});

t.test("shutdown() drains in-flight calls, refuses new ones, then closes", async (t) => {
  const started: string[] = [];
  const mark: Interceptor = (next) => (req, ctx) => {
    started.push(req.method);
    return next(req, ctx);
  };
  const { url, server } = await startServer(t, { server: { interceptors: [mark] } });
  const c = await connect(t, url);
  const seq: string[] = [];
  const call = c.call("Slow.Sleep", 300).then((v) => seq.push(`call ${String(v)}`));
  await waitFor(() => started.includes("Slow.Sleep"), "call in flight");
  const shutdown = server.shutdown().then(() => seq.push("shutdown"));

  const refused = await rejection(c.call("Arith.Multiply", { A: 1, B: 2 }), "during drain");
  t.equal(refused.code, Code.UNAVAILABLE);
  t.equal(refused.message, "rpc: server is shutting down");
  t.equal(refused.fromPeer, true);
  const newConn = await rejection(dial(url, { connectTimeout: 2000 }), "new connection");
  t.equal(newConn.code, Code.UNAVAILABLE, "new connections are refused");

  await bounded(Promise.all([call, shutdown]), 10_000, "drain");
  t.strictSame(seq, ["call 300", "shutdown"], "shutdown resolved after the in-flight call succeeded");
  await t.resolves(bounded(server.shutdown(), 1000, "shutdown again"));
  await t.resolves(bounded(server.close(), 1000, "close after shutdown"));
});

t.test("close() cuts a shutdown short", async (t) => {
  const watch = new Watch();
  const { url, server } = await startServer(t, { services: [watch] });
  const c = await connect(t, url);
  const pending = rejection(c.call("Watch.Hang", "s1"), "pending");
  await waitFor(() => watch.started.includes("s1"), "handler started");
  const shutdown = server.shutdown();
  await bounded(server.close(), 5000, "close");
  await t.resolves(bounded(shutdown, 5000, "shutdown"), "the pending shutdown settles");
  t.equal((await pending).code, Code.UNAVAILABLE, "the in-flight call was cut, not drained");
  t.ok(watch.aborted.has("s1"), "its handler saw the abort");
});

t.test("a client that ends its side still gets the replies to calls it sent", async (t) => {
  const { port } = await startServer(t);
  const raw = await LineSocket.connect(t, port);
  await raw.write('{"method":"Slow.Sleep","params":[100],"id":1}\n{"method":"Arith.Multiply","params":[{"A":2,"B":21}],"id":2}\n');
  raw.end();
  t.equal(await raw.readLine(), '{"id":2,"result":42,"error":null}');
  t.equal(await raw.readLine(), '{"id":1,"result":100,"error":null}');
  t.ok(await raw.waitClosed(), "then the server ends the connection");
});

t.test("shutdown() with an idle connection ends it", async (t) => {
  const { url, server } = await startServer(t);
  const c = await connect(t, url);
  t.equal(await c.call("Arith.Multiply", { A: 1, B: 1 }), 1);
  await t.resolves(bounded(server.shutdown(), 5000, "shutdown"));
  const why = await bounded(c.closed, 5000, "client closed");
  t.equal(why.code, Code.UNAVAILABLE);
});

t.test("interceptors: order, rejection, metadata", async (t) => {
  const order: string[] = [];
  const rec =
    (name: string): Interceptor =>
    (next) =>
    async (req, ctx) => {
      order.push(`${name}>`);
      try {
        return await next(req, ctx);
      } finally {
        order.push(`<${name}`);
      }
    };
  const deny: Interceptor = (next) => (req, ctx) =>
    req.method === "Arith.Divide" ? Promise.reject(new RpcError(Code.PERMISSION_DENIED, "rpc: denied by policy")) : next(req, ctx);
  class Handler {
    Run(): string {
      order.push("handler");
      return "ran";
    }
  }
  const { url, server } = await startServer(t, { server: { interceptors: [rec("s1"), rec("s2")] }, services: [new Handler(), new Info()] });
  server.use(rec("s3"), deny);
  const auth: Interceptor = (next) => (req, ctx) => {
    (ctx.metadata as Record<string, string>)["x-auth"] = "token-1";
    return next(req, ctx);
  };
  const c = await connect(t, url, { interceptors: [rec("c1"), rec("c2"), auth] });

  t.equal(await c.call("Handler.Run"), "ran");
  t.strictSame(order, ["c1>", "c2>", "s1>", "s2>", "s3>", "handler", "<s3", "<s2", "<s1", "<c2", "<c1"], "first registered is outermost");

  const denied = await rejection(c.call("Arith.Divide", { A: 1, B: 1 }));
  t.equal(denied.code, Code.PERMISSION_DENIED);
  t.equal(denied.message, "rpc: denied by policy");
  t.equal(denied.fromPeer, true);

  t.strictSame(await c.call("Info.Meta", null, { metadata: { mine: "1" } }), { mine: "1", "x-auth": "token-1" }, "the handler sees metadata added by a client interceptor");
});

t.test("client interceptor failures reach the caller as a rejected RpcError", async (t) => {
  const { url } = await startServer(t);
  const throwsSync: Interceptor = () => () => {
    throw new Error("sync interceptor failure");
  };
  const rejectsPlain: Interceptor = () => () => Promise.reject(new Error("plain rejection"));
  const a = await connect(t, url, { interceptors: [throwsSync] });
  let p: Promise<unknown> | undefined;
  t.doesNotThrow(() => (p = a.call("Arith.Multiply", { A: 1, B: 1 })), "call() does not throw synchronously");
  if (p) {
    const err = await rejection(p);
    t.ok(err instanceof RpcError, "rejected with an RpcError");
    t.equal(err.message, "sync interceptor failure");
  }
  const withTimeout = await rejection(a.call("Arith.Multiply", { A: 1, B: 1 }, { timeout: 1000 }));
  t.ok(withTimeout instanceof RpcError, "also with a timeout set");
  const b = await connect(t, url, { interceptors: [rejectsPlain] });
  const err = await rejection(b.call("Arith.Multiply", { A: 1, B: 1 }));
  t.ok(err instanceof RpcError, "a plain Error from an interceptor is normalised to RpcError");
  t.equal(err.message, "plain rejection");
});

t.test("options are validated at construction", async (t) => {
  const bad: Array<[string, object]> = [
    ["maxMessageSize", { maxMessageSize: 0 }],
    ["maxMessageSize", { maxMessageSize: 1.5 }],
    ["maxMessageSize", { maxMessageSize: NaN }],
    ["maxMessageSize", { maxMessageSize: 2 ** 31 }],
    ["maxConcurrentCalls", { maxConcurrentCalls: -1 }],
    ["maxConcurrentCalls", { maxConcurrentCalls: 0 }],
    ["maxConcurrentCalls", { maxConcurrentCalls: "10" }],
  ];
  for (const [name, options] of bad) {
    t.throws(() => new Server(options), { name: "RangeError", message: new RegExp(`option ${name}`) }, JSON.stringify(options) ?? name);
  }
  t.doesNotThrow(() => new Server({ maxMessageSize: 1, maxConcurrentCalls: 1 }));

  // dial() with bad options refuses, and leaves no connection open behind it.
  const raw = await rawServer(t);
  const err = await rejection(dial(raw.url, { maxMessageSize: 0 }), "dial");
  t.ok(err instanceof RangeError, "RangeError");
  t.match(err.message, /maxMessageSize/);
  const accepted = await raw.accept(1000).catch(() => undefined);
  if (accepted) t.ok(await accepted.waitClosed(2000), "the connection dial opened was closed");
  else t.pass("no connection was opened");
});

t.test("unix:relative.sock listens and dials relative to the working directory", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "netrpc-rel-"));
  const cwd = process.cwd();
  process.chdir(dir);
  t.teardown(async () => {
    process.chdir(cwd);
    await rm(dir, { recursive: true, force: true });
  });
  const server = new Server().register(new Arith());
  t.teardown(() => server.close());
  const listener = await server.listen("unix:app.sock");
  t.equal(listener.url, "unix:app.sock");
  const c = await dial("unix:app.sock");
  t.teardown(() => c.close());
  t.equal(await c.call("Arith.Multiply", { A: 6, B: 7 }), 42);
});
