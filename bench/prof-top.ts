// Summarizes a V8 .cpuprofile: the functions with the most self time.
// Usage: npx tsx bench/prof-top.ts FILE.cpuprofile|DIR [N]   (for a DIR: its largest profile, the main thread's)
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
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
const self = new Map<string, number>();
let total = 0;
for (const node of profile.nodes) {
  const hits = node.hitCount ?? 0;
  total += hits;
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${url.replace(/^.*\/(node_modules\/|work\/main\/)/, "$1")}:${lineNumber + 1}` : "";
  const key = `${functionName || "(anonymous)"} ${where}`.trim();
  self.set(key, (self.get(key) ?? 0) + hits);
}
const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(n));
for (const [key, hits] of top) console.log(`${((100 * hits) / total).toFixed(1).padStart(5)}%  ${key}`);
