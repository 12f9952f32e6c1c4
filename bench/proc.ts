// Child processes of the bench: start servers and clients as tsx scripts, and always kill them.
import { fork, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { CellResult } from "./load.js";

const children = new Set<ChildProcess>();
const cleanups = new Set<() => void>();

function killAll(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // best effort: we are exiting
    }
  }
  cleanups.clear();
}

process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Runs `cleanup` if the bench exits before `release` is called (for processes we did not fork). */
export function onExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function start(script: string, args: string[], nodeArgs: string[]): ChildProcess {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), args, {
    cwd: ROOT,
    execArgv: ["--import", "tsx", ...nodeArgs],
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Waits for the first stdout line matching `pattern`, or fails when the child exits or `ms` pass. */
function waitForLine(child: ChildProcess, pattern: RegExp, ms: number, what: string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const done = (err: Error | undefined, match?: RegExpMatchArray) => {
      clearTimeout(timer);
      child.off("close", onClose);
      lines.off("line", onLine);
      // Anything else the child prints is unexpected: pass it on so it is seen.
      lines.on("line", (line) => process.stderr.write(`[${what}] ${line}\n`));
      if (err) reject(err);
      else resolve(match!);
    };
    const onLine = (line: string) => {
      const match = pattern.exec(line);
      if (match) done(undefined, match);
      else process.stderr.write(`[${what}] ${line}\n`);
    };
    // "close", not "exit": the last stdout lines may still be unread when "exit" fires.
    const onClose = (code: number | null, signal: string | null) =>
      done(new Error(`${what} exited (${signal ?? code}) without printing a line matching ${String(pattern)}`));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      done(new Error(`${what} timed out after ${ms} ms`));
    }, ms);
    lines.on("line", onLine);
    child.on("close", onClose);
  });
}

export interface Running {
  port: number;
  /** The server's process id, for the client to read its CPU time (undefined: not ours to read). */
  pid?: number;
  stop(): Promise<void>;
}

/** Starts a bench server script (relative to bench/) and waits for its `READY <port>` line. */
export async function startServer(script: string, nodeArgs: string[] = []): Promise<Running> {
  const child = start(script, [], nodeArgs);
  const stop = async () => {
    if (child.connected) child.disconnect(); // the server exits cleanly on disconnect
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited(child);
    clearTimeout(timer);
  };
  try {
    const [, port] = await waitForLine(child, /^READY (\d+)$/, 20_000, script);
    return { port: Number(port), pid: child.pid, stop };
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
}

/** Runs a client script to completion and returns the JSON of its `RESULT` line. */
export async function runClient(script: string, args: string[], timeoutMs: number, nodeArgs: string[] = []): Promise<unknown> {
  const child = start(script, args, nodeArgs);
  try {
    const [, kind, json] = await waitForLine(child, /^(RESULT|FAILED) (.*)$/, timeoutMs, `${script} ${args[0]}`);
    if (kind === "FAILED") throw new Error(`client failed: ${JSON.parse(json!) as string}`);
    return JSON.parse(json!) as unknown;
  } finally {
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited(child);
    clearTimeout(timer);
  }
}

/** What the orchestrator asks a table client (clients/main.ts) to do. */
export type ClientRequest = { op: "warm" | "slice"; concurrency: number; ms: number } | { op: "result"; concurrency: number };
export type ClientReply = { ok: true; result?: CellResult } | { ok: false; error: string };

/** A table client process, connected to its server and waiting for requests. */
export interface ClientProcess {
  request(req: ClientRequest, timeoutMs: number): Promise<CellResult | undefined>;
  stop(): Promise<void>;
}

/** Starts a table client and waits until it is connected and has verified its first reply. */
export async function startClient(script: string, args: string[], timeoutMs: number, nodeArgs: string[] = []): Promise<ClientProcess> {
  const child = start(script, args, nodeArgs);
  const what = `${script} ${args[0]}`;
  // The next message from the child, or its exit, or the timeout, as an outcome.
  const next = (ms: number) =>
    new Promise<ClientReply | { ready: true }>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`${what} is gone (exit ${child.signalCode ?? child.exitCode})`));
      const done = () => {
        clearTimeout(timer);
        child.off("message", onMessage);
        child.off("exit", onExit);
      };
      const onMessage = (m: ClientReply | { ready: true }) => {
        done();
        resolve(m);
      };
      const onExit = (code: number | null, signal: string | null) => {
        done();
        reject(new Error(`${what} exited (${signal ?? code})`));
      };
      const timer = setTimeout(() => {
        done();
        child.kill("SIGKILL");
        reject(new Error(`${what} timed out after ${ms} ms`));
      }, ms);
      child.on("message", onMessage);
      child.on("exit", onExit);
    });
  const stop = async () => {
    if (child.connected) child.disconnect(); // the client closes its connection and exits
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited(child);
    clearTimeout(timer);
  };
  const first = await next(timeoutMs);
  if (!("ready" in first)) {
    await stop();
    throw new Error(`client failed: ${first.ok ? "no ready message" : first.error}`);
  }
  return {
    async request(req, ms) {
      const reply = next(ms);
      child.send(req);
      const r = await reply;
      if ("ready" in r) throw new Error(`${what} said ready twice`);
      if (!r.ok) throw new Error(r.error);
      return r.result;
    },
    stop,
  };
}
