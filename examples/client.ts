// The example client: the classic net/rpc calls against a running example server.
//   npm run example-client -- --addr tcp://127.0.0.1:1234
import { parseArgs } from "node:util";
import { dial, RpcError } from "../index.js";
import type { Arith, UserServer } from "./services.js";

const { values } = parseArgs({ options: { addr: { type: "string", default: "tcp://127.0.0.1:1234" } } });
const client = await dial(values.addr!);
const users = client.service<UserServer>("UserServer");
const arith = client.service<Arith>("Arith");

console.log("UserServer.GetUser 1 ->", await users.GetUser({ id: "1" }));
console.log("UserServer.GetUser 2 ->", await users.GetUser({ id: "2" }));
console.log("Arith.Multiply 7*8  ->", await arith.Multiply({ A: 7, B: 8 }));
console.log("Arith.Divide 7/2    ->", await arith.Divide({ A: 7, B: 2 }));
try {
  await arith.Divide({ A: 1, B: 0 });
} catch (err) {
  if (!(err instanceof RpcError)) throw err;
  console.log("Arith.Divide 1/0    ->", `${err.codeName}: ${err.message}`);
}
await client.close();
