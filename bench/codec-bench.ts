// The codec micro-benchmark section: one process per codec × payload cell (codec-cell.ts), the
// median over runs, its table and the msgpack-vs-protobuf size target.
import type { CodecCellResult } from "./codec-cell.js";
import { ORDER_ITEMS, PAGE_ENTRIES, PAYLOADS } from "./payloads.js";
import { runClient } from "./proc.js";
import { markdownTable, median, times } from "./report.js";

export const CODECS = ["json", "msgpack", "protobuf"] as const;

export interface CodecOutcome {
  codec: string;
  payload: string;
  /** One entry per run. */
  runs: CodecCellResult[];
  /** Why the cell has no numbers. */
  note?: string;
}

export function codecOutcomes(): CodecOutcome[] {
  return PAYLOADS.flatMap((p) => CODECS.map((codec) => ({ codec, payload: p.id, runs: [] })));
}

/** Runs every cell once (one run), in its own process. */
export async function runCodecCells(
  outcomes: CodecOutcome[],
  durationMs: number,
  warmupMs: number,
  prof: (tag: string) => string[],
  run: number,
  log: (s: string) => void,
): Promise<void> {
  for (const o of outcomes) {
    if (o.note) continue;
    try {
      const args = [o.codec, o.payload, String(durationMs), String(warmupMs)];
      const cell = (await runClient("codec-cell.ts", args, 30_000 + 2 * (durationMs + warmupMs), prof(`codec-${o.codec}-${o.payload}-run${run}`))) as CodecCellResult;
      o.runs.push(cell);
      log(
        `[run ${run}] codec ${o.codec} ${o.payload}: ${Math.round(cell.opsPerSec)} enc+dec/s (encode ${cell.encodeUs.toFixed(2)}µs, decode ${cell.decodeUs.toFixed(2)}µs), body ${cell.steadyBody} B (first ${cell.firstBody} B)`,
      );
    } catch (e) {
      o.note = `failed: ${e instanceof Error ? e.message : String(e)}`;
      log(`[run ${run}] codec ${o.codec} ${o.payload}: ${o.note}`);
    }
  }
}

interface CodecCell extends CodecCellResult {
  note?: string;
}

/** Medians of the rates; sizes are the same in every run. */
function cellOf(o: CodecOutcome | undefined): CodecCell | undefined {
  if (!o || o.runs.length === 0) return o?.note ? ({ note: o.note } as CodecCell) : undefined;
  const m = (f: (c: CodecCellResult) => number) => median(o.runs.map(f));
  return { ...o.runs[0]!, opsPerSec: m((c) => c.opsPerSec), encodeUs: m((c) => c.encodeUs), decodeUs: m((c) => c.decodeUs) };
}

const find = (outcomes: CodecOutcome[], codec: string, payload: string) => cellOf(outcomes.find((o) => o.codec === codec && o.payload === payload));
const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "—");
const us = (x: number) => (!Number.isFinite(x) ? "—" : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString("en-US"));

export function codecTable(outcomes: CodecOutcome[]): string {
  const header = [
    "codec / payload",
    "enc+dec ops/s",
    "× json",
    "encode µs",
    "decode µs",
    "body B",
    "envelope B",
    "result B",
    "1st body B",
    "1st result B",
  ];
  const rows: string[][] = [];
  for (const p of PAYLOADS) {
    const base = find(outcomes, "json", p.id);
    for (const codec of CODECS) {
      const c = find(outcomes, codec, p.id);
      const name = `${codec} / ${p.label}`;
      if (!c) rows.push([name, "—", "—", "—", "—", "—", "—", "—", "—", "—"]);
      else if (c.note) rows.push([name, "error", "—", "—", "—", "—", "—", "—", "—", "—"]);
      else {
        rows.push([
          name,
          int(c.opsPerSec),
          times(c.opsPerSec / (base?.opsPerSec ?? NaN)),
          us(c.encodeUs),
          us(c.decodeUs),
          int(c.steadyBody),
          int(c.steadyBody - c.steadyValue),
          int(c.steadyValue),
          int(c.firstBody),
          int(c.firstValue),
        ]);
      }
    }
  }
  return markdownTable(header, rows);
}

/** Slack the size target allows msgpack over protobuf, in bytes. */
const SLACK = 4;

