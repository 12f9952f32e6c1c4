// Turns per-run cell results into the table, the ratios with their targets, and bench/RESULTS.md.
import type { CellResult } from "./load.js";
import { ROW, type Row } from "./rows.js";

export interface RowOutcome {
  row: Row;
  /** One entry per run, each with one cell per concurrency. */
  runs: CellResult[][];
  /** Why the row has no numbers (skipped or failed). */
  note?: string;
}

export interface Cell {
  callsPerSec: number;
  p50us: number;
  p99us: number;
  error?: string;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const num = (x: unknown): number => (typeof x === "number" ? x : NaN); // NaN travels as null in JSON

/** The median of each metric over the runs, for one row and one concurrency. */
export function cellOf(outcome: RowOutcome | undefined, concurrency: number): Cell | undefined {
  if (!outcome || outcome.runs.length === 0) return undefined;
  const cells = outcome.runs.map((run) => run.find((c) => c.concurrency === concurrency));
  const error = cells.map((c) => (c ? c.error : "no result")).find((e) => e !== undefined);
  if (error !== undefined) return { callsPerSec: NaN, p50us: NaN, p99us: NaN, error };
  const ok = cells as CellResult[];
  return {
    callsPerSec: median(ok.map((c) => num(c.callsPerSec))),
    p50us: median(ok.map((c) => num(c.p50us))),
    p99us: median(ok.map((c) => num(c.p99us))),
  };
}

const rate = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "—");
const micros = (x: number) => (!Number.isFinite(x) ? "—" : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString("en-US"));
export const times = (x: number) => (Number.isFinite(x) ? `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×` : "—");

export function markdownTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

export function resultsTable(outcomes: RowOutcome[], concurrency: number[]): string {
  const header = ["row", ...concurrency.flatMap((c) => [`c=${c} calls/s`, `c=${c} p50 µs`, `c=${c} p99 µs`])];
  const rows = outcomes.map((o) => [
    o.row.name,
    ...concurrency.flatMap((c) => {
      const cell = cellOf(o, c);
      if (!cell) return [o.note ? "skipped" : "—", "—", "—"];
      if (cell.error) return ["error", "—", "—"];
      return [rate(cell.callsPerSec), micros(cell.p50us), micros(cell.p99us)];
    }),
  ]);
  return markdownTable(header, rows);
}

interface Ratio {
  label: string;
  num: string;
  den: string;
  metric: "callsPerSec" | "p50us";
  /** Target: at concurrency `at` (or at every one measured), ratio >= min or <= max; none for a ratio that is only reported. */
  target?: { at: number | "every"; min?: number; max?: number };
}

const RATIOS: Ratio[] = [
  { label: "calls/s netrpc tcp+json / raw-json", num: ROW.netrpc, den: ROW.rawJson, metric: "callsPerSec", target: { at: 128, min: 0.6 } },
  { label: "calls/s netrpc tcp+msgpack / tcp+json", num: ROW.netrpcMsgpack, den: ROW.netrpc, metric: "callsPerSec", target: { at: "every", min: 1 } },
  { label: "calls/s netrpc tcp+protobuf / tcp+json", num: ROW.netrpcProtobuf, den: ROW.netrpc, metric: "callsPerSec", target: { at: "every", min: 1 } },
  { label: "calls/s netrpc ws+json / raw-ws", num: ROW.netrpcWs, den: ROW.rawWs, metric: "callsPerSec" },
  { label: "calls/s netrpc ws+msgpack / raw-ws", num: ROW.netrpcWsMsgpack, den: ROW.rawWs, metric: "callsPerSec", target: { at: 128, min: 0.5 } },
  { label: "calls/s netrpc tcp+json / grpc-js", num: ROW.netrpc, den: ROW.grpc, metric: "callsPerSec", target: { at: 128, min: 10 } },
  { label: "calls/s netrpc server / go server", num: ROW.netrpcServer, den: ROW.go, metric: "callsPerSec", target: { at: 128, min: 1.2 } },
  { label: "p50 netrpc tcp+json / raw-json", num: ROW.netrpc, den: ROW.rawJson, metric: "p50us", target: { at: 1, max: 1.5 } },
  { label: "calls/s netrpc grpc (both ends) / grpc-js (both ends)", num: ROW.netrpcGrpc, den: ROW.grpc, metric: "callsPerSec" },
  { label: "calls/s grpc-js client → netrpc server / grpc-js (both ends)", num: ROW.grpcToNetrpc, den: ROW.grpc, metric: "callsPerSec" },
  { label: "calls/s netrpc client → grpc-js server / grpc-js (both ends)", num: ROW.netrpcToGrpc, den: ROW.grpc, metric: "callsPerSec" },
];

