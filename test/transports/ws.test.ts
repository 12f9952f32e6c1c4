// ws:// and wss://: every codec over WebSocket (standalone, attached to an http server, on a
// netrpc tcp/tls port), message types, close codes, limits, keepalive and shutdown.
import t from "tap";
import http from "node:http";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { Server, dial, protobuf, Code, type CallContext, type ServerOptions } from "../../index.js";
import { Arith, Slow, User, UserServer, USER_PROTO } from "../../examples/services.js";
import { makeCerts } from "../helpers/certs.js";
import { bounded, connect, rejection, sleep, waitFor, type Teardown } from "../helpers/net.js";
import { runTs } from "../helpers/process.js";

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const certs = makeCerts();
const serverTls = { key: certs.serverKey, cert: certs.serverCert };
const USER_2 = { id: "2", name: "小王", phone: "13200001111" };

class Who {
  Peer(_: unknown, ctx: CallContext) {
    return ctx.peer;
  }
}

function newServer(t: Teardown, options: ServerOptions = {}): Server {
  const server = new Server(options);
  server.register(new UserServer()).register(new Arith()).register(new Slow()).register(new Who());
  server.register(new User(), { service: "user.User", proto: USER_PROTO });
  t.teardown(() => server.close());
  return server;
}

/** Unary calls in json, msgpack and protobuf at `url`. */
async function everyCodec(t: TapTest, url: string, options: Parameters<typeof dial>[1] = {}): Promise<void> {
  const sep = url.includes("?") ? "&" : "?";
  const viaJson = await connect(t, url, options);
  const viaMsgpack = await connect(t, `${url}${sep}codec=msgpack`, options);
  const viaProto = await connect(t, url, { ...options, codec: protobuf({ proto: USER_PROTO }) });
  t.same(await viaJson.call("Arith.Divide", { A: 7, B: 2 }), { Quo: 3, Rem: 1 }, "json");
  t.same(await viaMsgpack.call("Arith.Divide", { A: 7, B: 2 }), { Quo: 3, Rem: 1 }, "msgpack");
  t.same(await viaMsgpack.call("UserServer.GetUser", { id: "1" }), { Id: "1", Name: "bala", Phone: "13100001111" });
  t.same(await viaProto.call("user.User.GetUser", { id: "2" }), USER_2, "protobuf");
  const err = await rejection(viaMsgpack.call("UserServer.GetUser", { id: "9" }));
  t.equal(err.code, Code.NOT_FOUND, "errors keep their code");
  t.equal(err.message, "user not found");
}

interface Received {
  data: Buffer;
  isBinary: boolean;
}

/** A plain ws client that records what arrives and how the connection ends. */
async function rawClient(t: Teardown, url: string, protocols: string[], options: ConstructorParameters<typeof WebSocket>[2] = {}) {
  const ws = new WebSocket(url, protocols, options);
  t.teardown(() => ws.terminate());
  const received: Received[] = [];
  ws.on("message", (data: Buffer, isBinary: boolean) => received.push({ data, isBinary }));
  ws.on("error", () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  await bounded(new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  }), 5_000, `open ${url}`);
  let read = 0;
  return {
    ws,
    received,
    closed,
    /** The next message not yet taken. */
    async next(): Promise<Received> {
      const at = read++;
      await waitFor(() => received.length > at, "a message");
      return received[at]!;
    },
  };
}

t.test("ws:// standalone: unary calls in every codec; ctx.peer says ws", async (t) => {
  const server = newServer(t);
  const { url } = await server.listen("ws://127.0.0.1:0/rpc");
  t.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/rpc$/);
  await everyCodec(t, url);
  const client = await connect(t, url);
  t.match(await client.call("Who.Peer"), { transport: "ws", address: "127.0.0.1" });
  t.match(client.peer, { transport: "ws", address: "127.0.0.1" });

  const refused = await rejection(dial(url.replace("/rpc", "/other")), "dial another path");
  t.equal(refused.code, Code.UNAVAILABLE);
  t.match(refused.message, /HTTP 404: rpc: no netrpc endpoint at \/other \(it is at \/rpc\)/);
  const plain = await bounded(fetch(url.replace("ws://", "http://")), 5_000, "plain GET");
  t.equal(plain.status, 426, "a plain HTTP request is told to upgrade");
  t.match(await plain.text(), /WebSocket/);

  const anyPath = await server.listen("ws://127.0.0.1:0");
  const c = await connect(t, `${anyPath.url}/whatever/path?codec=msgpack`);
  t.equal(await c.call("Arith.Multiply", { A: 6, B: 7 }), 42, "a listener without a path takes any path");
});