/** msgpack's steady-state GetUserResp value vs protobuf's GetUserResp message, plus 4 bytes. */
export function codecTarget(outcomes: CodecOutcome[]): { line: string; met: boolean | undefined } {
  const m = find(outcomes, "msgpack", "GetUserResp");
  const p = find(outcomes, "protobuf", "GetUserResp");
  if (!m || !p || m.note || p.note) return { line: "size target: n/a (the msgpack or protobuf GetUserResp cell has no result)", met: undefined };
  const met = m.steadyValue <= p.steadyValue + SLACK;
  return {
    line:
      `size target: msgpack GetUserResp result value, steady state = ${m.steadyValue} B ≤ ` +
      `protobuf GetUserResp message ${p.steadyValue} B + ${SLACK} = ${p.steadyValue + SLACK} B: ${met ? "met" : "NOT met"}` +
      ` (whole bodies: msgpack ${m.steadyBody} B, first ${m.firstBody} B; protobuf ${p.steadyBody} B)`,
    met,
  };
}

export function codecNotes(outcomes: CodecOutcome[]): string[] {
  return outcomes.filter((o) => o.note).map((o) => `codec ${o.codec} ${o.payload}: ${o.note}`);
}

/** The RESULTS.md section. */
export function codecMarkdown(outcomes: CodecOutcome[], durationMs: number, warmupMs: number, runs: number): string {
  const target = codecTarget(outcomes);
  const g = find(outcomes, "msgpack", "GetUserResp");
  const pb = find(outcomes, "protobuf", "GetUserResp");
  const n = (x: number | undefined) => (x === undefined ? "?" : String(x));
  return `## Codecs (in-process micro-benchmark)

One response's \`encodeResponse({kind:"response", id, result})\` on a server session and
\`decodeResponse\` on a client session (\`codec.fork()\` each, as on one connection), in a process of
its own per cell (bench/codec-cell.ts); ${warmupMs} ms warm-up, then ${durationMs} ms, ${runs} run(s)${runs > 1 ? ", median" : ""}.
The requests that open each call go through \`encodeRequest\`/\`decodeRequest\` untimed (protobuf
sessions type a result by its call's method). msgpack's two sessions are the two ends of one
stream, frames decoded in order, so after the first response every record structure is known:
the steady state is what is timed. Framing (the u32 length prefix, JSON's newline) and JSON's
text ⇄ UTF-8 conversion at the socket are outside the timing: the end-to-end rows include them.
Payloads (bench/payloads.ts): GetUserResp as the e2e call returns it (\`{Id, Name, Phone}\` for
json and msgpack; user.proto's \`{id, name, phone}\` for protobuf), a ~1 KiB nested order (customer,
address, ${ORDER_ITEMS} items) and a ~64 KiB page of ${PAGE_ENTRIES} records (the most that keep their JSON text within
1 KiB / 64 KiB); protobuf types them with bench/payloads.proto.

- **ops/s**: encode + decode pairs per second of encode and decode time; **× json**: against json for the same payload.
- **body B**: a response's bytes without the 4-byte length prefix (JSON: without the newline), in the steady state (call id 2).
- **result B**: the result value inside that body: JSON's \`result\` text; msgpack's last array item
  (the record reference and values once the structure is known); protobuf's response message (the
  \`payload\` field's contents). **envelope B** = body − result: call id, kind or status, and framing
  inside the message (protobuf's payload tag and length included).
- **1st**: the first response on the session; only msgpack differs, as it carries the keys of each
  record structure once per connection (as gob sends a type once per stream).

${codecTable(outcomes)}

**Target**: a repeated GetUserResp in the msgpack stream no larger than its protobuf encoding plus 4
bytes. Compared: the bytes msgpack spends on the result value \`{Id:"1", Name:"bala",
Phone:"13100001111"}\` in a response after the first (record reference + three strings, ${n(g?.steadyValue)} B) with
the bytes of the protobuf GetUserResp message \`{id:"1", name:"bala", phone:"13100001111"}\` (three
tagged length-delimited strings, ${n(pb?.steadyValue)} B); envelopes are not part of either side.
${
  target.met === undefined || !g || !pb
    ? "Status: n/a (a GetUserResp cell has no result)."
    : `${target.met ? "**Met**" : "**NOT met**"}: ${g.steadyValue} B ${target.met ? "≤" : ">"} ${pb.steadyValue} B + ${SLACK} = ${pb.steadyValue + SLACK} B. Whole bodies: msgpack ${g.steadyBody} B (its first, with the keys, ${g.firstBody} B), protobuf ${pb.steadyBody} B.`
}
`;
}
