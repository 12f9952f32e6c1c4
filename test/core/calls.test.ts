// Calls on one connection: concurrency, context (metadata, peer, deadline, signal), deadlines and
// cancellation crossing the wire, connection loss, client.close(), and the typed proxy.
import t from "tap";
import net from "node:net";
import { Server, RpcError, Code, type CallContext, type Interceptor } from "../../index.js";
import { Arith, Slow, UserServer } from "../../examples/services.js";
import { Watch } from "../helpers/watch.js";
import { LineSocket, bounded, rejection, startServer, waitFor, connect } from "../helpers/net.js";

class Ctx {
  Echo(_: unknown, ctx: CallContext): unknown {
    return {
      metadata: ctx.metadata,
      peer: ctx.peer,
      method: ctx.method,
      deadline: ctx.deadline ?? null,
      remaining: ctx.deadline === undefined ? null : ctx.timeRemaining(),
    };
  }
}

/** Hang(tag) waits until its signal aborts (10 s at most) and records why. */
t.test("calls on one connection run concurrently and complete in completion order", async (t) => {
  const { url, port } = await startServer(t);
  const c = await connect(t, url);
  const seq: number[] = [];
  await Promise.all([c.call("Slow.Sleep", 300).then((v) => seq.push(v as number)), c.call("Slow.Sleep", 10).then((v) => seq.push(v as number))]);
  t.strictSame(seq, [10, 300], "the short call resolves first");

  const raw = await LineSocket.connect(t, port);
  await raw.write('{"method":"Slow.Sleep","params":[300],"id":"long"}\n{"method":"Slow.Sleep","params":[10],"id":"short"}\n');
  t.equal(await raw.readLine(), '{"id":"short","result":10,"error":null}', "replies are written as calls complete");
  t.equal(await raw.readLine(), '{"id":"long","result":300,"error":null}');
});

t.test("1000 concurrent calls on one connection are all answered correctly", async (t) => {
  const { url } = await startServer(t);
  const c = await connect(t, url);
  const N = 1000;
  const results = await bounded(
    Promise.all(Array.from({ length: N }, (_, i) => (i % 10 === 9 ? c.call("UserServer.GetUser", { id: "2" }) : c.call("Arith.Multiply", { A: i, B: 3 })))),
    30_000,
    "1000 calls",
  );
  let wrong = 0;
  results.forEach((r, i) => {
    const ok = i % 10 === 9 ? (r as { Name: string }).Name === "小王" : r === i * 3;
    if (!ok) wrong++;
  });
  t.equal(wrong, 0, "every result matches its call");
  t.equal(c.pending, 0);
});

t.test("ctx carries metadata, peer and deadline to the handler", async (t) => {
  const { url } = await startServer(t, { services: [new Ctx()] });
  const c = await connect(t, url);
  const r = (await c.call("Ctx.Echo", null, { metadata: { "x-trace": "abc", list: ["a", "b"] } })) as any;
  t.strictSame(r.metadata, { "x-trace": "abc", list: ["a", "b"] });
  t.equal(r.method, "Ctx.Echo");
  t.equal(r.peer.transport, "tcp");
  t.equal(r.peer.address, "127.0.0.1");
  t.ok(Number.isInteger(r.peer.port) && r.peer.port > 0, "peer port");
  t.equal(r.deadline, null, "no timeout, no deadline");
  t.equal(r.remaining, null);

  const plain = (await c.call("Ctx.Echo")) as any;
  t.strictSame(plain.metadata, {}, "no metadata is an empty object");

  const before = Date.now();
  const timed = (await c.call("Ctx.Echo", null, { timeout: 5000 })) as any;
  t.type(timed.deadline, "number", "deadline set from the timeout");
  t.ok(timed.deadline > before && timed.deadline <= Date.now() + 5000, "deadline is in the caller's window");
  t.ok(timed.remaining > 0 && timed.remaining <= 5000, `timeRemaining ${timed.remaining}`);
});

t.test("a client timeout: DEADLINE_EXCEEDED at the client, and the handler's signal aborts", async (t) => {
  const watch = new Watch();
  const { url } = await startServer(t, { services: [watch] });
  const c = await connect(t, url);
  const err = await rejection(c.call("Watch.Hang", "t1", { timeout: 50 }));
  t.ok(err instanceof RpcError);
  t.equal(err.code, Code.DEADLINE_EXCEEDED);
  t.equal(err.message, "rpc: Watch.Hang: deadline of 50 ms exceeded");
  t.equal(err.fromPeer, false);
  await waitFor(() => watch.aborted.has("t1"), "server handler aborted");
  const reason = watch.aborted.get("t1");
  t.ok(reason instanceof RpcError, "aborted with an RpcError");
  t.ok([Code.CANCELLED, Code.DEADLINE_EXCEEDED].includes((reason as RpcError).code), `reason ${(reason as Error).message}`);

  const slow = await rejection(c.call("Slow.Sleep", 5000, { timeout: 50 }));
  t.equal(slow.code, Code.DEADLINE_EXCEEDED, "a 50 ms deadline against a 5 s sleep");
  t.equal(await c.call("Arith.Multiply", { A: 2, B: 2 }), 4, "the connection is still fine");
});