t.test("attached to an http server at a path, next to its pages and other WebSocket paths", async (t) => {
  const server = newServer(t);
  const web = http.createServer((req, res) => res.end(`page ${req.url}`));
  const other = new WebSocketServer({ noServer: true });
  web.on("upgrade", (req, socket, head) => {
    if (req.url === "/chat") other.handleUpgrade(req, socket, head, (ws) => ws.send("welcome to chat"));
  });
  await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    web.closeAllConnections();
    web.close();
    other.close();
  });
  const port = (web.address() as net.AddressInfo).port;
  const endpoint = server.attach(web, { path: "/rpc" });
  t.equal(endpoint.path, "/rpc");

  await everyCodec(t, `ws://127.0.0.1:${port}/rpc`);
  const page = await bounded(fetch(`http://127.0.0.1:${port}/index.html`), 5_000, "GET a page");
  t.equal(await page.text(), "page /index.html", "the http server still serves its pages");
  const chat = await rawClient(t, `ws://127.0.0.1:${port}/chat`, []);
  t.equal((await chat.next()).data.toString(), "welcome to chat", "another upgrade path still reaches its own handler");

  const inFlight = await connect(t, `ws://127.0.0.1:${port}/rpc`);
  const raw = await rawClient(t, `ws://127.0.0.1:${port}/rpc`, ["netrpc.json"]);
  const slow = inFlight.call("Slow.Sleep", 200);
  await sleep(20);
  const closing = endpoint.close();
  t.equal(await slow, 200, "a call in flight when the endpoint closes is answered");
  t.same(await bounded(raw.closed, 5_000, "raw close"), { code: 1001, reason: "rpc: endpoint closed" });
  await bounded(closing, 5_000, "endpoint close");
  const gone = await rejection(dial(`ws://127.0.0.1:${port}/rpc`, { connectTimeout: 2_000 }), "dial a closed endpoint");
  t.equal(gone.code, Code.UNAVAILABLE, "the path is no longer served");
  t.equal(await (await bounded(fetch(`http://127.0.0.1:${port}/`), 5_000, "GET")).text(), "page /", "the http server runs on");
});

t.test("attached alone: other upgrade paths get 404; shutdown detaches from the http server", async (t) => {
  const server = newServer(t);
  const web = http.createServer((req, res) => res.end(`page ${req.url}`));
  await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    web.closeAllConnections();
    web.close();
  });
  const port = (web.address() as net.AddressInfo).port;
  server.attach(web, { path: "/rpc" });
  const other = await rejection(dial(`ws://127.0.0.1:${port}/elsewhere`), "dial another path");
  t.match(other.message, /HTTP 404: rpc: no WebSocket endpoint at \/elsewhere/);
  t.throws(() => server.attach(web, { path: "rpc" }), { name: "TypeError", message: /path starting with "\/"/ });
  t.equal(await (await connect(t, `ws://127.0.0.1:${port}/rpc`)).call("Arith.Multiply", { A: 2, B: 9 }), 18);
  await bounded(server.shutdown(), 10_000, "shutdown");
  t.equal(web.listenerCount("upgrade"), 0, "no upgrade listener is left behind");
  t.equal(await (await bounded(fetch(`http://127.0.0.1:${port}/rpc`), 5_000, "GET")).text(), "page /rpc", "the http server runs on");
  t.throws(() => server.attach(web, { path: "/rpc" }), { message: /server is closed/ });
});

