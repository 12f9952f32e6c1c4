// Helpers to build and drive the reference Go programs under test/go/ (interop tests, benchmarks).
//
// Only node: built-ins. Every wait is bounded. The Go programs are plain `package main`
// files using the standard library only, built with GO111MODULE=off so no go.mod is needed.
import { spawn, spawnSync, execFile, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { access, mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (this file lives in <root>/test/helpers/). */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Skip reason when Go is missing outside CI; in CI (CI=true) a missing Go is a failure, not a skip. */
export const GO_MISSING_REASON = "`go` is not on PATH: install Go (>= 1.19) to run the Go interop tests";

let goVersionCache: string | null | undefined;

/** `go version` output, or null when `go` cannot be run. */
export function goVersion(): string | null {
  if (goVersionCache === undefined) {
    try {
      const r = spawnSync("go", ["version"], { encoding: "utf8", timeout: 30_000, env: goEnv() });
      goVersionCache = r.status === 0 && typeof r.stdout === "string" ? r.stdout.trim() : null;
    } catch {
      goVersionCache = null;
    }
  }
  return goVersionCache;
}

/** Is a working `go` on PATH? */
export function goAvailable(): boolean {
  return goVersion() !== null;
}

/** Environment for running `go`: no modules, no toolchain downloads, writable cache dirs. */
function goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: "off",
    GOTOOLCHAIN: "local",
    GOFLAGS: "",
    ...extra,
  };
}

async function writableDir(dir: string): Promise<boolean> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** GOCACHE/GOPATH overrides, used only when the defaults (under $HOME) are not writable. */
async function cacheEnv(): Promise<NodeJS.ProcessEnv> {
  const extra: NodeJS.ProcessEnv = {};
  const home = process.env.HOME || "";
  const tmpBase = path.join(os.tmpdir(), "netrpc-go-env");
  if (!process.env.GOCACHE) {
    const xdg = process.env.XDG_CACHE_HOME || (home ? path.join(home, ".cache") : "");
    const dflt = xdg ? path.join(xdg, "go-build") : "";
    if (!dflt || !(await writableDir(dflt))) extra.GOCACHE = path.join(tmpBase, "cache");
  }
  if (!process.env.GOPATH) {
    // Building a lone std-lib-only file never writes to GOPATH, but go insists it be sane.
    if (!home || !(await writableDir(home))) extra.GOPATH = path.join(tmpBase, "gopath");
  }
  if (extra.GOCACHE) await mkdir(extra.GOCACHE, { recursive: true });
  if (extra.GOPATH) await mkdir(extra.GOPATH, { recursive: true });
  return extra;
}

function run(
  file: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: opts.cwd,
        env: opts.env,
        timeout: opts.timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: 64 * 1024 * 1024,
        encoding: "utf8",
      },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown; signal?: unknown };
          const why = e.killed ? `timed out after ${opts.timeoutMs} ms` : `exit ${String(e.code)}${e.signal ? ` (${String(e.signal)})` : ""}`;
          reject(new Error(`${path.basename(file)} ${args.join(" ")}: ${why}\n${stderr}${stdout}`.trim()));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

const builds = new Map<string, Promise<string>>();

/**
 * Build `<dir>/main.go` (dir relative to the repo root, or absolute) into a binary under
 * os.tmpdir()/netrpc-go-<hash of source and toolchain>/, reusing a previous build. Returns its path.
 */
export function buildGo(dir: string, opts: { timeoutMs?: number } = {}): Promise<string> {
  const abs = path.resolve(repoRoot, dir);
  let p = builds.get(abs);
  if (!p) {
    p = doBuild(abs, opts.timeoutMs ?? 300_000);
    builds.set(abs, p);
    p.catch(() => builds.delete(abs));
  }
  return p;
}

