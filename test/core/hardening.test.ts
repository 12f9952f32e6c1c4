// Hostile and awkward peers: readers that never read, peers that never close, values that
// cannot be printed, absurd timeouts, handlers that outlive their call, racing shutdowns.
import t from "tap";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { EventEmitter, once } from "node:events";
import { Server, Client, Code, type CallContext, type Interceptor } from "../../index.js";
import { Arith, Slow } from "../../examples/services.js";
import { LineSocket, bounded, rejection, sleep, startServer, waitFor, connect } from "../helpers/net.js";
import { duplexPair } from "../helpers/duplex-pair.js";

const MiB = 1 << 20;

class Big {
  Blob(): string {
    return "x".repeat(100_000);
  }
}

t.test("a peer that sends but never reads cannot make the server buffer without bound", async (t) => {
  const server = new Server();
  server.register(new Big());
  const sockets: net.Socket[] = [];
  const netServer = net.createServer((s) => {
    sockets.push(s);
    void server.serveConn(s);
  });
  await new Promise<void>((r) => netServer.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    void server.close();
    netServer.close();
  });
  const port = (netServer.address() as net.AddressInfo).port;
  const peer = net.connect({ host: "127.0.0.1", port });
  t.teardown(() => peer.destroy());
  await once(peer, "connect");
  peer.pause(); // never read

  const requests = 5_000; // 5,000 replies of 100 kB would be 500 MB if all were queued
  let text = "";
  for (let id = 0; id < requests; id++) text += `{"method":"Big.Blob","params":[null],"id":${id}}\n`;
  peer.write(text);
  await sleep(1_000);
  const serverSide = sockets[0]!;
  t.ok(serverSide.writableLength < 16 * MiB, `server holds ${(serverSide.writableLength / MiB).toFixed(1)} MiB of replies, not hundreds`);

  // Once the peer reads, every request is answered: nothing was dropped.
  let lines = 0;
  peer.on("data", (d: Buffer) => {
    for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines++;
  });
  peer.resume();
  await waitFor(() => lines === requests, `all ${requests} replies`, 60_000);
  t.equal(lines, requests);
});

t.test("shutdown() ends even when a peer keeps its side open after our EOF", async (t) => {
  const { server, port } = await startServer(t);
  // Like Go's jsonrpc client: reads EOF, never closes its socket.
  const peer = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  t.teardown(() => peer.destroy());
  await once(peer, "connect");
  peer.write(`{"method":"Arith.Multiply","params":[{"A":2,"B":3}],"id":0}\n`);
  await once(peer, "data");
  await bounded(server.shutdown(), 10_000, "shutdown with a half-open peer");
  t.pass("shutdown resolved");
});

class Hostile {
  SyncNullProto(): never {
    throw Object.create(null);
  }
  SyncBadToString(): never {
    throw { toString: () => { throw new Error("nope"); } };
  }
  async AsyncNullProto(): Promise<never> {
    throw Object.create(null);
  }
  async AsyncBadMessage(): Promise<never> {
    throw Object.defineProperty(new Error("x"), "message", { get: () => { throw new Error("getter"); } });
  }
  Thenable(): PromiseLike<number> {
    return { then: () => { throw new Error("then exploded"); } };
  }
}

t.test("handlers that throw unprintable values get error replies; nothing crashes", async (t) => {
  const { url } = await startServer(t, { services: [new Hostile()] });
  const c = await connect(t, url);
  for (const m of ["SyncNullProto", "SyncBadToString", "AsyncNullProto", "AsyncBadMessage", "Thenable"]) {
    const bystander = c.call("Slow.Sleep", 20);
    const err = await rejection(c.call(`Hostile.${m}`));
    t.equal(err.code, Code.UNKNOWN, m);
    t.equal(err.fromPeer, true, m);
    t.equal(await bystander, 20, `${m}: another call on the same connection is unharmed`);
  }
});

