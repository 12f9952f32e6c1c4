// The streams section: one-way messages/s of a server-streaming call per stream row (each cell a
// server and a clients/stream.ts process), the median over runs, its table against raw-ws.
import type { StreamCellResult } from "./clients/stream.js";
import { runClient, startServer } from "./proc.js";
import { markdownTable, median, times } from "./report.js";
import type { Row } from "./rows.js";
import { STREAM_COUNT, STREAM_MESSAGE, STREAM_METHOD } from "./stream.js";

/** The row the others are divided by: plain ws, the server sending as fast as the socket takes it. */
const ANCHOR = "raw-ws-stream";

export interface StreamOutcome {
  row: Row;
  /** One entry per run. */
  runs: StreamCellResult[];
  /** Why the row has no numbers. */
  note?: string;
}

/** Runs every row's cell once (one run): its own server process and client process. */
export async function runStreamCells(
  outcomes: StreamOutcome[],
  durationMs: number,
  warmupMs: number,
  prof: (who: "server" | "client", tag: string) => string[],
  /** "1/3": which run this is, for the tags of profiles and the log. */
  run: string,
  log: (s: string) => void,
): Promise<void> {
  for (const o of outcomes) {
    if (o.note) continue;
    const tag = `${o.row.id}-run${run.split("/")[0]}`;
    try {
      const server = await startServer(o.row.server, prof("server", tag));
      try {
        const args = [o.row.client, String(server.port), String(durationMs), String(warmupMs), String(server.pid ?? "")];
        const cell = (await runClient("clients/stream.ts", args, 30_000 + durationMs + warmupMs, prof("client", tag))) as StreamCellResult;
        o.runs.push(cell);
        const f = (x: number | null) => (typeof x === "number" ? x.toFixed(2) : "?"); // NaN arrives as null
        log(`[run ${run}] stream ${o.row.name}: ${Math.round(cell.messagesPerSec)} messages/s, client cpu ${f(cell.clientCpuUs)}µs/message, server cpu ${f(cell.serverCpuUs)}µs/message`);
      } finally {
        await server.stop();
      }
    } catch (e) {
      o.note = `failed: ${e instanceof Error ? e.message : String(e)}`;
      log(`[run ${run}] stream ${o.row.name}: ${o.note}`);
    }
  }
}

const num = (x: unknown): number => (typeof x === "number" ? x : NaN); // NaN travels as null in JSON

function cellOf(o: StreamOutcome | undefined): StreamCellResult | undefined {
  if (!o || o.runs.length === 0) return undefined;
  const m = (f: (c: StreamCellResult) => number) => median(o.runs.map((c) => num(f(c))));
  return { messages: m((c) => c.messages), messagesPerSec: m((c) => c.messagesPerSec), clientCpuUs: m((c) => c.clientCpuUs), serverCpuUs: m((c) => c.serverCpuUs) };
}

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "—");
const us = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "—");

export function streamTable(outcomes: StreamOutcome[]): string {
  const anchor = cellOf(outcomes.find((o) => o.row.id === ANCHOR));
  const header = ["stream", "messages/s", "× raw-ws", "client CPU µs/msg", "server CPU µs/msg"];
  const rows = outcomes.map((o) => {
    const c = cellOf(o);
    if (!c) return [o.row.name, o.note ? "error" : "—", "—", "—", "—"];
    return [o.row.name, int(c.messagesPerSec), times(c.messagesPerSec / (anchor?.messagesPerSec ?? NaN)), us(c.clientCpuUs), us(c.serverCpuUs)];
  });
  return markdownTable(header, rows);
}

export function streamNotes(outcomes: StreamOutcome[]): string[] {
  return outcomes.filter((o) => o.note).map((o) => `stream ${o.row.name}: ${o.note}`);
}

/** The RESULTS.md section. */
export function streamMarkdown(outcomes: StreamOutcome[], durationMs: number, warmupMs: number, runs: number): string {
  return `## Streams (one-way messages/s)

One server-streaming call at a time on one connection, client and server in separate processes:
netrpc rows call \`${STREAM_METHOD}(${STREAM_COUNT})\` (bench/stream.ts, an \`async *\` method yielding
0, 1, 2, …, one message each) and count the messages as the loop reads them, with the stream's
flow control on (credit both ways); \`raw-ws one-way\` is the ceiling: a plain \`ws\` server sending
\`${STREAM_MESSAGE}\` (as long as netrpc's JSON envelope of one tick) as fast as the socket
takes it, a plain \`ws\` client counting. ${warmupMs} ms warm-up, then ${durationMs} ms counted; ${runs} run(s)${runs > 1 ? ", median" : ""}.
CPU is each process's user + system time per message (the server's from /proc, in 10 ms ticks).

${streamTable(outcomes)}
`;
}