async function doBuild(absDir: string, timeoutMs: number): Promise<string> {
  const version = goVersion();
  if (version === null) throw new Error(GO_MISSING_REASON);
  const src = path.join(absDir, "main.go");
  const source = await readFile(src);
  const hash = createHash("sha256")
    .update(version)
    .update("\0")
    .update(`${process.platform}/${process.arch}`)
    .update("\0")
    .update(source)
    .digest("hex")
    .slice(0, 16);
  const outDir = path.join(os.tmpdir(), `netrpc-go-${hash}`);
  const name = path.basename(absDir) + (process.platform === "win32" ? ".exe" : "");
  const bin = path.join(outDir, name);
  try {
    if ((await stat(bin)).isFile()) return bin;
  } catch {
    // not built yet
  }
  await mkdir(outDir, { recursive: true });
  // Build to a private name then rename: concurrent builders (parallel test files, bench) never see half a file.
  const tmp = path.join(outDir, `.${name}.${process.pid}.${Date.now()}.tmp`);
  try {
    await run("go", ["build", "-o", tmp, "main.go"], {
      cwd: absDir,
      env: goEnv(await cacheEnv()),
      timeoutMs,
    });
    await rename(tmp, bin);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return bin;
}

export interface GoServer {
  /** "host:port" as printed by the server. */
  address: string;
  host: string;
  port: number;
  /** The child process (for diagnostics). */
  process: ChildProcess;
  /** Kill the server and wait for it to exit (idempotent). */
  close(): Promise<void>;
}

/**
 * Start a Go server binary with `-listen 127.0.0.1:0` (plus `args`) and wait, bounded, for its
 * `LISTENING host:port` line. The server also exits if this process dies (stdin closes).
 */
export function startGoServer(
  bin: string,
  opts: { listen?: string; args?: string[]; timeoutMs?: number } = {},
): Promise<GoServer> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const args = ["-listen", opts.listen ?? "127.0.0.1:0", "-exit-on-stdin-close", ...(opts.args ?? [])];
  const child = spawn(bin, args, { stdio: ["pipe", "pipe", "pipe"] });
  child.stdin!.on("error", () => {}); // EPIPE if the child is gone: not our concern here
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => {
    if (stderr.length < 64 * 1024) stderr += d;
  });

  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  // spawn failures (ENOENT, EACCES) arrive as "error" and may come without "exit".
  let spawnError: Error | undefined;
  const failed = new Promise<void>((resolve) => child.once("error", (e) => ((spawnError = e), resolve())));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (spawnError || child.exitCode !== null || child.signalCode !== null) return;
      const within = async (ms: number): Promise<void> => {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, failed, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
        clearTimeout(timer);
      };
      child.kill("SIGTERM");
      await within(5_000);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await within(5_000);
      }
      child.stdin!.destroy();
      child.stdout!.destroy();
      child.stderr!.destroy();
    })();
    return closing;
  };

  return new Promise<GoServer>((resolve, reject) => {
    let buf = "";
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void close().then(() => reject(new Error(`${path.basename(bin)}: ${why}${stderr ? `\nstderr: ${stderr.trim()}` : ""}`)));
    };
    const timer = setTimeout(() => fail(`no LISTENING line within ${timeoutMs} ms`), timeoutMs);
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      if (settled) return; // keep draining so the pipe never blocks the server
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) {
        if (buf.length > 4096) fail(`unexpected output: ${JSON.stringify(buf.slice(0, 200))}`);
        return;
      }
      const first = buf.slice(0, nl).trim();
      const m = /^LISTENING (.+):(\d+)$/.exec(first);
      if (!m) {
        fail(`unexpected first line: ${JSON.stringify(first)}`);
        return;
      }
      settled = true;
      clearTimeout(timer);
      const host = m[1]!.replace(/^\[(.*)\]$/, "$1");
      resolve({ address: `${m[1]}:${m[2]}`, host, port: Number(m[2]), process: child, close });
    });
    void exited.then(() => fail(`exited early (code ${String(child.exitCode)}, signal ${String(child.signalCode)})`));
    void failed.then(() => fail(`failed to start: ${spawnError?.message ?? "unknown error"}`));
  });
}

export interface GoClientStep {
  step: string;
  result?: unknown;
  error?: string;
}

/**
 * Run the Go client script binary against `addr` ("host:port"; a "tcp://" prefix is accepted),
 * bounded by timeoutMs, and return its steps in order.
 */
export async function runGoClient(
  bin: string,
  addr: string,
  opts: { args?: string[]; timeoutMs?: number } = {},
): Promise<GoClientStep[]> {
  const hostPort = addr.replace(/^tcp:\/\//, "").replace(/\/+$/, "");
  const { stdout } = await run(bin, ["-addr", hostPort, ...(opts.args ?? [])], { timeoutMs: opts.timeoutMs ?? 60_000 });
  const steps: GoClientStep[] = [];
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new Error(`${path.basename(bin)}: not a JSON line: ${JSON.stringify(line)}`);
    }
    if (typeof v !== "object" || v === null || typeof (v as GoClientStep).step !== "string") {
      throw new Error(`${path.basename(bin)}: not a step: ${line}`);
    }
    steps.push(v as GoClientStep);
  }
  return steps;
}
