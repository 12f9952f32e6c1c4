// `npm run bench`: runs every row's server and client as separate processes, prints and records the table.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, type Options } from "./args.js";
import { codecMarkdown, codecNotes, codecOutcomes, codecTable, codecTarget, runCodecCells, type CodecOutcome } from "./codec-bench.js";
import type { CellResult } from "./load.js";
import { runClient, startServer, type Running } from "./proc.js";
import { notes, ratiosTable, resultsMarkdown, resultsTable, type RowOutcome } from "./report.js";
import type { Row } from "./rows.js";
import { runStreamCells, streamMarkdown, streamNotes, streamTable, type StreamOutcome } from "./stream-bench.js";

const log = (s: string) => process.stderr.write(`${s}\n`);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Resolves the Go server binary, or marks the row skipped with the reason. */
async function goBinary(outcome: RowOutcome): Promise<string | undefined> {
  try {
    const { prepareGo } = await import("./go-server.js");
    const bin = await prepareGo();
    if (!bin) outcome.note = "skipped: `go` is not on PATH";
    return bin;
  } catch (e) {
    outcome.note = `skipped: could not build the Go server: ${message(e)}`;
    return undefined;
  }
}

async function runRow(row: Row, o: Options, goBin: string | undefined, prof: (who: "server" | "client", tag: string) => string[], tag: string): Promise<CellResult[]> {
  let server: Running;
  if (row.server === "go") {
    const { startGo } = await import("./go-server.js");
    server = await startGo(goBin!);
  } else {
    server = await startServer(row.server, prof("server", tag));
  }
  try {
    const perCell = o.warmupMs + o.durationMs + 6_000;
    const args = [row.client, String(server.port), o.concurrency.join(","), String(o.durationMs), String(o.warmupMs), String(server.pid ?? "")];
    return (await runClient("clients/main.ts", args, 30_000 + o.concurrency.length * perCell, prof("client", tag))) as CellResult[];
  } finally {
    await server.stop();
  }
}

function summary(cells: CellResult[]): string {
  const f = (x: number | null) => (typeof x === "number" ? x.toFixed(1) : "?"); // NaN arrives as null
  return cells
    .map((c) =>
      c.error
        ? `c=${c.concurrency} error: ${c.error}`
        : `c=${c.concurrency} ${Math.round(c.callsPerSec)}/s p50 ${f(c.p50us)}µs p99 ${f(c.p99us)}µs client cpu ${f(c.clientCpuUs)}µs/call, server cpu ${f(c.serverCpuUs)}µs/call`,
    )
    .join(", ");
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let o: Options;
  try {
    o = parseArgs(argv);
  } catch (e) {
    log(message(e));
    process.exitCode = 2;
    return;
  }
  const profDir = o.cpuProf ? mkdtempSync(path.join(os.tmpdir(), "netrpc-bench-prof-")) : "";
  const prof = (who: "server" | "client", tag: string): string[] =>
    o.cpuProf === who || o.cpuProf === "both" ? ["--cpu-prof", `--cpu-prof-dir=${path.join(profDir, `${tag}-${who}`)}`] : [];

  const outcomes: RowOutcome[] = o.rows.map((row) => ({ row, runs: [] }));
  const goRow = outcomes.find((x) => x.row.server === "go");
  const goBin = goRow ? await goBinary(goRow) : undefined;
  if (goRow?.note) log(`${goRow.row.name}: ${goRow.note}`);

  const codecs: CodecOutcome[] = o.codecs ? codecOutcomes() : [];
  const streams: StreamOutcome[] = o.streams.map((row) => ({ row, runs: [] }));

  for (let run = 1; run <= o.runs; run++) {
    await runCodecCells(codecs, o.durationMs, o.warmupMs, (tag) => prof("client", tag), run, log);
    // Rows take turns at each concurrency, so a change in the host's load lands on every row of
    // a cell alike rather than on whichever rows happened to run during it.
    const cellsOf = new Map<RowOutcome, CellResult[]>();
    for (const c of o.concurrency) {
      for (const outcome of outcomes) {
        if (outcome.note) continue; // skipped or failed earlier
        const tag = `${outcome.row.id}-c${c}-run${run}`;
        try {
          const cells = await runRow(outcome.row, { ...o, concurrency: [c] }, goBin, prof, tag);
          cellsOf.set(outcome, [...(cellsOf.get(outcome) ?? []), ...cells]);
          log(`[run ${run}/${o.runs}] ${outcome.row.name}: ${summary(cells)}`);
        } catch (e) {
          outcome.note = `failed: ${message(e)}`;
          log(`[run ${run}/${o.runs}] ${outcome.row.name}: ${outcome.note}`);
        }
      }
    }
    for (const [outcome, cells] of cellsOf) if (!outcome.note) outcome.runs.push(cells);
    await runStreamCells(streams, o.durationMs, o.warmupMs, prof, `${run}/${o.runs}`, log);
  }

  const table = resultsTable(outcomes, o.concurrency);
  const ratios = ratiosTable(outcomes, o.concurrency);
  const rowNotes = [...notes(outcomes), ...streamNotes(streams), ...codecNotes(codecs)];
  if (outcomes.length > 0) console.log(`\n${table}\n\n${ratios}`);
  if (streams.length > 0) console.log(`\nStreams (one-way messages/s, one server-streaming call on one connection)\n\n${streamTable(streams)}`);
  if (codecs.length > 0) console.log(`\nCodecs (in-process: one response encoded on one session, decoded on another; bytes without the length prefix)\n\n${codecTable(codecs)}\n\n${codecTarget(codecs).line}`);
  if (rowNotes.length > 0) console.log(rowNotes.map((n) => `\n- ${n}`).join(""));
  if (profDir) {
    // One directory per process; the main thread's profile is the largest file (tsx's loader thread writes one too).
    console.log(`\nCPU profiles: ${profDir}/<row>-c<C>-run<N>-<server|client>/, <stream row>-run<N>-<server|client>/ and codec-<codec>-<payload>-run<N>-client/ (summarize with: npx tsx bench/prof-top.ts DIR)`);
  }

  if (o.writeResults) {
    const cpus = os.cpus();
    const md = resultsMarkdown(
      {
        command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`,
        date: new Date().toISOString(),
        node: process.version,
        cpu: cpus[0]?.model ?? "unknown",
        cores: cpus.length,
        durationMs: o.durationMs,
        warmupMs: o.warmupMs,
        runs: o.runs,
      },
      table,
      ratios,
      rowNotes,
      codecs.length > 0 ? codecMarkdown(codecs, o.durationMs, o.warmupMs, o.runs) : "",
      streams.length > 0 ? streamMarkdown(streams, o.durationMs, o.warmupMs, o.runs) : "",
    );
    const file = fileURLToPath(new URL("RESULTS.md", import.meta.url));
    writeFileSync(file, md);
    console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
  } else {
    console.log("\nbench/RESULTS.md not written (partial run, --cpu-prof or --no-results)");
  }
}

main().catch((e: unknown) => {
  log(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});
