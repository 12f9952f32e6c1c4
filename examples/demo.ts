// `npm start`: a server and a client on loopback, every transport and codec, each call timed.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Server, dial, protobuf, RpcError, type Client } from "../index.js";
import { Arith, COUNTER_STREAMS, Counter, Slow, User, UserServer, USER_PROTO } from "./services.js";

const server = new Server();
server.register(new UserServer()).register(new Arith()).register(new Slow());
server.register(new User(), { service: "user.User", proto: USER_PROTO });
server.register(new Counter(), COUNTER_STREAMS);

async function show(client: Client, method: string, params: unknown, options = {}): Promise<void> {
  const start = process.hrtime.bigint();
  let outcome: string;
  try {
    outcome = JSON.stringify(await client.call(method, params, options));
  } catch (err) {
    const e = RpcError.from(err);
    outcome = `${e.codeName}: ${e.message}`;
  }
  const us = Number(process.hrtime.bigint() - start) / 1000;
  console.log(`  ${method.padEnd(19)} ${JSON.stringify(params).padEnd(16)} -> ${outcome}  (${us.toFixed(0)} µs)`);
}

/** The classic net/rpc calls, for codecs that carry any value. */
async function classic(client: Client): Promise<void> {
  await show(client, "UserServer.GetUser", { id: "1" });
  await show(client, "UserServer.GetUser", { id: "2" });
  await show(client, "UserServer.GetUser", { id: "3" });
  await show(client, "Arith.Multiply", { A: 7, B: 8 });
  await show(client, "Arith.Divide", { A: 7, B: 2 });
  await show(client, "Arith.Divide", { A: 1, B: 0 });
  await show(client, "Slow.Sleep", 50);
  await show(client, "Slow.Sleep", 5000, { timeout: 100 });
  await show(client, "Arith.constructor", {});
}

/** user.User from user.proto, the calls protobuf has descriptors for. */
async function proto(client: Client): Promise<void> {
  await show(client, "user.User.GetUser", { id: "1" });
  await show(client, "user.User.GetUser", { id: "2" });
  await show(client, "user.User.GetUser", { id: "3" });
}

/** Streams, which gRPC carries: a server stream and a bidi stream. */
async function streams(client: Client): Promise<void> {
  const start = process.hrtime.bigint();
  const counted: number[] = [];
  for await (const n of client.serverStream<number>("Counter.Count", 5)) counted.push(n);
  const totals: number[] = [];
  for await (const total of client.bidiStream<number>("Counter.Sum", [1, 2, 3, 4])) totals.push(total);
  const us = Number(process.hrtime.bigint() - start) / 1000;
  console.log(`  ${"Counter.Count".padEnd(19)} ${"5".padEnd(16)} -> stream ${JSON.stringify(counted)}`);
  console.log(`  ${"Counter.Sum".padEnd(19)} ${"[1,2,3,4]".padEnd(16)} -> stream ${JSON.stringify(totals)}  (both ${us.toFixed(0)} µs)`);
}

/** A self-signed certificate for 127.0.0.1 made with openssl, or undefined without openssl. */
function selfSigned(): { key: Buffer; cert: Buffer } | undefined {
  const dir = mkdtempSync(path.join(os.tmpdir(), "netrpc-demo-"));
  try {
    const args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"];
    execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
    return { key: readFileSync(path.join(dir, "key.pem")), cert: readFileSync(path.join(dir, "cert.pem")) };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const both = (...runs: Array<(c: Client) => Promise<void>>) => async (c: Client) => {
  for (const run of runs) await run(c);
};

const tcp = await server.listen("tcp://127.0.0.1:0");
const grpc = await server.listen("grpc://127.0.0.1:0");
const unix = await server.listen(`unix://${path.join(os.tmpdir(), `netrpc-demo-${process.pid}.sock`)}`);
const ws = await server.listen("ws://127.0.0.1:0/rpc");
const cert = selfSigned();
const secure = cert ? await server.listen("tls://127.0.0.1:0", { tls: cert }) : undefined;
const urls = [tcp.url, unix.url, grpc.url, ws.url, ...(secure ? [secure.url] : [])];
console.log(`one server, codecs ${server.codecs().join(", ")}, listening on ${urls.join(", ")}`);
if (!secure) console.log("(no openssl here: the tls:// rows are left out)");
console.log();

const deployments: Array<{ label: string; connect: () => Promise<Client>; run: (c: Client) => Promise<void> }> = [
  { label: "tcp  + json", connect: () => dial(tcp.url), run: both(classic, streams) },
  { label: "tcp  + msgpack", connect: () => dial(`${tcp.url}?codec=msgpack`), run: both(classic, streams) },
  { label: "tcp  + protobuf", connect: () => dial(tcp.url, { codec: protobuf({ proto: USER_PROTO }) }), run: proto },
  { label: "unix + json", connect: () => dial(unix.url), run: classic },
  { label: "unix + msgpack", connect: () => dial(`${unix.url}?codec=msgpack`), run: both(classic, streams) },
  { label: "grpc + protobuf (HTTP/2, real gRPC)", connect: () => dial(grpc.url, { proto: USER_PROTO }), run: proto },
  { label: "grpc + json", connect: () => dial(grpc.url), run: both(classic, streams) },
  { label: "grpc + msgpack", connect: () => dial(`${grpc.url}?codec=msgpack`), run: both(classic, streams) },
  { label: "grpc on the tcp port (HTTP/2 preface) + protobuf", connect: () => dial(tcp.url.replace("tcp://", "grpc://"), { proto: USER_PROTO }), run: proto },
  { label: "ws   + json (text messages)", connect: () => dial(ws.url), run: both(classic, streams) },
  { label: "ws   + msgpack (binary messages)", connect: () => dial(`${ws.url}?codec=msgpack`), run: both(classic, streams) },
  { label: "ws   + protobuf", connect: () => dial(ws.url, { codec: protobuf({ proto: USER_PROTO }) }), run: proto },
  { label: "ws on the tcp port (HTTP upgrade) + msgpack", connect: () => dial(`${tcp.url.replace("tcp://", "ws://")}/rpc?codec=msgpack`), run: classic },
];
if (secure && cert) {
  const trust = { tls: { ca: cert.cert } };
  deployments.push(
    { label: "tls  + json", connect: () => dial(secure.url, trust), run: classic },
    { label: "tls  + msgpack", connect: () => dial(`${secure.url}?codec=msgpack`, trust), run: both(classic, streams) },
    { label: "grpcs on the tls port (ALPN h2) + protobuf", connect: () => dial(secure.url.replace("tls://", "grpcs://"), { ...trust, proto: USER_PROTO }), run: proto },
    { label: "wss on the tls port + json", connect: () => dial(`${secure.url.replace("tls://", "wss://")}/rpc`, trust), run: classic },
  );
}

for (const { label, connect, run } of deployments) {
  console.log(label);
  const client = await connect();
  await run(client);
  await client.close();
}

await server.shutdown();
console.log("\ndone: every call above crossed a real socket on this machine.");
