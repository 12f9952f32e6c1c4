// Wire compatibility with Go's net/rpc/jsonrpc, proved against a real Go peer in both directions:
//   (a) Go's jsonrpc client -> our Server: every step answers exactly what Go's own server answers;
//   (b) our client -> Go's jsonrpc server: results, peer errors, concurrency, deadlines, close;
//   (c) byte level: the same request bytes get the same reply bytes from our server and Go's.
// Without `go` on PATH the file is skipped, except in CI (CI=true), where that is a failure.
import t from "tap";
import net from "node:net";
import { Server, dial, RpcError, Code } from "../index.js";
import { UserServer, Arith, Slow } from "../examples/services.js";
import {
  GO_MISSING_REASON,
  buildGo,
  goAvailable,
  runGoClient,
  startGoServer,
  type GoClientStep,
  type GoServer,
} from "./helpers/go.js";

/** What Go's own jsonrpc server answers to test/go/jsonrpc-client's script (recorded from Go 1.19, checked live below). */
const GO_REFERENCE: GoClientStep[] = [
  { step: "multiply", result: 56 },
  { step: "divide", result: { Quo: 3, Rem: 1 } },
  { step: "divide_by_zero", error: "divide by zero" },
  { step: "get_user_1", result: { Id: "1", Name: "bala", Phone: "13100001111" } },
  { step: "get_user_2", result: { Id: "2", Name: "小王", Phone: "13200001111" } },
  { step: "get_user_missing", error: "user not found" },
  { step: "unknown_service", error: "rpc: can't find service Nope.Hello" },
  { step: "unknown_method", error: "rpc: can't find method Arith.Nope" },
  { step: "ill_formed", error: "rpc: service/method request ill-formed: NoDot" },
  { step: "constructor", error: "rpc: can't find method Arith.constructor" },
  { step: "proto", error: "rpc: can't find method Arith.__proto__" },
  { step: "to_string", error: "rpc: can't find method Arith.toString" },
  { step: "concurrent", result: 200 },
];

/** Reject if `p` does not settle within `ms`, so no await in this file can hang. */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Settle `p` (bounded) and return what it rejected with, or fail if it resolved. */
async function rejection(p: Promise<unknown>, ms: number, what: string): Promise<unknown> {
  try {
    const v = await bounded(p, ms, what);
    throw new Error(`${what}: expected a rejection, resolved with ${JSON.stringify(v)}`);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith(`${what}: `)) throw err;
    return err;
  }
}

/** A raw TCP connection that writes request bytes and reads reply lines (bounded). */
class RawLines {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private ended: Error | undefined;

  private constructor(private readonly sock: net.Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    sock.on("error", (e) => {
      this.ended ??= e;
      this.waiter?.();
    });
    sock.on("close", () => {
      this.ended ??= new Error("connection closed by peer");
      this.waiter?.();
    });
  }

  static connect(port: number, host = "127.0.0.1", ms = 10_000): Promise<RawLines> {
    return bounded(
      new Promise<RawLines>((resolve, reject) => {
        const sock = net.connect({ port, host });
        sock.once("error", reject);
        sock.once("connect", () => {
          sock.off("error", reject);
          resolve(new RawLines(sock));
        });
      }),
      ms,
      `connect ${host}:${port}`,
    );
  }

  write(bytes: string | Buffer): void {
    this.sock.write(bytes);
  }