t.test("one tcp:// port: raw codecs, gRPC and WebSocket upgrades", async (t) => {
  const server = newServer(t);
  const { url, port } = (await server.listen("tcp://127.0.0.1:0")) as { url: string; port: number };
  await everyCodec(t, url);
  await everyCodec(t, `ws://127.0.0.1:${port}/rpc`);
  const grpc = await connect(t, `grpc://127.0.0.1:${port}`, { proto: USER_PROTO });
  t.same(await grpc.call("user.User.GetUser", { id: "2" }), USER_2, "gRPC on the same port");
  const ws = await connect(t, `ws://127.0.0.1:${port}/`);
  t.match(await ws.call("Who.Peer"), { transport: "ws", address: "127.0.0.1" });

  const plain = await bounded(fetch(`http://127.0.0.1:${port}/`), 5_000, "plain GET");
  t.equal(plain.status, 426, "a plain HTTP request on the tcp port is told to upgrade");
  const garbage = await bounded(new Promise<string>((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => s.write("Garbage\n"));
    let got = "";
    s.on("data", (d) => (got += d));
    s.on("close", () => resolve(got));
    s.on("error", () => {});
  }), 5_000, "G that is not GET");
  t.match(garbage, /malformed JSON/, "a line starting with G that is not HTTP is still JSON's to refuse");
});

t.test("a tcp port's WebSocket upgrade must arrive within handshakeTimeout", async (t) => {
  const server = newServer(t, { handshakeTimeout: 200 });
  const port = (await server.listen("tcp://127.0.0.1:0")).port!;
  const stalled = net.connect(port, "127.0.0.1", () => stalled.write("GET /rpc HTTP/1.1\r\nHost: x\r\n"));
  stalled.on("error", () => {});
  t.teardown(() => stalled.destroy());
  await bounded(new Promise((resolve) => stalled.once("close", resolve)), 5_000, "a stalled upgrade request is cut");
  t.equal(await (await connect(t, `ws://127.0.0.1:${port}/`)).call("Arith.Multiply", { A: 2, B: 3 }), 6, "the port serves on");
});