t.test("timeouts outside setTimeout's range are refused, not fired at once", async (t) => {
  const { url, port } = await startServer(t);
  const c = await connect(t, url);
  for (const timeout of [Infinity, NaN, -1, 2 ** 31]) {
    const err = await rejection(c.call("Arith.Multiply", { A: 1, B: 1 }, { timeout }));
    t.equal(err.code, Code.INVALID_ARGUMENT, `timeout ${timeout}`);
  }
  t.equal(await c.call("Arith.Multiply", { A: 2, B: 2 }), 4, "the connection is unharmed");
  t.throws(() => new Client(duplexPair()[0], { timeout: Infinity }), RangeError);

  // A huge deadline from the wire is clamped, not treated as already passed.
  const raw = await LineSocket.connect(t, port);
  raw.write(`{"method":"Slow.Sleep","params":[30],"id":1,"timeout":3000000000}\n`);
  t.equal(await raw.readLine(), `{"id":1,"result":30,"error":null}`);
});

t.test("built-in and function-style bases do not leak their methods", async (t) => {
  class Accounts extends EventEmitter {
    Get(): string {
      return "ok";
    }
  }
  class Cache extends Map<string, string> {
    Lookup(): string {
      return "ok";
    }
  }
  class Base {
    Shared(): string {
      return "base";
    }
  }
  class Derived extends Base {
    Own(): string {
      return "own";
    }
  }
  const server = new Server();
  server.register(new Accounts()).register(new Cache()).register(new Derived());
  t.same(server.methods(), ["Accounts.Get", "Cache.Lookup", "Derived.Own", "Derived.Shared"]);
});

t.test("a cancelled handler that keeps running still counts toward maxConcurrentCalls and shutdown", async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let finished = false;
  class Stubborn {
    async Ignore(): Promise<string> {
      await gate; // ignores ctx.signal on purpose
      finished = true;
      return "done";
    }
  }
  const { server, url } = await startServer(t, { server: { maxConcurrentCalls: 1 }, services: [new Stubborn()] });
  const c = await connect(t, url);
  const err = await rejection(c.call("Stubborn.Ignore", null, { timeout: 20 }));
  t.equal(err.code, Code.DEADLINE_EXCEEDED);
  const refused = await rejection(c.call("Arith.Multiply", { A: 1, B: 1 }));
  t.equal(refused.code, Code.RESOURCE_EXHAUSTED, "the abandoned handler still holds its slot");

  let shutDown = false;
  const stopping = server.shutdown().then(() => (shutDown = true));
  await sleep(100);
  t.equal(shutDown, false, "shutdown waits for the handler that is still running");
  release();
  await bounded(stopping, 5_000, "shutdown after the handler returns");
  t.equal(finished, true);
});

t.test("listen() racing close() leaves nothing bound", async (t) => {
  const server = new Server();
  server.register(new Arith());
  const listening = server.listen("tcp://127.0.0.1:0");
  await server.close();
  const err = await rejection(listening, "listen");
  t.equal(err.code, Code.UNAVAILABLE);
  t.throws(() => server.serve(net.createServer()), { code: Code.UNAVAILABLE });
});

t.test("a Client on a stream that is already closed fails its calls instead of hanging", async (t) => {
  const [a, b] = duplexPair();
  b.on("error", () => {}); // the pair tells its other end with an AbortError
  a.destroy();
  const c = new Client(a);
  const err = await rejection(c.call("Arith.Multiply", { A: 1, B: 1 }));
  t.equal(err.code, Code.UNAVAILABLE);
});

