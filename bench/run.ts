// `npm run bench`: runs every row's server and client as separate processes, prints and records the table.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, slicing, type Options } from "./args.js";
import { codecMarkdown, codecNotes, codecOutcomes, codecTable, codecTarget, runCodecCells, type CodecOutcome } from "./codec-bench.js";
import type { CellResult } from "./load.js";
import { startClient, startServer, type ClientProcess, type ClientRequest, type Running } from "./proc.js";
import { notes, ratiosTable, resultsMarkdown, resultsTable, type RowOutcome } from "./report.js";
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

/** A row's server and client processes, alive for one run of the table. */
interface Pair {
  outcome: RowOutcome;
  server: Running;
  client: ClientProcess;
  /** This run's cells, one per concurrency. */
  cells: CellResult[];
}

async function startPair(outcome: RowOutcome, goBin: string | undefined, prof: (who: "server" | "client", tag: string) => string[], tag: string): Promise<Pair> {
  const row = outcome.row;
  let server: Running;
  if (row.server === "go") {
    const { startGo } = await import("./go-server.js");
    server = await startGo(goBin!);
  } else {
    server = await startServer(row.server, prof("server", tag));
  }
  try {
    const client = await startClient("clients/main.ts", [row.client, String(server.port), String(server.pid ?? "")], 30_000, prof("client", tag));
    return { outcome, server, client, cells: [] };
  } catch (e) {
    await server.stop();
    throw e;
  }
}

const failedCell = (concurrency: number, error: string): CellResult => ({ concurrency, calls: 0, callsPerSec: NaN, p50us: NaN, p99us: NaN, clientCpuUs: NaN, serverCpuUs: NaN, error });

/**
 * One concurrency of one run: every pair warms up, then the measured time is cut into slices
 * and the rows take them in turn (each round starting one row later), so the host's changing
 * load lands on every row alike instead of on whichever row ran while it lasted.
 */
async function runConcurrency(pairs: Pair[], c: number, o: Options): Promise<void> {
  const errors = new Map<Pair, string>();
  const ask = async (pair: Pair, req: ClientRequest, ms: number) => {
    if (errors.has(pair)) return undefined;
    try {
      return await pair.client.request(req, ms + 30_000);
    } catch (e) {
      errors.set(pair, message(e));
      return undefined;
    }
  };
  if (o.warmupMs > 0) for (const pair of pairs) await ask(pair, { op: "warm", concurrency: c, ms: o.warmupMs }, o.warmupMs);
  const { slices, ms } = slicing(o);
  for (let k = 0; k < slices; k++) {
    for (let j = 0; j < pairs.length; j++) await ask(pairs[(k + j) % pairs.length]!, { op: "slice", concurrency: c, ms }, ms);
  }
  for (const pair of pairs) {
    const result = await ask(pair, { op: "result", concurrency: c }, 0);
    const error = errors.get(pair);
    pair.cells.push(error !== undefined || !result ? failedCell(c, error ?? "no result") : result);
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
    const pairs: Pair[] = [];
    try {
      for (const outcome of outcomes) {
        if (outcome.note) continue; // skipped or failed earlier
        try {
          pairs.push(await startPair(outcome, goBin, prof, `${outcome.row.id}-run${run}`));
        } catch (e) {
          outcome.note = `failed: ${message(e)}`;
          log(`[run ${run}/${o.runs}] ${outcome.row.name}: ${outcome.note}`);
        }
      }
      for (const c of o.concurrency) {
        await runConcurrency(pairs, c, o);
        for (const pair of pairs) log(`[run ${run}/${o.runs}] ${pair.outcome.row.name}: ${summary(pair.cells.slice(-1))}`);
      }
    } finally {
      for (const pair of pairs) {
        await pair.client.stop();
        await pair.server.stop();
      }
    }
    for (const pair of pairs) pair.outcome.runs.push(pair.cells);
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
    console.log(`\nCPU profiles: ${profDir}/<row>-run<N>-<server|client>/, <stream row>-run<N>-<server|client>/ and codec-<codec>-<payload>-run<N>-client/ (summarize with: npx tsx bench/prof-top.ts DIR)`);
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
        sliceMs: Math.round(slicing(o).ms),
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