t.test("wss:// standalone and on a tls:// port, with certificates made at run time", async (t) => {
  const server = newServer(t);
  const wss = await server.listen("wss://127.0.0.1:0/rpc", { tls: serverTls });
  t.match(wss.url, /^wss:\/\//);
  await everyCodec(t, wss.url.replace("127.0.0.1", "localhost"), { tls: { ca: certs.ca } });
  const client = await connect(t, wss.url, { tls: { ca: certs.ca } });
  t.match(await client.call("Who.Peer"), { transport: "wss", address: "127.0.0.1", authorized: false });

  const onTls = await server.listen("tls://127.0.0.1:0", { tls: serverTls });
  const tlsPort = new URL(onTls.url).port;
  await everyCodec(t, `wss://localhost:${tlsPort}/rpc`, { tls: { ca: certs.ca } });
  await everyCodec(t, onTls.url, { tls: { ca: certs.ca, servername: "localhost" } });

  const untrusted = await rejection(dial(wss.url, { tls: { ca: certs.otherCa } }), "dial an untrusted server");
  t.equal(untrusted.code, Code.UNAVAILABLE);
  t.match(untrusted.message, /certificate/);
  await t.rejects(server.listen("wss://127.0.0.1:0/rpc"), { message: /wss needs options\.tls/ });
});

t.test("JSON travels as text messages, the binary codecs as binary; the other kind closes with 1003", async (t) => {
  const server = newServer(t);
  const { url } = await server.listen("ws://127.0.0.1:0/rpc");
  const text = await rawClient(t, url, ["netrpc.json"]);
  t.equal(text.ws.protocol, "netrpc.json");
  text.ws.send(JSON.stringify({ method: "Arith.Multiply", params: [{ A: 6, B: 7 }], id: 1 }));
  const reply = await text.next();
  t.equal(reply.isBinary, false, "a JSON reply is a text message");
  t.same(JSON.parse(reply.data.toString()), { id: 1, result: 42, error: null });

  const binary = await rawClient(t, url, ["netrpc.msgpack"]);
  t.equal(binary.ws.protocol, "netrpc.msgpack");
  const { Packr } = await import("msgpackr");
  binary.ws.send(new Packr({ useRecords: false }).pack([0, 1, "Arith.Multiply", { A: 6, B: 7 }, null, null]));
  const packed = await binary.next();
  t.equal(packed.isBinary, true, "a msgpack reply is a binary message");
  t.equal(packed.data[0]! & 0xf0, 0x90, "one msgpack array, no length prefix");

  const none = await rawClient(t, url, []);
  t.equal(none.ws.protocol, "", "no subprotocol: JSON");
  none.ws.send(JSON.stringify({ method: "Arith.Multiply", params: [{ A: 2, B: 2 }], id: "a" }));
  t.same(JSON.parse((await none.next()).data.toString()), { id: "a", result: 4, error: null });

  text.ws.send(Buffer.from("{}"), { binary: true });
  t.same(await bounded(text.closed, 5_000, "close"), { code: 1003, reason: "rpc: this connection takes text messages, got binary" });
  binary.ws.send("[0,2]");
  t.same(await bounded(binary.closed, 5_000, "close"), { code: 1003, reason: "rpc: this connection takes binary messages, got text" });

  // And our client sends the same way: capture what it writes.
  const capture = new WebSocketServer({ port: 0, host: "127.0.0.1", handleProtocols: (p) => [...p][0]! });
  t.teardown(() => capture.close());
  await new Promise((resolve) => capture.once("listening", resolve));
  const seen: Array<{ protocol: string; isBinary: boolean }> = [];
  capture.on("connection", (ws) => ws.on("message", (_d, isBinary) => seen.push({ protocol: ws.protocol, isBinary })));
  const capturePort = (capture.address() as net.AddressInfo).port;
  for (const codec of ["json", "msgpack"]) {
    const c = await dial(`ws://127.0.0.1:${capturePort}/?codec=${codec}`);
    void c.call("Arith.Multiply", { A: 1, B: 1 }).catch(() => {});
    await waitFor(() => seen.some((s) => s.protocol === `netrpc.${codec}`), `our ${codec} client's message`);
    await c.close();
  }
  t.same(seen, [
    { protocol: "netrpc.json", isBinary: false },
    { protocol: "netrpc.msgpack", isBinary: true },
  ]);
});

t.test("an unknown subprotocol or codec is refused at the handshake, with the reason", async (t) => {
  const server = new Server();
  server.register(new Arith());
  t.teardown(() => server.close());
  const { url } = await server.listen("ws://127.0.0.1:0/rpc");
  const xml = new WebSocket(url, ["netrpc.xml"]);
  const response = await bounded(new Promise<{ status: number; body: string }>((resolve) => {
    xml.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
  }), 5_000, "refusal");
  xml.on("error", () => {});
  xml.terminate();
  t.same(response, { status: 400, body: "rpc: this endpoint does not speak subprotocol netrpc.xml (it speaks netrpc.json, netrpc.msgpack)\n" });

  const err = await rejection(dial(url, { codec: protobuf({ proto: USER_PROTO }) }), "dial with a codec the server lacks");
  t.equal(err.code, Code.UNAVAILABLE);
  t.match(err.message, /HTTP 400: rpc: this endpoint does not speak subprotocol netrpc\.protobuf \(it speaks netrpc\.json, netrpc\.msgpack\)/);
  t.equal(await (await connect(t, url)).call("Arith.Multiply", { A: 3, B: 3 }), 9, "the server serves on");
});

t.test("an oversized message closes its connection with 1009; others are unaffected", async (t) => {
  const server = newServer(t, { maxMessageSize: 1024 });
  const { url } = await server.listen("ws://127.0.0.1:0/rpc");
  const other = await connect(t, `${url}?codec=msgpack`);
  const raw = await rawClient(t, url, ["netrpc.json"]);
  raw.ws.send(JSON.stringify({ method: "Arith.Multiply", params: [{ A: 1, B: "x".repeat(2000) }], id: 1 }));
  t.equal((await bounded(raw.closed, 5_000, "close")).code, 1009, "message too big");

  const ours = await connect(t, url);
  const err = await rejection(ours.call("Arith.Multiply", { A: 1, B: "x".repeat(2000) }));
  t.equal(err.code, Code.RESOURCE_EXHAUSTED, "our client reports the 1009 as the server's RESOURCE_EXHAUSTED");
  t.equal(err.fromPeer, true);
  t.match(err.message, /^rpc: the peer refused a message larger than its maxMessageSize \(close code 1009/);
  t.equal((await bounded(ours.closed, 5_000, "closed")).code, Code.RESOURCE_EXHAUSTED, "and the connection ends with it");
  t.equal(await other.call("Arith.Multiply", { A: 4, B: 5 }), 20, "another connection is fine");

  // The client's own limit: a reply past it ends that connection with RESOURCE_EXHAUSTED.
  const small = await connect(t, url, { maxMessageSize: 64 });
  const big = await rejection(small.call("UserServer.GetUser", { id: "1" }).then(() => small.call("Slow.Sleep", 1)).then(() => small.call("Who.Peer")));
  t.equal(big.code, Code.RESOURCE_EXHAUSTED);
  t.match(big.message, /exceeds maxMessageSize 64/);
});

t.test("a message the codec cannot read closes that connection with a reason; the server serves on", async (t) => {
  const server = newServer(t);
  const { url } = await server.listen("ws://127.0.0.1:0/rpc");
  const raw = await rawClient(t, url, ["netrpc.json"]);
  raw.ws.send("this is not JSON");
  const lastWord = JSON.parse((await raw.next()).data.toString());
  t.match(lastWord, { id: null, code: Code.INVALID_ARGUMENT, error: /^rpc: malformed JSON message/ }, "the last word says why");
  const { code, reason } = await bounded(raw.closed, 5_000, "close");
  t.equal(code, 1007, "invalid data");
  t.match(reason, /^rpc: malformed JSON message/);

  const packed = await rawClient(t, url, ["netrpc.msgpack"]);
  packed.ws.send(Buffer.from([0xc1]));
  t.equal((await bounded(packed.closed, 5_000, "close")).code, 1007, "bad msgpack");

  const client = await connect(t, url);
  t.equal(await client.call("Arith.Multiply", { A: 7, B: 7 }), 49, "the server keeps serving");
});

t.test("keepalive: a peer that stops answering pings is cut; one that answers stays", async (t) => {
  const server = newServer(t, { keepaliveInterval: 100 });
  const { url, port } = await server.listen("ws://127.0.0.1:0/rpc");
  const healthy = await rawClient(t, url, ["netrpc.json"]);
  let pings = 0;
  healthy.ws.on("ping", () => pings++);

  // A raw socket that completes the upgrade, then sends nothing more: the pings it reads go unanswered.
  const silent = net.connect(port!, "127.0.0.1");
  t.teardown(() => silent.destroy());
  silent.on("error", () => {});
  let head = "";
  silent.on("data", (d) => (head += d.toString("latin1")));
  silent.write(
    "GET /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: netrpc.json\r\n\r\n",
  );
  await waitFor(() => head.includes("\r\n\r\n"), "the upgrade response");
  t.match(head, /^HTTP\/1\.1 101 /);
  await bounded(new Promise((resolve) => silent.once("close", resolve)), 5_000, "the silent peer is cut");

  await waitFor(() => pings >= 3, "pings to the healthy client");
  healthy.ws.send(JSON.stringify({ method: "Arith.Multiply", params: [{ A: 3, B: 5 }], id: 1 }));
  t.same(JSON.parse((await healthy.next()).data.toString()), { id: 1, result: 15, error: null }, "a peer that answers pings stays connected");
  t.throws(() => new Server({ keepaliveInterval: -1 }), { name: "RangeError", message: /keepaliveInterval/ });
});

t.test("shutdown: calls in flight are answered, then the connection closes with 1001", async (t) => {
  const server = newServer(t);
  const { url } = await server.listen("ws://127.0.0.1:0/rpc");
  const raw = await rawClient(t, url, ["netrpc.json"]);
  raw.ws.send(JSON.stringify({ method: "Slow.Sleep", params: [200], id: 1 }));
  const client = await connect(t, `${url}?codec=msgpack`);
  const slow = client.call("Slow.Sleep", 200);
  await sleep(50);
  const done = server.shutdown();
  t.same(JSON.parse((await raw.next()).data.toString()), { id: 1, result: 200, error: null }, "the raw client's call is answered");
  t.equal(await slow, 200, "ours too");
  t.same(await bounded(raw.closed, 5_000, "close"), { code: 1001, reason: "rpc: server is shutting down" });
  const why = await bounded(client.closed, 5_000, "client closed");
  t.equal(why.code, Code.UNAVAILABLE);
  t.match(why.message, /1001 rpc: server is shutting down/);
  await bounded(done, 10_000, "shutdown");
});

t.test("a client's pending calls end with UNAVAILABLE when the server drops", async (t) => {
  const server = newServer(t);
  const { url } = await server.listen("ws://127.0.0.1:0/rpc");
  const client = await connect(t, url);
  const pending = client.call("Slow.Sleep", 5_000);
  await sleep(50);
  await server.close();
  const err = await rejection(pending);
  t.equal(err.code, Code.UNAVAILABLE);
  t.match(err.message, /^rpc: connection lost/);
  const refused = await rejection(dial(url, { connectTimeout: 2_000 }), "dial a closed server");
  t.equal(refused.code, Code.UNAVAILABLE);
});

t.test("client keepalive: a server that stops answering pings ends the connection", async (t) => {
  // A WebSocket server that never answers pings: ws answers them itself, so take the socket raw.
  const mute = net.createServer((socket) => {
    socket.once("data", (request) => {
      const key = /Sec-WebSocket-Key: (.*)\r\n/i.exec(request.toString())![1]!;
      const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: netrpc.json\r\n\r\n`);
      socket.pause();
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => mute.listen(0, "127.0.0.1", resolve));
  t.teardown(() => mute.close());
  // keepaliveInterval is the older option: a ping every 100 ms, calls or not, acked within 100 ms.
  const client = await dial(`ws://127.0.0.1:${(mute.address() as net.AddressInfo).port}/`, { keepaliveInterval: 100 });
  t.teardown(() => client.close());
  const why = await bounded(client.closed, 5_000, "closed");
  t.equal(why.code, Code.UNAVAILABLE);
  t.equal(why.message, "rpc: keepalive: no ping ack within 100 ms");
});

t.test("the CLI calls over ws://", async (t) => {
  const server = newServer(t);
  const { url } = await server.listen("ws://127.0.0.1:0/rpc");
  const ok = await runTs("bin/netrpc.ts", ["call", `${url}?codec=msgpack`, "UserServer.GetUser", '{"id":"2"}']);
  t.equal(ok.code, 0, ok.stderr);
  t.same(JSON.parse(ok.stdout), { Id: "2", Name: "小王", Phone: "13200001111" });
  const wss = await server.listen("wss://127.0.0.1:0/rpc", { tls: serverTls });
  const insecure = await runTs("bin/netrpc.ts", ["call", wss.url, "Arith.Multiply", '{"A":6,"B":7}', "--insecure"]);
  t.equal(insecure.stdout.trim(), "42", insecure.stderr);
  const dir = mkdtempSync(path.join(os.tmpdir(), "netrpc-ws-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, "ca.pem"), certs.ca);
  const trusted = await runTs("bin/netrpc.ts", ["call", wss.url, "Arith.Multiply", '{"A":2,"B":8}', "--ca", path.join(dir, "ca.pem")]);
  t.equal(trusted.stdout.trim(), "16", trusted.stderr);
  const untrusted = await runTs("bin/netrpc.ts", ["call", wss.url, "Arith.Multiply", '{"A":2,"B":8}']);
  t.equal(untrusted.code, 1);
  t.match(untrusted.stderr, /UNAVAILABLE \(14\): rpc: dial wss:.*certificate/);
  const onTls = await server.listen("tls://127.0.0.1:0", { tls: serverTls });
  const overTls = await runTs("bin/netrpc.ts", ["call", `${onTls.url}?codec=msgpack`, "Arith.Multiply", '{"A":3,"B":8}', "--ca", path.join(dir, "ca.pem")]);
  t.equal(overTls.stdout.trim(), "24", overTls.stderr);
});

