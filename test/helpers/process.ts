// Runs the project's own TypeScript entry points (CLI, example server) as real child processes.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { repoRoot } from "./go.js";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node --import tsx <script> ...args`, bounded by `timeoutMs`. */
export function runTs(script: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} ${args.join(" ")} did not exit within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Spawned {
  child: ChildProcess;
  /** The LISTENING lines, one per bound address. */
  urls: string[];
  exited: Promise<number | null>;
}

/** Starts a long-running script and waits (bounded) for `count` "LISTENING <url>" lines. */
export function startTs(script: string, args: string[], count: number, timeoutMs = 30_000): Promise<Spawned> {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    const urls: string[] = [];
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} printed ${urls.length}/${count} LISTENING lines within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = /^LISTENING (\S+)$/.exec(line);
      if (!m) return;
      urls.push(m[1]!);
      if (urls.length === count) {
        clearTimeout(timer);
        resolve({ child, urls, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      if (urls.length < count) reject(new Error(`${script} exited (${code}) before it was ready\n${stderr}`));
    });
  });
}
