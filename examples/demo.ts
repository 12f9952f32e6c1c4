// `npm start`: a server and a client on loopback, every transport and codec, each call timed.
import os from "node:os";
import path from "node:path";
import { Server, dial, RpcError, type Client } from "../index.js";
import { Arith, Slow, UserServer } from "./services.js";

const server = new Server();
server.register(new UserServer()).register(new Arith()).register(new Slow());

const sock = path.join(os.tmpdir(), `netrpc-demo-${process.pid}.sock`);
const deployments = [
  { label: "tcp  + json", address: "tcp://127.0.0.1:0" },
  { label: "unix + json", address: `unix://${sock}` },
];

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

for (const { label, address } of deployments) {
  const listener = await server.listen(address);
  console.log(`${label}  ${listener.url}`);
  const client = await dial(listener.url);
  await show(client, "UserServer.GetUser", { id: "1" });
  await show(client, "UserServer.GetUser", { id: "2" });
  await show(client, "UserServer.GetUser", { id: "3" });
  await show(client, "Arith.Multiply", { A: 7, B: 8 });
  await show(client, "Arith.Divide", { A: 7, B: 2 });
  await show(client, "Arith.Divide", { A: 1, B: 0 });
  await show(client, "Slow.Sleep", 50);
  await show(client, "Slow.Sleep", 5000, { timeout: 100 });
  await show(client, "Arith.constructor", {});
  await client.close();
}

await server.shutdown();
console.log("done: every call above crossed a real socket on this machine.");