t.test("contexts: server metadata is writable; the client's signal aborts when the connection is lost", async (t) => {
  const stamp: Interceptor = (next) => (req, ctx) => {
    ctx.metadata.user = "stamped";
    return next(req, ctx);
  };
  class Who {
    Am(_: unknown, ctx: CallContext): unknown {
      return ctx.metadata.user;
    }
  }
  const { server, url } = await startServer(t, { server: { interceptors: [stamp] }, services: [new Who()] });
  const plain = await connect(t, url);
  t.equal(await plain.call("Who.Am"), "stamped", "a caller that sent no metadata");

  let signal: AbortSignal | undefined;
  const grab: Interceptor = (next) => (req, ctx) => {
    signal = ctx.signal;
    return next(req, ctx);
  };
  const c = await connect(t, url, { interceptors: [grab] });
  const pending = c.call("Slow.Sleep", 5_000);
  await waitFor(() => signal !== undefined, "the call to start");
  await server.close();
  t.equal((await rejection(pending)).code, Code.UNAVAILABLE);
  t.equal(signal!.aborted, true);
  t.equal((signal!.reason as { code?: unknown }).code, Code.UNAVAILABLE);
});

t.test("replies reach a peer that half-closes, even on a net.Server made without allowHalfOpen", async (t) => {
  const server = new Server();
  server.register(new Slow());
  const netServer = net.createServer((s) => void server.serveConn(s));
  await new Promise<void>((r) => netServer.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    void server.close();
    netServer.close();
  });
  const raw = await LineSocket.connect(t, (netServer.address() as net.AddressInfo).port);
  raw.write(`{"method":"Slow.Sleep","params":[50],"id":0}\n`);
  raw.socket.end();
  t.equal(await raw.readLine(), `{"id":0,"result":50,"error":null}`);
});

t.test("peer describes unix sockets the same way for listen() and serve()", async (t) => {
  class Peer {
    Who(_: unknown, ctx: CallContext): unknown {
      return ctx.peer;
    }
  }
  const server = new Server();
  server.register(new Peer());
  const sock = path.join(os.tmpdir(), `netrpc-peer-${process.pid}.sock`);
  const netServer = net.createServer();
  server.serve(netServer);
  await new Promise<void>((r) => netServer.listen(sock, r));
  t.teardown(() => server.close());
  const c = await connect(t, `unix://${sock}`);
  t.same(await c.call("Peer.Who"), { transport: "unix" });
});

t.test("typed stubs: an optional first parameter may be left out", async (t) => {
  class Opt {
    Maybe(req?: { n: number }): number {
      return req?.n ?? -1;
    }
  }
  const { url } = await startServer(t, { services: [new Opt()] });
  const c = await connect(t, url);
  const opt = c.service<Opt>("Opt");
  t.equal(await opt.Maybe(), -1);
  t.equal(await opt.Maybe({ n: 3 }), 3);
});

t.test("a peer that half-closes behind a backlog still gets every reply", async (t) => {
  class Wide {
    Blob(n: number): { n: number; pad: string } {
      return { n, pad: "y".repeat(64 * 1024) };
    }
  }
  const { port } = await startServer(t, { services: [new Wide()] });
  const peer = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  t.teardown(() => peer.destroy());
  await once(peer, "connect");
  let lines = 0;
  peer.on("data", (d: Buffer) => {
    for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines++;
  });
  const batch = (from: number) => Array.from({ length: 50 }, (_, i) => `{"method":"Wide.Blob","params":[${from + i}],"id":${from + i}}\n`).join("");
  peer.write(batch(0));
  await sleep(100);
  peer.end(batch(50));
  await waitFor(() => lines === 100, "all 100 replies", 20_000);
  t.equal(lines, 100);
});

