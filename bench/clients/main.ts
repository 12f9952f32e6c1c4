// A bench client process: connects to one server, then runs what the orchestrator asks over IPC.
// Usage: main.ts <client> <port> [serverPid]
//
// Requests (one at a time): {op:"warm", concurrency, ms}, {op:"slice", concurrency, ms} (measured,
// added to that concurrency's cell), {op:"result", concurrency} (the cell, then forgotten). Each is
// answered {ok:true, result?} or {ok:false, error}. The process says {ready:true} once connected
// and its first reply verified, and exits when the IPC channel closes.
import { CellMeter, warmUp } from "../load.js";
import type { BenchClient, Connect } from "./client.js";
import type { ClientReply, ClientRequest } from "../proc.js";

const clients: Record<string, () => Promise<{ connect: Connect }>> = {
  "raw-echo": () => import("./raw-echo.js"),
  "raw-json": () => import("./raw-json.js"),
  netrpc: () => import("./netrpc.js"),
  "netrpc-msgpack": async () => ({ connect: (await import("./netrpc.js")).connectMsgpack }),
  "netrpc-protobuf": async () => ({ connect: (await import("./netrpc.js")).connectProtobuf }),
  "netrpc-grpc": async () => ({ connect: (await import("./netrpc.js")).connectGrpc }),
  grpc: () => import("./grpc.js"),
  "raw-ws": () => import("./raw-ws.js"),
  "netrpc-ws": async () => ({ connect: (await import("./netrpc.js")).connectWs }),
  "netrpc-ws-msgpack": async () => ({ connect: (await import("./netrpc.js")).connectWsMsgpack }),
};

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
const send = (reply: ClientReply | { ready: true }) => process.send!(reply);

async function start(): Promise<BenchClient> {
  const [name = "", port = ""] = process.argv.slice(2);
  const load = clients[name];
  if (!load) throw new Error(`unknown client ${name}`);
  const client = await (await load()).connect(Number(port));
  client.verify(await client.call());
  return client;
}

function serve(client: BenchClient): void {
  const serverPid = process.argv[4] ? Number(process.argv[4]) : undefined;
  const call = () => client.call();
  const meters = new Map<number, CellMeter>();
  const meter = (c: number) => meters.get(c) ?? meters.set(c, new CellMeter(c, serverPid)).get(c)!;
  let failed: string | undefined; // after a failed call the connection is in an unknown state
  process.on("message", (req: ClientRequest) => {
    const run = async (): Promise<ClientReply> => {
      if (failed !== undefined) return { ok: false, error: `an earlier call failed: ${failed}` };
      if (req.op === "warm") await warmUp(call, req.concurrency, req.ms);
      else if (req.op === "slice") await meter(req.concurrency).slice(call, req.ms);
      else {
        const result = meter(req.concurrency).result();
        meters.delete(req.concurrency);
        return { ok: true, result };
      }
      return { ok: true };
    };
    run().then(send, (e: unknown) => {
      failed = message(e);
      send({ ok: false, error: failed });
    });
  });
  process.on("disconnect", () => {
    void Promise.race([client.close(), new Promise((r) => setTimeout(r, 1000))]).then(() => process.exit(0));
  });
  send({ ready: true });
}

start().then(serve, (e: unknown) => {
  send({ ok: false, error: message(e) });
  process.exit(1);
});
