// Limits on the gRPC side of a server: the handshake time of a new HTTP/2 connection, and
// replies whose compression changes from message to message within one stream.
import t from "tap";
import net from "node:net";
import http2 from "node:http2";
import { Server, type CallContext } from "../../index.js";
import { bounded } from "../helpers/net.js";

/** Connects and sends `bytes`, then nothing; resolves when the server closes the socket. */
function stall(port: number, bytes: string): Promise<"closed"> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(bytes));
    socket.on("error", () => {});
    socket.on("close", () => resolve("closed"));
    setTimeout(() => reject(new Error("still open")), 10_000).unref();
  });
}

t.test("a connection that starts the HTTP/2 preface and stalls is closed after handshakeTimeout", async (t) => {
  const server = new Server({ handshakeTimeout: 200 });
  server.register({ Ping: () => "pong" }, { name: "P" });
  t.teardown(() => server.close());
  const grpc = await server.listen("grpc://127.0.0.1:0");
  const tcp = await server.listen("tcp://127.0.0.1:0");
  t.equal(await bounded(stall(grpc.port!, "PRI * HTTP/2.0\r\n"), 10_000, "grpc port"), "closed", "grpc:// port");
  t.equal(await bounded(stall(tcp.port!, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 10_000, "tcp port"), "closed", "tcp port, after the preface itself");
});

t.test("a stream's replies are compressed message by message, as ctx.compressResponse says", async (t) => {
  const server = new Server();
  server.register(
    {
      async *Mixed(_: unknown, ctx: CallContext) {
        ctx.compressResponse = false;
        yield "a".repeat(200);
        ctx.compressResponse = true;
        yield "b".repeat(200);
        ctx.compressResponse = false;
        yield "c".repeat(200);
      },
    },
    { name: "C" },
  );
  t.teardown(() => server.close());
  const { port } = await server.listen("grpc://127.0.0.1:0");
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  const req = session.request({ ":method": "POST", ":path": "/C/Mixed", "content-type": "application/grpc+json", te: "trailers", "grpc-accept-encoding": "identity,gzip" });
  req.end(Buffer.concat([Buffer.from([0, 0, 0, 0, 4]), Buffer.from("null")]));
  const { encoding, body } = await bounded(
    new Promise<{ encoding: unknown; body: Buffer }>((resolve) => {
      let encoding: unknown;
      const chunks: Buffer[] = [];
      req.on("response", (h) => (encoding = h["grpc-encoding"]));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve({ encoding, body: Buffer.concat(chunks) }));
    }),
    10_000,
    "stream",
  );
  const flags: number[] = [];
  for (let at = 0; at < body.length && flags.length < 10; at += 5 + body.readUInt32BE(at + 1)) flags.push(body[at]!);
  t.equal(encoding, "gzip", "a stream to a gzip-accepting client says grpc-encoding: gzip");
  t.same(flags, [0, 1, 0], "each message's flag follows ctx.compressResponse");
});

t.test("shutdown() waits for handlers whose callers gave up, as on tcp", async (t) => {
  const { dial, Code } = await import("../../index.js");
  const server = new Server();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  let returned = false;
  server.register(
    {
      async Stubborn() {
        started();
        await released; // ignores ctx.signal on purpose
        returned = true;
        return "late";
      },
    },
    { name: "S" },
  );
  t.teardown(() => server.close());
  const { url } = await server.listen("grpc://127.0.0.1:0");
  const client = await dial(url);
  t.teardown(() => client.close());
  const ac = new AbortController();
  const call = client.call("S.Stubborn", null, { signal: ac.signal });
  await bounded(running, 10_000, "handler start");
  ac.abort();
  const err = (await call.then(() => undefined, (e: unknown) => e)) as { code?: number } | undefined;
  t.equal(err?.code, Code.CANCELLED, "the caller is cancelled at once");
  let shutDown = false;
  const stopping = server.shutdown().then(() => (shutDown = true));
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  t.equal(shutDown, false, "shutdown is still waiting for the handler");
  release();
  await bounded(stopping, 10_000, "shutdown");
  t.equal(returned, true, "shutdown resolved after the handler returned");
});
