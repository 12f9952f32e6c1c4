// Command-line options of `npm run bench`.
import { ROWS, STREAM_ROWS, type Row } from "./rows.js";

export interface Options {
  durationMs: number;
  warmupMs: number;
  /** Measured time per slice: a cell's duration is cut into slices that the rows take in turn. */
  sliceMs: number;
  runs: number;
  concurrency: number[];
  rows: Row[];
  /** Rows of the streams table (one-way messages/s). */
  streams: Row[];
  /** Whether the codec micro-benchmark runs (--only codecs alone, or a full run). */
  codecs: boolean;
  /** Which processes get --cpu-prof, if any. */
  cpuProf: "" | "server" | "client" | "both";
  /** Whether bench/RESULTS.md is (re)written. */
  writeResults: boolean;
}

/** The --only name of the codec micro-benchmark section. */
export const CODECS_ID = "codecs";
/** The --only name of every stream row at once. */
export const STREAMS_ID = "streams";

export const USAGE = `usage: npm run bench -- [options]
  --duration MS        measured time per cell (default 2000)
  --warmup MS          warm-up time per cell, not measured (default 500)
  --slice MS           the rows of a concurrency take turns every MS of measured time (default 250)
  --runs N             repeat the whole table N times, report the median per cell (default 1)
  --concurrency LIST   calls in flight, comma-separated (default 1,16,128)
  --only LIST          rows to run, by id or name: ${ROWS.map((r) => r.id).join(", ")};
                       stream rows by id: ${STREAM_ROWS.map((r) => r.id).join(", ")}
                       ("${STREAMS_ID}" for all of them);
                       "${CODECS_ID}" for the codec micro-benchmark (runs in a full run)
  --cpu-prof WHO       server, client or both: write V8 CPU profiles to a temp dir
                       (the codec micro-benchmark's processes count as clients)
  --no-results         do not write bench/RESULTS.md (a full run without --cpu-prof writes it)`;

/** How a cell's measured time is cut: `slices` of `ms` each, as close to --slice as divides --duration. */
export function slicing(o: Pick<Options, "durationMs" | "sliceMs">): { slices: number; ms: number } {
  const slices = Math.max(1, Math.round(o.durationMs / o.sliceMs));
  return { slices, ms: o.durationMs / slices };
}

function positive(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer, got ${String(value)}`);
  return n;
}

export function parseArgs(argv: string[]): Options {
  const o: Options = {
    durationMs: 2000,
    warmupMs: 500,
    sliceMs: 250,
    runs: 1,
    concurrency: [1, 16, 128],
    rows: [...ROWS],
    streams: [...STREAM_ROWS],
    codecs: true,
    cpuProf: "",
    writeResults: true,
  };
  let partial = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string | undefined => argv[++i];
    switch (flag) {
      case "--duration":
        o.durationMs = positive(flag, value());
        break;
      case "--warmup": {
        const v = value();
        o.warmupMs = v === "0" ? 0 : positive(flag, v);
        break;
      }
      case "--slice":
        o.sliceMs = positive(flag, value());
        break;
      case "--runs":
        o.runs = positive(flag, value());
        break;
      case "--concurrency":
        o.concurrency = (value() ?? "").split(",").map((c) => positive(flag, c));
        break;
      case "--only": {
        const wanted = (value() ?? "").split(",").map((s) => s.trim());
        o.rows = ROWS.filter((r) => wanted.includes(r.id) || wanted.includes(r.name));
        o.streams = STREAM_ROWS.filter((r) => wanted.includes(r.id) || wanted.includes(STREAMS_ID));
        o.codecs = wanted.includes(CODECS_ID);
        const known = (w: string) => w === CODECS_ID || w === STREAMS_ID || ROWS.some((r) => r.id === w || r.name === w) || STREAM_ROWS.some((r) => r.id === w);
        const unknown = wanted.filter((w) => !known(w));
        if (unknown.length > 0) throw new Error(`--only: unknown row ${unknown.join(", ")}`);
        partial = true;
        break;
      }
      case "--cpu-prof": {
        const v = value();
        if (v !== "server" && v !== "client" && v !== "both") throw new Error("--cpu-prof takes server, client or both");
        o.cpuProf = v;
        break;
      }
      case "--no-results":
        o.writeResults = false;
        break;
      case "-h":
      case "--help":
        throw new Error(USAGE);
      default:
        throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  if (partial || o.cpuProf) o.writeResults = false;
  return o;
}
