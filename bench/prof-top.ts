// Summarizes a V8 .cpuprofile: the functions with the most self time.
// Usage: npx tsx bench/prof-top.ts FILE.cpuprofile|DIR [N]   (for a DIR: its largest profile, the main thread's)
//
// tsx runs TypeScript as whitespace-minified JavaScript (every function on line 1), so positions
// are mapped back to the .ts source through the source maps in tsx's transform cache
// (os.tmpdir()/tsx-<uid>/); a position that cannot be mapped is printed as "file:1 col N".
import { readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

interface Cached {
  code: string;
  map?: { sources: string[]; mappings: string };
}

const [arg, n = "25"] = process.argv.slice(2);
if (!arg) {
  console.error("usage: npx tsx bench/prof-top.ts FILE.cpuprofile|DIR [N]");
  process.exit(2);
}
const file = statSync(arg).isDirectory()
  ? readdirSync(arg)
      .filter((f) => f.endsWith(".cpuprofile"))
      .map((f) => path.join(arg, f))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0]!
  : arg;
const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[] };

/** tsx's cached transforms by source path, newest first (a file edited since has several). */
function tsxCache(): Map<string, Cached[]> {
  const bySource = new Map<string, Array<{ mtime: number; entry: Cached }>>();
  let dir: string;
  try {
    dir = path.join(os.tmpdir(), `tsx-${os.userInfo().uid}`);
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      let entry: Cached;
      try {
        entry = JSON.parse(readFileSync(full, "utf8")) as Cached;
      } catch {
        continue;
      }
      const source = entry.map?.sources?.[0];
      if (!source || typeof entry.code !== "string") continue;
      const list = bySource.get(source) ?? [];
      list.push({ mtime: statSync(full).mtimeMs, entry });
      bySource.set(source, list);
    }
  } catch {
    // no cache: positions stay unmapped
  }
  return new Map([...bySource].map(([k, v]) => [k, v.sort((a, b) => b.mtime - a.mtime).map((x) => x.entry)]));
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** The source line (1-based) of the last mapping at or before (line, column) of the generated code. */
function sourceLine(mappings: string, line: number, column: number): number | undefined {
  let srcLine = 0;
  let best: number | undefined;
  const lines = mappings.split(";");
  for (let l = 0; l < lines.length && l <= line; l++) {
    let genCol = 0;
    for (const segment of lines[l]!.split(",")) {
      if (segment === "") continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of segment) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += fields[0]!;
      if (fields.length >= 4) srcLine += fields[2]!;
      if (l === line && genCol <= column && fields.length >= 4) best = srcLine + 1;
    }
  }
  return best;
}

const cache = tsxCache();
const located = new Map<string, string>();

/** "path:line" in the .ts source where the function starts, if the cache knows the file. */
function where(frame: ProfileNode["callFrame"]): string {
  const { url, lineNumber, columnNumber, functionName } = frame;
  if (!url) return "";
  const short = url.replace(/^.*\/(node_modules\/|work\/main\/)/, "$1");
  const key = `${url}:${lineNumber}:${columnNumber}:${functionName}`;
  const known = located.get(key);
  if (known !== undefined) return known;
  let out = `${short}:${lineNumber + 1}`;
  if (url.startsWith("file://") && /\.[cm]?ts$/.test(url)) {
    const entries = cache.get(fileURLToPath(url)) ?? [];
    // The version that was run has this function's name just before this position (V8 points at
    // the parameter list), unless the function is anonymous.
    const name = functionName.split(/[ .]/).pop() ?? "";
    const entry =
      entries.find((e) => {
        const before = e.code.split("\n")[lineNumber]?.slice(Math.max(0, columnNumber - name.length - 40), columnNumber + 1) ?? "";
        return name === "" || before.includes(name);
      }) ?? entries[0];
    const line = entry?.map ? sourceLine(entry.map.mappings, lineNumber, columnNumber) : undefined;
    out = line === undefined ? `${short}:${lineNumber + 1} col ${columnNumber}` : `${short}:${line}`;
  }
  located.set(key, out);
  return out;
}

const self = new Map<string, number>();
let total = 0;
for (const node of profile.nodes) {
  const hits = node.hitCount ?? 0;
  total += hits;
  const key = `${node.callFrame.functionName || "(anonymous)"} ${where(node.callFrame)}`.trim();
  self.set(key, (self.get(key) ?? 0) + hits);
}
const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(n));
for (const [key, hits] of top) console.log(`${((100 * hits) / total).toFixed(1).padStart(5)}%  ${key}`);