t.test("shutdown() lets a slow reader take every reply", async (t) => {
  class Heavy {
    async Blob(n: number): Promise<{ n: number; pad: string }> {
      await sleep(50);
      return { n, pad: "z".repeat(256 * 1024) };
    }
  }
  const { server, port } = await startServer(t, { services: [new Heavy()] });
  const peer = net.connect({ host: "127.0.0.1", port });
  t.teardown(() => peer.destroy());
  await once(peer, "connect");
  const N = 40;
  peer.write(Array.from({ length: N }, (_, i) => `{"method":"Heavy.Blob","params":[${i}],"id":${i}}\n`).join(""));
  // A slow but live reader: about 64 KiB every 20 ms, so the 10 MB of replies take seconds.
  let lines = 0;
  const reader = setInterval(() => {
    const d = peer.read() as Buffer | null;
    if (d) for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines++;
  }, 20);
  t.teardown(() => clearInterval(reader));
  await sleep(20);
  await bounded(server.shutdown(), 25_000, "shutdown");
  await waitFor(() => lines === N || peer.destroyed, "the replies", 25_000);
  t.equal(lines, N, "every reply arrived before the connection closed");
});

t.test("close() cuts short a shutdown() that waits for a handler ignoring its signal", async (t) => {
  class Deaf {
    Wait(): Promise<never> {
      return new Promise(() => {}); // never settles, never looks at ctx.signal
    }
  }
  const { server, url } = await startServer(t, { services: [new Deaf()] });
  const c = await connect(t, url);
  const pending = c.call("Deaf.Wait").catch((e: unknown) => e);
  await sleep(50);
  const stopping = server.shutdown();
  await sleep(50);
  await server.close();
  await bounded(stopping, 5_000, "shutdown after close");
  t.equal(((await pending) as { code?: unknown }).code, Code.UNAVAILABLE);
});

t.test("function-style constructors and Object.create services register their prototype's methods", async (t) => {
  function Legacy(this: unknown) {}
  Legacy.prototype.Add = function (p: { A: number; B: number }) {
    return p.A + p.B;
  };
  const server = new Server();
  server.register(new (Legacy as unknown as new () => object)());
  server.register(Object.create({ Sub: (p: { A: number; B: number }) => p.A - p.B }), { name: "Calc" });
  t.same(server.methods(), ["Calc.Sub", "Legacy.Add"]);
});

t.test("serve() racing close(): the net.Server never ends up listening", async (t) => {
  const server = new Server();
  const netServer = net.createServer();
  netServer.listen(0, "127.0.0.1");
  server.serve(netServer);
  await server.close();
  await sleep(100);
  t.equal(netServer.listening, false);
});

t.test("a thrown Proxy whose traps throw is still an error reply", async (t) => {
  class Trap {
    Throw(): never {
      throw new Proxy({}, { getPrototypeOf: () => { throw new Error("trap"); }, get: () => { throw new Error("trap"); } });
    }
  }
  const { url } = await startServer(t, { services: [new Trap()] });
  const c = await connect(t, url);
  t.equal((await rejection(c.call("Trap.Throw"))).code, Code.UNKNOWN);
  t.equal(await c.call("Arith.Multiply", { A: 3, B: 3 }), 9);
});

t.test("backpressure waits for 'drain' instead of polling, whatever the stream's high-water mark", async (t) => {
  const server = new Server();
  server.register(new Big());
  const netServer = net.createServer({ highWaterMark: 4 * MiB }, (s) => void server.serveConn(s));
  await new Promise<void>((r) => netServer.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    void server.close();
    netServer.close();
  });
  const peer = net.connect({ host: "127.0.0.1", port: (netServer.address() as net.AddressInfo).port });
  t.teardown(() => peer.destroy());
  await once(peer, "connect");
  peer.pause(); // never read
  peer.write(Array.from({ length: 2_000 }, (_, id) => `{"method":"Big.Blob","params":[null],"id":${id}}\n`).join(""));
  await sleep(300);
  const real = globalThis.setImmediate;
  let immediates = 0;
  globalThis.setImmediate = ((...args: Parameters<typeof setImmediate>) => {
    immediates++;
    return real(...args);
  }) as typeof setImmediate;
  try {
    await sleep(300);
  } finally {
    globalThis.setImmediate = real;
  }
  t.ok(immediates < 100, `${immediates} setImmediate calls while the peer was not reading`);
});
