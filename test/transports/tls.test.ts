// tls://: every codec and gRPC on one TLS port, mutual TLS, and handshakes that fail alone.
import t from "tap";
import net from "node:net";
import tls from "node:tls";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Server, dial, protobuf, Code, type CallContext, type ServerOptions } from "../../index.js";
import { Arith, User, UserServer, USER_PROTO } from "../../examples/services.js";
import { makeCerts } from "../helpers/certs.js";
import { bounded, connect, rejection, type Teardown } from "../helpers/net.js";

const certs = makeCerts();
const stranger = selfSigned("stranger");

/** A client key and certificate no CA of ours signed. */
function selfSigned(name: string): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "netrpc-tls-test-"));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "2", "-subj", `/CN=${name}`], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    return { key: readFileSync(path.join(dir, "k.pem")), cert: readFileSync(path.join(dir, "c.pem")) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

class Who {
  Peer(_: unknown, ctx: CallContext) {
    return ctx.peer;
  }
}

const trust = { ca: certs.ca, servername: "localhost" };
const withClientCert = { ...trust, key: certs.clientKey, cert: certs.clientCert };

async function startTls(t: Teardown, mutual: boolean, options: ServerOptions = {}) {
  const server = new Server(options);
  server.register(new UserServer()).register(new Arith()).register(new Who());
  server.register(new User(), { service: "user.User", proto: USER_PROTO });
  const listener = await server.listen("tls://127.0.0.1:0", {
    tls: { key: certs.serverKey, cert: certs.serverCert, ...(mutual ? { ca: certs.ca, requestCert: true, rejectUnauthorized: true } : {}) },
  });
  t.teardown(() => server.close());
  return { server, url: listener.url, port: listener.port! };
}

t.test("unary calls over tls:// in every codec, on one port", async (t) => {
  const { url } = await startTls(t, false);
  t.match(url, /^tls:\/\/127\.0\.0\.1:\d+$/);
  const viaJson = await connect(t, url, { tls: trust });
  const viaMsgpack = await connect(t, `${url}?codec=msgpack`, { tls: trust });
  const viaProto = await connect(t, url, { tls: trust, codec: protobuf({ proto: USER_PROTO }) });
  t.same(await viaJson.call("Arith.Divide", { A: 7, B: 2 }), { Quo: 3, Rem: 1 }, "json");
  t.same(await viaMsgpack.call("Arith.Divide", { A: 7, B: 2 }), { Quo: 3, Rem: 1 }, "msgpack");
  t.same(await viaMsgpack.call("Arith.Multiply", { A: 6, B: 7 }), 42);
  t.same(await viaProto.call("user.User.GetUser", { id: "2" }), { id: "2", name: "小王", phone: "13200001111" }, "protobuf");
  const err = await rejection(viaJson.call("UserServer.GetUser", { id: "9" }));
  t.equal(err.code, Code.NOT_FOUND, "errors travel as over tcp");
  t.equal(err.message, "user not found");
  const peer = await viaJson.call("Who.Peer");
  t.match(peer, { transport: "tls", address: "127.0.0.1", authorized: false }, "ctx.peer says tls; no client certificate was asked for");
  t.equal(viaJson.peer?.transport, "tls");
  t.equal(viaJson.peer?.authorized, true, "the client verified the server");
  t.same(viaJson.peer?.subject, { CN: "server" });
});

t.test("gRPC over the same tls:// port: our grpcs client and @grpc/grpc-js", async (t) => {
  const { port } = await startTls(t, false);
  const ours = await connect(t, `grpcs://localhost:${port}`, { proto: USER_PROTO, tls: { ca: certs.ca } });
  t.same(await ours.call("user.User.GetUser", { id: "1" }), { id: "1", name: "bala", phone: "13100001111" }, "ours, ALPN h2");
  const jsonOverGrpc = await connect(t, `grpcs://localhost:${port}`, { tls: { ca: certs.ca } });
  t.equal(await jsonOverGrpc.call("Arith.Multiply", { A: 3, B: 4 }), 12, "application/grpc+json on the tls port");

  const user = await bounded(grpcJsGetUser(port), 15_000, "grpc-js GetUser");
  t.same(user, { id: "2", name: "小王", phone: "13200001111" }, "grpc-js calls user.User over TLS on the tls:// port");
});

function grpcJsGetUser(port: number): Promise<unknown> {
  const root = protobuf({ proto: USER_PROTO }).roots[0]!;
  const Req = root.lookupType("user.GetUserReq");
  const Resp = root.lookupType("user.GetUserResp");
  const client = new grpc.Client(`localhost:${port}`, grpc.credentials.createSsl(certs.ca));
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      "/user.User/GetUser",
      (v: object) => Buffer.from(Req.encode(Req.fromObject(v)).finish()),
      (b: Buffer) => Resp.toObject(Resp.decode(b)),
      { id: "2" },
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (err, value) => {
        client.close();
        if (err) reject(err);
        else resolve(value);
      },
    );
  });
}

