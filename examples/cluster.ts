// Every core of one machine: the primary forks one worker per CPU, and each worker serves the
// example services on the same tcp:// port, which node:cluster shares between them (the primary
// accepts connections and hands them to the workers in turn).
//   npm run example-cluster -- --listen tcp://127.0.0.1:1234 [--workers 4]
// The primary prints `LISTENING <url>` once every worker is serving. SIGTERM (or SIGINT) stops
// the workers gracefully: calls in flight finish, then every process exits 0.
import cluster, { type Worker as ClusterWorker } from "node:cluster";
import os from "node:os";
import { parseArgs } from "node:util";

/** Which process answered: the primary hands each new connection to the next worker. */
export class Worker {
  Pid(): number {
    return process.pid;
  }
}

const { values } = parseArgs({
  options: {
    listen: { type: "string", default: "tcp://127.0.0.1:1234" },
    workers: { type: "string", default: String(os.availableParallelism()) },
  },
});

/** Worker to primary: serving at this url. Primary to worker: stop. */
type Message = { listening: string } | { stop: true };

if (cluster.isPrimary) primary();
else await worker();

function primary(): void {
  const count = Number(values.workers);
  if (!Number.isInteger(count) || count < 1) {
    process.stderr.write(`--workers must be a positive integer, got ${values.workers}\n`);
    process.exit(2);
  }
  const live = new Set<ClusterWorker>();
  const ready = new Set<ClusterWorker>();
  let stopping = false;
  let failed = false;

  const fork = (): void => {
    const w = cluster.fork();
    live.add(w);
    w.on("message", (msg: Message) => {
      if (typeof msg !== "object" || msg === null || !("listening" in msg)) return;
      ready.add(w);
      // Every worker has joined the shared port: clients may come.
      if (ready.size === count && !stopping) process.stdout.write(`LISTENING ${msg.listening}\n`);
    });
  };

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Each worker drains its own calls; the primary leaves once all of them have exited. A message
    // rather than a signal, so that Ctrl-C (which reaches the workers too) is not taken as a second one.
    for (const w of live) w.send({ stop: true } satisfies Message);
    if (live.size === 0) process.exit(1);
  };

  cluster.on("exit", (w, code, signal) => {
    live.delete(w);
    const wasReady = ready.delete(w);
    if (!stopping && wasReady) {
      process.stderr.write(`worker ${w.process.pid} exited (${signal ?? code}); starting another\n`);
      fork();
      return;
    }
    if (code !== 0) failed = true;
    // A worker that never got to serve (a bad address, say) would fail again: stop them all.
    if (!stopping) {
      process.stderr.write(`worker ${w.process.pid} exited (${signal ?? code}) before it was serving\n`);
      stop();
    }
    if (live.size === 0) process.exit(failed ? 1 : 0);
  });

  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  for (let i = 0; i < count; i++) fork();
}

async function worker(): Promise<void> {
  // Only workers load the library: the primary forks, relays the stop and waits.
  const { Server, registerHealth } = await import("../index.js");
  const { Arith, COUNTER_STREAMS, Counter, Slow, User, UserServer, USER_PROTO } = await import("./services.js");
  const server = new Server();
  server.register(new UserServer()).register(new Arith()).register(new Slow());
  server.register(new Counter(), COUNTER_STREAMS);
  server.register(new User(), { service: "user.User", proto: USER_PROTO });
  server.register(new Worker());
  const health = registerHealth(server);

  let stopping = false;
  const stop = (): void => {
    if (stopping) {
      // Asked twice (a second Ctrl-C): cut the calls in flight short.
      void server.close();
      return;
    }
    stopping = true;
    health.shutdown();
    void server.shutdown().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("message", (msg: Message) => {
    if (typeof msg === "object" && msg !== null && "stop" in msg && !stopping) stop();
  });

  // In a worker, node:cluster makes this listen() join the primary's socket for the address
  // (port 0 too: every worker's first listen on it shares one port).
  const listener = await server.listen(values.listen!);
  process.send!({ listening: listener.url } satisfies Message);
}