t.test("aborting a signal: CANCELLED at once, and the cancel crosses the wire", async (t) => {
  const watch = new Watch();
  const { url } = await startServer(t, { services: [watch] });
  const c = await connect(t, url);
  const ac = new AbortController();
  let settled = false;
  const p = c.call("Watch.Hang", "a1", { signal: ac.signal });
  p.catch(() => (settled = true));
  await waitFor(() => watch.started.includes("a1"), "handler started");
  ac.abort();
  await null;
  t.equal(settled, true, "rejected without waiting for the server");
  const err = await rejection(p);
  t.equal(err.code, Code.CANCELLED);
  t.equal(err.message, "rpc: Watch.Hang: cancelled by the caller");
  t.equal(err.fromPeer, false);
  t.equal(c.pending, 0);
  await waitFor(() => watch.aborted.has("a1"), "server handler aborted");
  t.equal((watch.aborted.get("a1") as RpcError).code, Code.CANCELLED);
  t.equal((watch.aborted.get("a1") as RpcError).message, "rpc: call cancelled by the client");
});

t.test("an already-aborted signal rejects without sending", async (t) => {
  const watch = new Watch();
  const { url } = await startServer(t, { services: [watch] });
  const seen: string[] = [];
  const spy: Interceptor = (next) => (req, ctx) => {
    seen.push(req.method);
    return next(req, ctx);
  };
  const c = await connect(t, url, { interceptors: [spy] });
  const err = await rejection(c.call("Watch.Count", null, { signal: AbortSignal.abort() }));
  t.equal(err.code, Code.CANCELLED);
  t.equal(c.pending, 0);
  const timedOut = await rejection(c.call("Watch.Count", null, { signal: AbortSignal.abort(new DOMException("late", "TimeoutError")) }));
  t.equal(timedOut.code, Code.DEADLINE_EXCEEDED, "a timed-out reason maps to DEADLINE_EXCEEDED");
  t.strictSame(seen, [], "nothing went through the interceptors");
  t.equal(await c.call("Watch.Count"), 1, "the handler had never run");
});

t.test("raw clients: the server enforces a sent timeout and honours a cancel", async (t) => {
  const watch = new Watch();
  const { port } = await startServer(t, { services: [watch] });
  const raw = await LineSocket.connect(t, port);
  t.equal(
    await raw.exchange('{"method":"Slow.Sleep","params":[5000],"id":1,"timeout":50}'),
    '{"id":1,"result":null,"error":"rpc: deadline of 50 ms exceeded","code":4}',
    "the server answers DEADLINE_EXCEEDED itself",
  );
  await raw.write('{"method":"Watch.Hang","params":["r1"],"id":2}\n');
  await waitFor(() => watch.started.includes("r1"), "handler started");
  await raw.write('{"id":2,"cancel":true}\n{"id":12345,"cancel":true}\n');
  await waitFor(() => watch.aborted.has("r1"), "handler aborted by the cancel");
  t.equal((watch.aborted.get("r1") as RpcError).code, Code.CANCELLED);
  t.equal(
    await raw.exchange('{"method":"Arith.Multiply","params":[{"A":3,"B":3}],"id":3}'),
    '{"id":3,"result":9,"error":null}',
    "no reply for the cancelled call, and a cancel for an unknown id is ignored",
  );
});

t.test("AbortSignal.timeout() gives DEADLINE_EXCEEDED", async (t) => {
  const { url } = await startServer(t);
  const c = await connect(t, url);
  const err = await rejection(c.call("Slow.Sleep", 5000, { signal: AbortSignal.timeout(50) }));
  t.equal(err.code, Code.DEADLINE_EXCEEDED);
  t.match(err.message, /^rpc: Slow\.Sleep: deadline exceeded/);
  t.equal(err.fromPeer, false);
});

t.test("a lost connection fails every pending call with UNAVAILABLE", async (t) => {
  t.test("server.close()", async (t) => {
    const { url, server } = await startServer(t);
    const c = await connect(t, url);
    const pending = [c.call("Slow.Sleep", 5000), c.call("Slow.Sleep", 5000, { timeout: 8000 }), c.call("Slow.Sleep", 5000)].map((p) => rejection(p));
    await waitFor(() => c.pending === 3, "three calls pending");
    await server.close();
    for (const err of await Promise.all(pending)) {
      t.equal(err.code, Code.UNAVAILABLE);
      t.match(err.message, /^rpc: connection lost/);
      t.equal(err.fromPeer, false);
    }
    const why = await bounded(c.closed, 5000, "client.closed");
    t.equal(why.code, Code.UNAVAILABLE);
    const later = await rejection(c.call("Arith.Multiply", { A: 1, B: 1 }));
    t.equal(later.code, Code.UNAVAILABLE, "later calls fail the same way");
  });

  t.test("the server-side socket is destroyed", async (t) => {
    const server = new Server().register(new Slow()).register(new Arith());
    const netServer = net.createServer();
    const sockets: net.Socket[] = [];
    netServer.on("connection", (s) => sockets.push(s));
    server.serve(netServer);
    await new Promise<void>((resolve) => netServer.listen(0, "127.0.0.1", resolve));
    t.teardown(() => server.close());
    const c = await connect(t, `tcp://127.0.0.1:${(netServer.address() as net.AddressInfo).port}`);
    const pending = [rejection(c.call("Slow.Sleep", 5000)), rejection(c.call("Slow.Sleep", 5000))];
    await waitFor(() => c.pending === 2 && sockets.length === 1, "calls pending");
    sockets[0]!.destroy();
    for (const err of await Promise.all(pending)) {
      t.equal(err.code, Code.UNAVAILABLE);
      t.match(err.message, /^rpc: connection lost/);
    }
  });
});

