// The example server as a user runs it: flags, LISTENING lines, real calls, clean stop on SIGTERM.
import t from "tap";
import os from "node:os";
import path from "node:path";
import { dial, protobuf, Code, RpcError } from "../index.js";
import { USER_PROTO } from "../examples/services.js";
import { startTs, runTs } from "./helpers/process.js";

const sock = path.join(os.tmpdir(), `netrpc-example-${process.pid}.sock`);

t.test("example server listens on every --listen address and serves the classic services", async (t) => {
  const server = await startTs("examples/server.ts", ["--listen", "tcp://127.0.0.1:0", "--listen", `unix://${sock}`], 2);
  t.teardown(() => void server.child.kill("SIGKILL"));
  const [tcpUrl, unixUrl] = server.urls;
  t.match(tcpUrl, /^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/, "port 0 is reported as the real port");
  t.equal(unixUrl, `unix://${sock}`);

  for (const url of server.urls) {
    const client = await dial(url!);
    t.same(await client.call("UserServer.GetUser", { id: "1" }), { Id: "1", Name: "bala", Phone: "13100001111" });
    t.same(await client.call("UserServer.GetUser", { id: "2" }), { Id: "2", Name: "小王", Phone: "13200001111" });
    await t.rejects(client.call("UserServer.GetUser", { id: "9" }), { code: Code.NOT_FOUND, message: "user not found" });
    t.equal(await client.call("Arith.Multiply", { A: 6, B: 7 }), 42);
    t.same(await client.call("Arith.Divide", { A: 17, B: 5 }), { Quo: 3, Rem: 2 });
    await t.rejects(client.call("Arith.Divide", { A: 1, B: 0 }), { code: Code.UNKNOWN, message: "divide by zero" });
    t.equal(await client.call("Slow.Sleep", 5), 5);
    await t.rejects(client.call("Slow.Sleep", 60_000), { code: Code.INVALID_ARGUMENT }, "sleeps over 10 s are refused");
    await client.close();
  }

  // The same port serves msgpack and, for user.User from user.proto, protobuf.
  const viaMsgpack = await dial(`${tcpUrl}?codec=msgpack`);
  t.same(await viaMsgpack.call("Arith.Divide", { A: 17, B: 5 }), { Quo: 3, Rem: 2 });
  await viaMsgpack.close();
  const viaProto = await dial(tcpUrl!, { codec: protobuf({ proto: USER_PROTO }) });
  t.same(await viaProto.call("user.User.GetUser", { id: "2" }), { id: "2", name: "小王", phone: "13200001111" });
  await t.rejects(viaProto.call("user.User.GetUser", { id: "9" }), { code: Code.NOT_FOUND, message: "user not found" });
  await viaProto.close();

  // A call in flight when SIGTERM arrives still gets its answer; then the process exits 0.
  const client = await dial(tcpUrl!);
  const slow = client.call("Slow.Sleep", 300);
  await new Promise((r) => setTimeout(r, 50));
  server.child.kill("SIGTERM");
  t.equal(await slow, 300, "in-flight call finished during shutdown");
  t.equal(await server.exited, 0, "exits cleanly on SIGTERM");
  await client.close();
});

t.test("example client prints the classic calls", async (t) => {
  const server = await startTs("examples/server.ts", ["--listen", "tcp://127.0.0.1:0"], 1);
  t.teardown(() => void server.child.kill("SIGKILL"));
  const run = await runTs("examples/client.ts", ["--addr", server.urls[0]!]);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /GetUser 2 .*小王/);
  t.match(run.stdout, /Arith.Divide 1\/0 .*UNKNOWN: divide by zero/);
});

t.test("Slow.Sleep honours the caller's cancel", async (t) => {
  const server = await startTs("examples/server.ts", ["--listen", "tcp://127.0.0.1:0"], 1);
  t.teardown(() => void server.child.kill("SIGKILL"));
  const client = await dial(server.urls[0]!);
  t.teardown(() => client.close());
  const err = await client.call("Slow.Sleep", 10_000, { timeout: 50 }).catch((e: unknown) => e);
  t.ok(err instanceof RpcError && err.code === Code.DEADLINE_EXCEEDED);
  t.equal(await client.call("Arith.Multiply", { A: 2, B: 3 }), 6, "connection still serves");
});

t.test("example server over gRPC: grpc:// and the HTTP/2 preface on its tcp port, health, reflection, streams", async (t) => {
  const server = await startTs("examples/server.ts", ["--listen", "grpc://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0"], 2);
  t.teardown(() => void server.child.kill("SIGKILL"));
  const [grpcUrl, tcpUrl] = server.urls;
  t.match(grpcUrl, /^grpc:\/\/127\.0\.0\.1:[1-9]\d*$/);
  for (const url of [grpcUrl!, tcpUrl!.replace("tcp://", "grpc://")]) {
    const viaProto = await dial(url, { proto: USER_PROTO });
    t.same(await viaProto.call("user.User.GetUser", { id: "1" }), { id: "1", name: "bala", phone: "13100001111" }, `${url}: user.proto over gRPC`);
    await t.rejects(viaProto.call("user.User.GetUser", { id: "9" }), { code: Code.NOT_FOUND, message: "user not found", fromPeer: true });
    await viaProto.close();
    const viaJson = await dial(url);
    t.same(await viaJson.call("Arith.Divide", { A: 17, B: 5 }), { Quo: 3, Rem: 2 }, "plain services over application/grpc+json");
    const counted: number[] = [];
    for await (const n of viaJson.serverStream<number>("Counter.Count", 4)) counted.push(n);
    t.same(counted, [0, 1, 2, 3], "a server stream");
    const totals: number[] = [];
    for await (const n of viaJson.bidiStream<number>("Counter.Sum", [5, 6, 7])) totals.push(n);
    t.same(totals, [5, 11, 18], "a bidi stream");
    await viaJson.close();
  }
  const { listServices, healthRoot } = await import("../index.js");
  t.same(await listServices(grpcUrl!), ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "user.User"]);
  const health = await dial(grpcUrl!, { codec: protobuf({ root: healthRoot() }) });
  t.same(await health.call("grpc.health.v1.Health.Check", { service: "" }), { status: "SERVING" });
  await health.close();
  server.child.kill("SIGTERM");
  t.equal(await server.exited, 0, "exits cleanly on SIGTERM");
});
