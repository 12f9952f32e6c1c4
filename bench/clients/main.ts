// A bench client process: connects to one server, runs every concurrency cell, prints one RESULT line.
// Usage: main.ts <client> <port> <concurrency,...> <durationMs> <warmupMs> [serverPid]
import { runCell, type CellResult } from "../load.js";
import type { Connect } from "./client.js";

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

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function main(): Promise<CellResult[]> {
  const [name = "", port = "", conc = "", duration = "", warmup = "", pid = ""] = process.argv.slice(2);
  const load = clients[name];
  if (!load) throw new Error(`unknown client ${name}`);
  const { connect } = await load();
  const client = await connect(Number(port));
  const results: CellResult[] = [];
  try {
    client.verify(await client.call());
    for (const c of conc.split(",").map(Number)) {
      try {
        results.push(await runCell(() => client.call(), c, Number(duration), Number(warmup), pid ? Number(pid) : undefined));
      } catch (e) {
        // The connection is in an unknown state (calls may still be in flight): stop here.
        results.push({ concurrency: c, calls: 0, callsPerSec: NaN, p50us: NaN, p99us: NaN, clientCpuUs: NaN, serverCpuUs: NaN, error: message(e) });
        break;
      }
    }
  } finally {
    await Promise.race([client.close(), new Promise((r) => setTimeout(r, 1000))]);
  }
  return results;
}

main().then(
  (results) => {
    process.stdout.write(`RESULT ${JSON.stringify(results)}\n`, () => process.exit(0));
  },
  (e: unknown) => {
    process.stdout.write(`FAILED ${JSON.stringify(message(e))}\n`, () => process.exit(1));
  },
);
// The orchestrator went away: do not linger.
process.on("disconnect", () => process.exit(2));