export function ratiosTable(outcomes: RowOutcome[], concurrency: number[]): string {
  const byId = new Map(outcomes.map((o) => [o.row.id, o]));
  const ratio = (r: Ratio, c: number) => {
    const a = cellOf(byId.get(r.num), c)?.[r.metric] ?? NaN;
    const b = cellOf(byId.get(r.den), c)?.[r.metric] ?? NaN;
    return a / b;
  };
  const header = ["ratio", ...concurrency.map((c) => `c=${c}`), "target", "status"];
  const bound = (x: number) => (Number.isInteger(x) && x < 10 ? x.toFixed(1) : String(x));
  const rows = RATIOS.map((r) => {
    if (!r.target) return [r.label, ...concurrency.map((c) => times(ratio(r, c))), "—", "reported"];
    const { at, min, max } = r.target;
    const where = at === "every" ? "at every concurrency" : `at c=${at}`;
    const target = min !== undefined ? `≥ ${bound(min)}× ${where}` : `≤ ${bound(max!)}× ${where}`;
    const xs = at === "every" ? concurrency.map((c) => ratio(r, c)) : [concurrency.includes(at) ? ratio(r, at) : NaN];
    const ok = (x: number) => (min !== undefined ? x >= min : x <= max!);
    const status = xs.length === 0 || !xs.every(Number.isFinite) ? "n/a" : xs.every(ok) ? "met" : "NOT met";
    return [r.label, ...concurrency.map((c) => times(ratio(r, c))), target, status];
  });
  return markdownTable(header, rows);
}

export function notes(outcomes: RowOutcome[]): string[] {
  return outcomes.filter((o) => o.note).map((o) => `${o.row.name}: ${o.note}`);
}

export interface Environment {
  command: string;
  date: string;
  node: string;
  cpu: string;
  cores: number;
  durationMs: number;
  warmupMs: number;
  sliceMs: number;
  runs: number;
}

/** `codecs` and `streams`: the codec micro-benchmark's and the streams' sections (codec-bench.ts, stream-bench.ts), if they ran. */
export function resultsMarkdown(env: Environment, table: string, ratios: string, rowNotes: string[], codecs = "", streams = ""): string {
  return `# Benchmark results

Unary \`UserServer.GetUser({id:"1"})\` → \`{"Id":"1","Name":"bala","Phone":"13100001111"}\` over one
connection, closed loop with exactly c calls in flight, client and server in separate processes on
the same machine; the msgpack row makes the same call over msgpack, the protobuf row calls
\`user.User.GetUser\` (examples/user/user.proto, fields \`id\`, \`name\`, \`phone\`) on the same
server, the ws rows make it over WebSocket (one message per envelope) against \`raw-ws\`, a plain
\`ws\` echo. Generated by \`bench/run.ts\`; see \`bench/README.md\` for what each row is.
Numbers from a shared or virtual machine vary between runs: \`--runs N\` reports the median per cell.

- command: \`${env.command}\`
- date: ${env.date}
- node: ${env.node}
- CPU: ${env.cpu} × ${env.cores} cores
- per cell: ${env.warmupMs} ms warm-up, then ${env.durationMs} ms measured in slices of ${env.sliceMs} ms that the rows take in turn; ${env.runs} run(s)${env.runs > 1 ? ", median per cell" : ""}

## Calls per second and latency

${table}

## Ratios

${ratios}
${streams ? `\n${streams}` : ""}${codecs ? `\n${codecs}` : ""}${rowNotes.length > 0 ? `\n## Notes\n\n${rowNotes.map((n) => `- ${n}`).join("\n")}\n` : ""}`;
}