t.test("client.close(): pending and later calls fail CANCELLED; idempotent", async (t) => {
  const { url } = await startServer(t);
  const c = await connect(t, url);
  const pending = [rejection(c.call("Slow.Sleep", 5000)), rejection(c.call("Slow.Sleep", 5000, { timeout: 8000 }))];
  await waitFor(() => c.pending === 2, "two pending");
  await c.close();
  for (const err of await Promise.all(pending)) {
    t.equal(err.code, Code.CANCELLED);
    t.equal(err.message, "rpc: client is closed");
    t.equal(err.fromPeer, false);
  }
  const later = await rejection(c.call("Arith.Multiply", { A: 1, B: 1 }));
  t.equal(later.code, Code.CANCELLED);
  t.equal(later.message, "rpc: client is closed");
  await t.resolves(c.close(), "a second close() resolves");
  const why = await bounded(c.closed, 1000, "closed");
  t.equal(why.code, Code.CANCELLED);
  t.equal(why.message, "rpc: client is closed");
});

t.test("fromPeer tells server errors from local ones", async (t) => {
  const { url } = await startServer(t);
  const c = await connect(t, url);
  const peer = await rejection(c.call("Arith.Divide", { A: 1, B: 0 }));
  t.equal(peer.fromPeer, true);
  t.equal(peer.code, Code.UNKNOWN);
  t.equal(peer.message, "divide by zero");
  const notFound = await rejection(c.call("UserServer.GetUser", { id: "x" }));
  t.equal(notFound.code, Code.NOT_FOUND);
  t.equal(notFound.fromPeer, true);
  // Local errors the server never answers: an abort (no reply is sent for a cancelled call)
  // and a closed client. (A deadline can race the server's own DEADLINE_EXCEEDED reply.)
  const controller = new AbortController();
  const aborted = c.call("Slow.Sleep", 5000, { signal: controller.signal });
  controller.abort();
  const local = await rejection(aborted);
  t.equal(local.code, Code.CANCELLED);
  t.equal(local.fromPeer, false);
  const pending = c.call("Slow.Sleep", 5000);
  await c.close();
  const closed = await rejection(pending);
  t.equal(closed.code, Code.CANCELLED);
  t.equal(closed.fromPeer, false);
});

t.test("the typed proxy calls methods and is not thenable", async (t) => {
  const { url } = await startServer(t);
  const seen: string[] = [];
  const spy: Interceptor = (next) => (req, ctx) => {
    seen.push(req.method);
    return next(req, ctx);
  };
  const c = await connect(t, url, { interceptors: [spy] });
  const users = c.service<UserServer>("UserServer");
  t.strictSame(await users.GetUser({ id: "1" }), { Id: "1", Name: "bala", Phone: "13100001111" });
  const nf = await rejection(users.GetUser({ id: "nope" }));
  t.equal(nf.code, Code.NOT_FOUND);
  const arith = c.service<Arith>("Arith");
  t.equal(await arith.Multiply({ A: 6, B: 7 }, { timeout: 5000 }), 42);
  seen.length = 0;

  t.equal((users as unknown as { then?: unknown }).then, undefined);
  const awaited = await bounded(Promise.resolve(users), 1000, "awaiting the proxy");
  t.equal(awaited, users, "awaiting the proxy yields the proxy");
  t.equal(await bounded((async () => await users)(), 1000, "await"), users);
  t.strictSame(seen, [], "no call was made");
  t.equal(c.pending, 0);
});

t.test("serialising or stringifying the typed proxy makes no call", async (t) => {
  const { url } = await startServer(t);
  // Records every call and answers it locally, so a stray call cannot reach the wire (or leave an
  // unhandled rejection behind); the assertion is that there is no call at all.
  const seen: string[] = [];
  const record: Interceptor = () => async (req) => {
    seen.push(req.method);
    return undefined;
  };
  const c = await connect(t, url, { interceptors: [record] });
  const users = c.service<UserServer>("UserServer");
  JSON.stringify({ users });
  t.strictSame(seen, [], "JSON.stringify does not call UserServer.toJSON");
  seen.length = 0;
  try {
    void `${String(users)}`;
  } catch {
    // throwing a TypeError is fine; calling the server is not
  }
  t.strictSame(seen, [], "String(proxy) does not call UserServer.toString / valueOf");
});
