// The memory:// transport itself: names, dialing, closing, and a pair that behaves as a socket
// pair does when one end ends or is destroyed. (Calls over it run in the transport contract.)
import t from "tap";
import { once } from "node:events";
import { Code, RpcError, Server, dial, duplexPair, memory, registerTransport, type MemoryListener } from "../../index.js";
import { Arith } from "../../examples/services.js";
import { bounded, rejection, waitFor } from "../helpers/net.js";

registerTransport(memory);

t.test("listen takes a name; dial reaches it; close frees it", async (t) => {
  const server = new Server().register(new Arith());
  t.teardown(() => server.close());
  const listener = (await server.listen("memory://arith")) as MemoryListener;
  t.equal(listener.url, "memory://arith", "the listener's url is the name");
  t.equal(listener.port, undefined, "no port");

  const taken = await rejection(new Server().register(new Arith()).listen("memory://arith"), "listen on a taken name");
  t.ok(taken instanceof RpcError, "a second listener on the name: an RpcError");
  t.match(taken.message, /memory:\/\/arith is already in use/, "naming the name");

  const client = await dial("memory://arith");
  t.teardown(() => client.close());
  t.equal(await client.call("Arith.Multiply", { A: 6, B: 7 }), 42, "a call crosses");
  t.strictSame(client.peer, { transport: "memory", address: "arith" }, "the client's peer names the server");
  t.equal(listener.connections.size, 1, "the listener sees the connection it accepted");

  const msgpack = await dial("memory://arith?codec=msgpack");
  t.teardown(() => msgpack.close());
  t.equal(await msgpack.call("Arith.Multiply", { A: 2, B: 3 }), 6, "the query picks the codec, not the name");

  await listener.close();
  const gone = await rejection(dial("memory://arith"), "dial a closed name");
  t.equal(gone.code, Code.UNAVAILABLE, "nothing listens: UNAVAILABLE");
  t.match(gone.message, /nothing listens on memory:\/\/arith/, "naming the name");
  t.equal(await client.call("Arith.Multiply", { A: 1, B: 9 }), 9, "connections already made outlive the listener");

  const again = new Server().register(new Arith());
  t.teardown(() => again.close());
  await again.listen("memory://arith");
  const second = await dial("memory://arith");
  t.teardown(() => second.close());
  t.equal(await second.call("Arith.Multiply", { A: 3, B: 3 }), 9, "the freed name can be listened on again");
});

t.test("addresses: an empty name is refused; an aborted dial is CANCELLED", async (t) => {
  await t.rejects(dial("memory://"), TypeError, "no name");
  const aborted = await rejection(dial("memory://arith", { signal: AbortSignal.abort() }), "aborted dial");
  t.equal(aborted.code, Code.CANCELLED, "CANCELLED");
});

t.test("the pair: bytes cross both ways, copied; end and destroy reach the other side", async (t) => {
  const [a, b] = duplexPair();
  const chunk = Buffer.from("hello");
  const received = once(b, "data");
  a.write(chunk);
  chunk.fill(0);
  t.equal(String((await bounded(received, 5_000, "data"))[0]), "hello", "the reader gets the bytes as written, not the writer's reused buffer");

  // Half-close: a peer that opts in keeps writing after the other side has ended.
  b.allowHalfOpen = true;
  const ended = once(b, "end");
  a.end();
  b.resume();
  await bounded(ended, 5_000, "end");
  const reply = once(a, "data");
  b.write("still here");
  t.equal(String((await bounded(reply, 5_000, "reply"))[0]), "still here", "the half-open side still writes");

  // Destroying one end is a hang-up: the other sees the end, and its writes fail with EPIPE.
  const [c, d] = duplexPair();
  d.allowHalfOpen = true;
  d.resume();
  const dEnded = once(d, "end");
  c.destroy();
  await bounded(dEnded, 5_000, "end after destroy");
  const failed = once(d, "error");
  d.write("into the void");
  const [err] = await bounded(failed, 5_000, "write error");
  t.equal((err as NodeJS.ErrnoException).code, "EPIPE", "a write to a destroyed peer fails with EPIPE");
  await waitFor(() => d.destroyed, "the failed end is destroyed");
});

t.test("the pair applies backpressure: a writer waits for a reader that does not read", async (t) => {
  const [a, b] = duplexPair();
  t.teardown(() => {
    a.destroy();
    b.destroy();
  });
  // Small chunks, each under the writable buffer's mark: write() says wait only once the
  // reader's buffer is full and the pair holds the writer's callbacks.
  const chunk = Buffer.alloc(1024);
  let writes = 0;
  while (a.write(chunk) && writes < 10_000) writes++;
  t.ok(writes < 100, `write() asked the writer to wait after ${writes} KiB were unread`);
  t.ok(b.readableLength > 0 && b.readableLength <= 64 * 1024, `the reader holds a bounded ${b.readableLength} bytes`);
  const drained = once(a, "drain");
  b.resume();
  await bounded(drained, 5_000, "drain once the reader reads");
  t.pass("the writer may go on once the reader has read");
});
