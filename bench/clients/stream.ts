// A stream row's client process: reads one-way streams for warm-up + duration, prints one RESULT line.
// Usage: stream.ts <client> <port> <durationMs> <warmupMs> [serverPid]
import { processCpuUs } from "../load.js";
import type { ConnectStream } from "./client.js";

export interface StreamCellResult {
  messages: number;
  messagesPerSec: number;
  /** CPU time (user + system) per message of this process, and of the server's (NaN where unreadable), in µs. */
  clientCpuUs: number;
  serverCpuUs: number;
}

const clients: Record<string, () => Promise<ConnectStream>> = {
  "raw-ws": async () => (await import("./raw-ws.js")).connectStream,
  netrpc: async () => (await import("./netrpc.js")).streamTcp,
  "netrpc-msgpack": async () => (await import("./netrpc.js")).streamTcpMsgpack,
  "netrpc-ws": async () => (await import("./netrpc.js")).streamWs,
  "netrpc-ws-msgpack": async () => (await import("./netrpc.js")).streamWsMsgpack,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<StreamCellResult> {
  const [name = "", port = "", duration = "", warmup = "", pid = ""] = process.argv.slice(2);
  const load = clients[name];
  if (!load) throw new Error(`unknown stream client ${name}`);
  const client = await (await load())(Number(port));
  const serverPid = pid ? Number(pid) : undefined;
  let count = 0;
  let failure: unknown;
  const running = client.run(() => count++).catch((e: unknown) => (failure = e));
  // The timers fire between messages: the count at each is what had been read by then.
  await sleep(Number(warmup));
  const start = { count, at: process.hrtime.bigint(), cpu: process.cpuUsage(), server: processCpuUs(serverPid) };
  await sleep(Number(duration));
  const messages = count - start.count;
  const seconds = Number(process.hrtime.bigint() - start.at) / 1e9;
  const used = process.cpuUsage(start.cpu);
  const serverUsed = processCpuUs(serverPid) - start.server;
  await client.close();
  await Promise.race([running, sleep(1000)]);
  if (failure !== undefined) throw failure;
  if (messages === 0) throw new Error("no messages arrived");
  return { messages, messagesPerSec: messages / seconds, clientCpuUs: (used.user + used.system) / messages, serverCpuUs: serverUsed / messages };
}

main().then(
  (result) => {
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
  },
  (e: unknown) => {
    process.stdout.write(`FAILED ${JSON.stringify(e instanceof Error ? e.message : String(e))}\n`, () => process.exit(1));
  },
);
// The orchestrator went away: do not linger.
process.on("disconnect", () => process.exit(2));