  /** Next reply line, without its "\n", as raw bytes. */
  async nextLine(ms = 10_000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.buf.subarray(0, nl);
        this.buf = this.buf.subarray(nl + 1);
        return Buffer.from(line);
      }
      if (this.ended) throw new Error(`no reply line: ${this.ended.message}; have ${JSON.stringify(this.buf.toString("utf8"))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply line within ${ms} ms; have ${JSON.stringify(this.buf.toString("utf8"))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** Write one request line and read one reply line, as a string. */
  async exchange(request: string, ms = 10_000): Promise<string> {
    this.write(request);
    return (await this.nextLine(ms)).toString("utf8");
  }

  close(): void {
    this.sock.destroy();
  }
}

if (!goAvailable()) {
  if (process.env.CI === "true") {
    t.fail(`${GO_MISSING_REASON} (CI=true, so Go interop must run)`);
  } else {
    t.plan(0, `skipped: ${GO_MISSING_REASON}`);
  }
} else {
  const [serverBin, clientBin] = await Promise.all([buildGo("test/go/jsonrpc-server"), buildGo("test/go/jsonrpc-client")]);

  const goServer: GoServer = await startGoServer(serverBin);
  t.teardown(() => goServer.close());

  const ours = new Server();
  ours.register(new UserServer());
  ours.register(new Arith());
  ours.register(new Slow());
  const listener = await ours.listen("tcp://127.0.0.1:0");
  t.teardown(() => ours.close());
  const ourPort = listener.port;
  if (typeof ourPort !== "number") throw new Error(`our TCP listener has no port: ${listener.url}`);
  const ourAddr = `127.0.0.1:${ourPort}`;
  t.comment(`Go server at ${goServer.address}, our server at ${listener.url}`);

  // ---------------------------------------------------------------- (a) Go client -> our server
  t.test("Go jsonrpc client -> Go jsonrpc server (the reference)", async (t) => {
    const steps = await runGoClient(clientBin, goServer.address);
    t.strictSame(steps, GO_REFERENCE, "Go's own server answers the recorded reference");
  });

  t.test("Go jsonrpc client -> our Server answers exactly like Go's server", async (t) => {
    const [reference, got] = await Promise.all([
      runGoClient(clientBin, goServer.address),
      runGoClient(clientBin, ourAddr),
    ]);
    t.strictSame(
      got.map((s) => s.step),
      reference.map((s) => s.step),
      "same steps, in order",
    );
    for (let i = 0; i < reference.length; i++) {
      const want = reference[i]!;
      t.strictSame(got[i], want, `step ${want.step}`);
    }
    // Explicit expectations for the key steps, independent of the live reference.
    const by = new Map(got.map((s) => [s.step, s]));
    t.strictSame(by.get("multiply"), { step: "multiply", result: 56 });
    t.strictSame(by.get("get_user_2"), GO_REFERENCE[4], "non-ASCII name survives both ways");
    t.strictSame(by.get("divide_by_zero"), { step: "divide_by_zero", error: "divide by zero" });
    t.strictSame(by.get("get_user_missing"), { step: "get_user_missing", error: "user not found" });
    t.strictSame(by.get("unknown_service"), { step: "unknown_service", error: "rpc: can't find service Nope.Hello" });
    t.strictSame(by.get("unknown_method"), { step: "unknown_method", error: "rpc: can't find method Arith.Nope" });
    t.strictSame(by.get("ill_formed"), { step: "ill_formed", error: "rpc: service/method request ill-formed: NoDot" });
    t.strictSame(by.get("constructor"), { step: "constructor", error: "rpc: can't find method Arith.constructor" });
    t.strictSame(by.get("proto"), { step: "proto", error: "rpc: can't find method Arith.__proto__" });
    t.strictSame(by.get("to_string"), { step: "to_string", error: "rpc: can't find method Arith.toString" });
    t.strictSame(by.get("concurrent"), { step: "concurrent", result: 200 });
  });

  // ---------------------------------------------------------------- (b) our client -> Go server
  t.test("our client -> Go jsonrpc server", async (t) => {
    const client = await bounded(dial(`tcp://${goServer.address}`), 10_000, "dial Go server");
    let closed = false;
    t.teardown(async () => {
      if (!closed) await client.close();
    });

    const expectPeerError = async (p: Promise<unknown>, message: string, what: string) => {
      const err = await rejection(p, 10_000, what);
      t.ok(err instanceof RpcError, `${what}: rejects with RpcError`);
      if (err instanceof RpcError) {
        t.equal(err.message, message, `${what}: message`);
        t.equal(err.fromPeer, true, `${what}: fromPeer`);
        t.type(err.code, "number", `${what}: has a numeric code`);
      } else {
        t.comment(`${what}: got ${String(err)}`);
      }
    };

    t.equal(await bounded(client.call("Arith.Multiply", { A: 7, B: 8 }), 10_000, "multiply"), 56, "Arith.Multiply");
    t.strictSame(await bounded(client.call("Arith.Divide", { A: 7, B: 2 }), 10_000, "divide"), { Quo: 3, Rem: 1 }, "Arith.Divide");
    t.strictSame(
      await bounded(client.call("UserServer.GetUser", { id: "2" }), 10_000, "get_user_2"),
      { Id: "2", Name: "小王", Phone: "13200001111" },
      "non-ASCII survives",
    );

    await expectPeerError(client.call("Arith.Divide", { A: 1, B: 0 }), "divide by zero", "divide by zero");
    await expectPeerError(client.call("UserServer.GetUser", { id: "3" }), "user not found", "user not found");
    await expectPeerError(client.call("Arith.Nope", { A: 1, B: 2 }), "rpc: can't find method Arith.Nope", "unknown method");
    await expectPeerError(client.call("Nope.Hello", { A: 1, B: 2 }), "rpc: can't find service Nope.Hello", "unknown service");

    const n = 200;
    const results = await bounded(
      Promise.all(Array.from({ length: n }, (_, i) => client.call("Arith.Multiply", { A: i, B: i }))),
      30_000,
      `${n} concurrent calls`,
    );
    t.strictSame(results, Array.from({ length: n }, (_, i) => i * i), `${n} concurrent calls all answered correctly`);

    // Deadline: Go ignores our extra members, so the deadline is enforced locally; the late reply must be ignored.
    const started = Date.now();
    const err = await rejection(client.call("Slow.Sleep", 2000, { timeout: 100 }), 5_000, "Slow.Sleep(2000) with timeout 100");
    const elapsed = Date.now() - started;
    t.ok(err instanceof RpcError, "timeout rejects with RpcError");
    if (err instanceof RpcError) t.equal(err.code, Code.DEADLINE_EXCEEDED, "code DEADLINE_EXCEEDED");
    else t.comment(`timeout: got ${String(err)}`);
    t.ok(elapsed < 1500, `rejected at the deadline, not at the reply (${elapsed} ms)`);
    t.equal(await bounded(client.call("Arith.Multiply", { A: 6, B: 7 }), 10_000, "after timeout"), 42, "connection works after a timeout");
    // Let Go's late reply to the abandoned call arrive, then check the connection is still sound.
    await sleep(Math.max(0, started + 2300 - Date.now()));
    t.equal(
      await bounded(client.call("Arith.Multiply", { A: 9, B: 9 }), 10_000, "after late reply"),
      81,
      "connection works after the abandoned call's late reply",
    );

    await bounded(client.close(), 10_000, "client.close()");
    closed = true;
    const late = await rejection(client.call("Arith.Multiply", { A: 1, B: 1 }), 5_000, "call after close");
    t.ok(late instanceof Error, `call after close() rejects (${String(late)})`);
  });

  // ---------------------------------------------------------------- (c) byte level
  t.test("byte level: same request bytes, same reply bytes", async (t) => {
    const goConn = await RawLines.connect(goServer.port, goServer.host);
    const ourConn = await RawLines.connect(ourPort, "127.0.0.1");
    t.teardown(() => {
      goConn.close();
      ourConn.close();
    });

    const multiply = `{"method":"Arith.Multiply","params":[{"A":7,"B":8}],"id":0}\n`;
    const multiplyReply = `{"id":0,"result":56,"error":null}`;
    t.equal(await goConn.exchange(multiply), multiplyReply, "Go server: multiply reply bytes");
    t.equal(await ourConn.exchange(multiply), multiplyReply, "our server: multiply reply bytes");

    const divide = `{"method":"Arith.Divide","params":[{"A":1,"B":0}],"id":1}\n`;
    const divideReply = `{"id":1,"result":null,"error":"divide by zero"}`;
    const goDivide = await goConn.exchange(divide);
    t.equal(goDivide, divideReply, "Go server: divide-by-zero reply bytes");
    const ourDivide = await ourConn.exchange(divide);
    assertErrorLine(t, ourDivide, goDivide, "divide by zero");
  });

  t.test("byte level: more requests, our reply matches Go's", async (t) => {
    const goConn = await RawLines.connect(goServer.port, goServer.host);
    const ourConn = await RawLines.connect(ourPort, "127.0.0.1");
    t.teardown(() => {
      goConn.close();
      ourConn.close();
    });
    const requests: Array<[string, string]> = [
      ["non-ASCII result, raw UTF-8", `{"method":"UserServer.GetUser","params":[{"id":"2"}],"id":2}\n`],
      ["struct result", `{"method":"Arith.Divide","params":[{"A":7,"B":2}],"id":3}\n`],
      ["user not found", `{"method":"UserServer.GetUser","params":[{"id":"3"}],"id":4}\n`],
      ["unknown method", `{"method":"Arith.Nope","params":[{"A":1,"B":2}],"id":5}\n`],
      ["unknown service", `{"method":"Nope.Hello","params":[{"A":1,"B":2}],"id":6}\n`],
      ["ill-formed name", `{"method":"NoDot","params":[{"A":1,"B":2}],"id":7}\n`],
      ["prototype name", `{"method":"Arith.constructor","params":[{"A":1,"B":2}],"id":8}\n`],
      ["string id echoed", `{"method":"Arith.Multiply","params":[{"A":2,"B":3}],"id":"abc"}\n`],
    ];
    for (const [what, req] of requests) {
      const goReply = await goConn.exchange(req);
      const ourReply = await ourConn.exchange(req);
      const parsed = JSON.parse(goReply) as { error: unknown };
      if (parsed.error === null) t.equal(ourReply, goReply, `${what}: identical bytes`);
      else assertErrorLine(t, ourReply, goReply, what);
    }
    // Several requests in one write (pipelined): every one answered, ids echoed.
    const batch = [0, 1, 2, 3, 4].map((i) => `{"method":"Arith.Multiply","params":[{"A":${i},"B":10}],"id":${100 + i}}\n`).join("");
    for (const [name, conn] of [["Go", goConn], ["our", ourConn]] as const) {
      conn.write(batch);
      const lines: string[] = [];
      for (let i = 0; i < 5; i++) lines.push((await conn.nextLine()).toString("utf8"));
      lines.sort();
      t.strictSame(
        lines,
        [0, 1, 2, 3, 4].map((i) => `{"id":${100 + i},"result":${i * 10},"error":null}`).sort(),
        `${name} server: pipelined requests all answered`,
      );
    }
  });
}

/** A tap subtest's `t` (from the last overload of t.test: `(cb: (t) => any)`). */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

/**
 * An error reply from our server may carry extra members after Go's (e.g. `,"code":2`):
 * its id/result/error must equal Go's and the line must start with Go's line minus the closing brace.
 */
function assertErrorLine(t: TapTest, ours: string, go: string, what: string): void {
  let parsed: { id?: unknown; result?: unknown; error?: unknown } | undefined;
  try {
    parsed = JSON.parse(ours) as typeof parsed;
  } catch {
    t.fail(`${what}: our reply is not JSON: ${JSON.stringify(ours)}`);
    return;
  }
  const goParsed = JSON.parse(go) as { id: unknown; result: unknown; error: unknown };
  t.strictSame(
    { id: parsed!.id, result: parsed!.result, error: parsed!.error },
    { id: goParsed.id, result: goParsed.result, error: goParsed.error },
    `${what}: id/result/error equal Go's`,
  );
  const prefix = go.slice(0, -1);
  t.ok(ours.startsWith(prefix), `${what}: starts with Go's bytes ${prefix}`, { found: ours, wanted: `${prefix}...}` });
}
