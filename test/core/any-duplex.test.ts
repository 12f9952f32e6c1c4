// serveConn serves any Duplex and new Client wraps any Duplex: no socket involved.
import t from "tap";
import { Server, Client, Code } from "../../index.js";
import { Arith, Slow, UserServer } from "../../examples/services.js";
import { duplexPair } from "../helpers/duplex-pair.js";

t.test("a server and a client over an in-memory stream pair", async (t) => {
  const server = new Server();
  server.register(new UserServer()).register(new Arith()).register(new Slow());
  const [serverSide, clientSide] = duplexPair();
  let served = false;
  const serving = server.serveConn(serverSide).then(() => (served = true));
  const client = new Client(clientSide);

  t.same(await client.call("UserServer.GetUser", { id: "2" }), { Id: "2", Name: "小王", Phone: "13200001111" });
  t.same(await client.service<Arith>("Arith").Divide({ A: 9, B: 4 }), { Quo: 2, Rem: 1 });
  await t.rejects(client.call("Arith.Divide", { A: 1, B: 0 }), { code: Code.UNKNOWN, message: "divide by zero", fromPeer: true });
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => client.call("Arith.Multiply", { A: i, B: 2 })));
  t.same(results, Array.from({ length: 100 }, (_, i) => i * 2), "100 concurrent calls, each with its own answer");
  t.equal(served, false, "serveConn's promise is pending while the connection is open");

  const pending = client.call("Slow.Sleep", 5_000);
  serverSide.destroy();
  await t.rejects(pending, { code: Code.UNAVAILABLE }, "a pending call ends when the stream goes away");
  await serving;
  t.equal(served, true, "serveConn's promise settles when the stream ends");
  t.equal(server.methods().length, 4);
  await client.close();
});
