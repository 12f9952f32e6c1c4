// The node:cluster example as a user runs it: workers sharing one port, each answering in turn,
// and a graceful stop on SIGTERM that lets a call in flight finish.
import t from "tap";
import { dial, type Client } from "../index.js";
import { startTs } from "./helpers/process.js";
import { bounded } from "./helpers/net.js";

t.test("cluster example: two workers on one port answer, and SIGTERM stops them all cleanly", async (t) => {
  const primary = await startTs("examples/cluster.ts", ["--listen", "tcp://127.0.0.1:0", "--workers", "2"], 1, 60_000);
  // Three processes start at once, so the wait is longer than for one. Workers exit by themselves when the primary dies.
  t.teardown(() => void primary.child.kill("SIGKILL"));
  const url = primary.urls[0]!;
  t.match(url, /^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/, "the primary prints the shared port");

  // The primary hands each new connection to the next worker: connect until both have answered.
  const pids = new Set<number>();
  await bounded(
    (async () => {
      for (let i = 0; i < 50 && pids.size < 2; i++) {
        const c = await dial(url);
        pids.add(await c.call<number>("Worker.Pid"));
        t.strictSame(await c.call("UserServer.GetUser", { id: "1" }), { Id: "1", Name: "bala", Phone: "13100001111" });
        await c.close();
      }
    })(),
    30_000,
    "answers from both workers",
  );
  t.equal(pids.size, 2, "two workers answered");
  t.notOk(pids.has(primary.child.pid!), "the primary serves no calls itself");

  // A stream in flight on one worker, held by flow control, while SIGTERM arrives.
  const client: Client = await dial(url);
  t.teardown(() => client.close());
  const watch = client.serverStream<{ status: string }>("grpc.health.v1.Health.Watch", { service: "" })[Symbol.asyncIterator]();
  const next = <T>(it: AsyncIterator<T>) => bounded(it.next(), 10_000, "next reply");
  t.strictSame((await next(watch)).value, { status: "SERVING" });
  const count = client.serverStream<number>("Counter.Count", 100)[Symbol.asyncIterator]();
  t.equal((await next(count)).value, 0, "the stream is running");

  primary.child.kill("SIGTERM");
  t.strictSame((await next(watch)).value, { status: "NOT_SERVING" }, "the worker has begun its graceful shutdown");
  await watch.return?.();
  let last = 0;
  for (;;) {
    const r = await next(count);
    if (r.done) break;
    last = r.value;
  }
  t.equal(last, 99, "the stream in flight got every reply");
  t.equal(await bounded(primary.exited, 30_000, "the primary's exit"), 0, "every process exits cleanly");
});
