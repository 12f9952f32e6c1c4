// `npm start`: a server and a client on loopback, every transport and codec, each call timed.
import os from "node:os";
import path from "node:path";
import { Server, dial, protobuf, RpcError, type Client } from "../index.js";
import { Arith, Slow, User, UserServer, USER_PROTO } from "./services.js";

const server = new Server();
server.register(new UserServer()).register(new Arith()).register(new Slow());
server.register(new User(), { service: "user.User", proto: USER_PROTO });

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

const tcp = await server.listen("tcp://127.0.0.1:0");
const unix = await server.listen(`unix://${path.join(os.tmpdir(), `netrpc-demo-${process.pid}.sock`)}`);
console.log(`one server, codecs ${server.codecs().join(", ")}, listening on ${tcp.url} and ${unix.url}\n`);

const deployments: Array<{ label: string; connect: () => Promise<Client>; run: (c: Client) => Promise<void> }> = [
  { label: "tcp  + json", connect: () => dial(tcp.url), run: classic },
  { label: "tcp  + msgpack", connect: () => dial(`${tcp.url}?codec=msgpack`), run: classic },
  { label: "tcp  + protobuf", connect: () => dial(tcp.url, { codec: protobuf({ proto: USER_PROTO }) }), run: proto },
  { label: "unix + json", connect: () => dial(unix.url), run: classic },
  { label: "unix + msgpack", connect: () => dial(`${unix.url}?codec=msgpack`), run: classic },
];

for (const { label, connect, run } of deployments) {
  console.log(label);
  const client = await connect();
  await run(client);
  await client.close();
}

await server.shutdown();
console.log("\ndone: every call above crossed a real socket on this machine.");