t.test("mutual TLS: a client certificate from our CA is let in and shows in ctx.peer", async (t) => {
  const { url } = await startTls(t, true);
  const client = await connect(t, url, { tls: withClientCert });
  const peer = await client.call("Who.Peer");
  t.match(peer, { transport: "tls", address: "127.0.0.1", authorized: true, subject: { CN: "client" } });
  const viaMsgpack = await connect(t, `${url}?codec=msgpack`, { tls: withClientCert });
  t.equal(await viaMsgpack.call("Arith.Multiply", { A: 2, B: 21 }), 42);
});

/** Dials and calls once; returns the error (at dial, or at the call: TLS 1.3 checks the client's certificate after the handshake). */
async function refusal(url: string, options: Parameters<typeof dial>[1]) {
  return rejection(
    dial(url, options).then((c) => c.call("Arith.Multiply", { A: 1, B: 1 }).finally(() => c.close())),
    "dial and call",
  );
}

t.test("mutual TLS: no client certificate, or one from another CA, is refused", async (t) => {
  const { url } = await startTls(t, true);
  const none = await refusal(url, { tls: trust });
  t.equal(none.code, Code.UNAVAILABLE, "without a certificate");
  const wrongCa = await refusal(url, { tls: { ...trust, key: stranger.key, cert: stranger.cert } });
  t.equal(wrongCa.code, Code.UNAVAILABLE, "with a certificate our CA did not sign");
  const still = await connect(t, url, { tls: withClientCert });
  t.equal(await still.call("Arith.Multiply", { A: 3, B: 3 }), 9, "the server serves on");
});

t.test("a client refuses a server its CA did not sign, with a clear UNAVAILABLE", async (t) => {
  const { url } = await startTls(t, false);
  const err = await rejection(dial(url, { tls: { ca: certs.otherCa, servername: "localhost" } }), "dial");
  t.equal(err.code, Code.UNAVAILABLE);
  t.match(err.message, new RegExp(`^rpc: dial ${url.replace(/[.]/g, "\\.")}.*certificate`));
  const wrongName = await rejection(dial(url, { tls: { ca: certs.ca, servername: "example.com" } }), "dial");
  t.equal(wrongName.code, Code.UNAVAILABLE, "a certificate for another name");
  t.match(wrongName.message, /example\.com/);
});

t.test("a bad or stalled handshake costs only its own connection", async (t) => {
  const { url, port } = await startTls(t, false, { handshakeTimeout: 300 });
  const good = await connect(t, url, { tls: trust });
  t.equal(await good.call("Arith.Multiply", { A: 2, B: 2 }), 4);

  const garbage = net.connect({ host: "127.0.0.1", port });
  t.teardown(() => garbage.destroy());
  garbage.on("error", () => {});
  garbage.write('{"method":"Arith.Multiply","params":[{"A":1,"B":1}],"id":0}\n');
  await bounded(new Promise((resolve) => garbage.once("close", resolve)), 5_000, "plaintext on a TLS port is cut");

  const stalled = net.connect({ host: "127.0.0.1", port });
  t.teardown(() => stalled.destroy());
  stalled.on("error", () => {});
  // Half a ClientHello, then nothing: handshakeTimeout ends it.
  stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
  await bounded(new Promise((resolve) => stalled.once("close", resolve)), 5_000, "a stalled handshake is cut");

  const untrusting = await rejection(dial(url, { tls: { ca: certs.otherCa, servername: "localhost" } }), "dial");
  t.equal(untrusting.code, Code.UNAVAILABLE);
  t.equal(await good.call("Arith.Multiply", { A: 5, B: 5 }), 25, "the established connection is untouched");
  const fresh = await connect(t, url, { tls: trust });
  t.equal(await fresh.call("Arith.Multiply", { A: 6, B: 6 }), 36, "new connections are served");
});

t.test("serve(tls.Server) serves its TLS connections, not the raw sockets beneath", async (t) => {
  const server = new Server();
  server.register(new Arith()).register(new Who());
  const netServer = tls.createServer({ key: certs.serverKey, cert: certs.serverCert });
  server.serve(netServer);
  t.teardown(() => server.close());
  await new Promise<void>((resolve) => netServer.listen(0, "127.0.0.1", resolve));
  const port = (netServer.address() as net.AddressInfo).port;
  const client = await connect(t, `tls://localhost:${port}?codec=msgpack`, { tls: { ca: certs.ca } });
  t.equal(await client.call("Arith.Multiply", { A: 4, B: 4 }), 16);
  t.match(await client.call("Who.Peer"), { transport: "tls", authorized: false });
});

t.test("tls:// needs certificates to listen", async (t) => {
  const server = new Server();
  t.teardown(() => server.close());
  await t.rejects(server.listen("tls://127.0.0.1:0"), { message: /^rpc: listen tls:\/\/127\.0\.0\.1:0.*options\.tls/ });
  t.ok(tls.DEFAULT_MIN_VERSION, "node:tls is present");
});
