// Drives test/python/peer.py, a gRPC peer on Python's grpcio (gRPC C-core), as a server or a client.
//
// Only node: built-ins. Every wait is bounded. Debian's python3-grpcio and python3-protobuf are
// installed for Debian's own interpreter, which need not be the `python3` first on PATH.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import { repoRoot } from "./go.js";

export const PYTHON = "/usr/bin/python3";
export const PEER = path.join(repoRoot, "test/python/peer.py");
export const PEER_PROTO = path.join(repoRoot, "test/python/peer.proto");

/** Skip reason when grpcio is missing outside CI; in CI (CI=true) that is a failure, not a skip. */
export const PYTHON_MISSING_REASON = `${PYTHON} cannot import grpc and google.protobuf: install python3-grpcio and python3-protobuf (apt-get) to run the Python gRPC interop tests`;

let available: boolean | undefined;

/** Can /usr/bin/python3 import grpc and google.protobuf? */
export function pythonGrpcAvailable(): boolean {
  if (available === undefined) {
    try {
      const r = spawnSync(PYTHON, ["-c", "import grpc, google.protobuf"], { timeout: 30_000, stdio: "ignore" });
      available = r.status === 0;
    } catch {
      available = false;
    }
  }
  return available;
}

/** One JSON line of the peer: a client check ({check, ...}) or a server event ({event, ...}). */
export type PeerLine = Record<string, unknown>;

export interface PythonServer {
  port: number;
  /** The first event line (after any seen so far) matching `pred`; rejects after `ms`. */
  event(pred: (e: PeerLine) => boolean, what: string, ms?: number): Promise<PeerLine>;
  /** Close its stdin (it exits on that), then kill it if it lingers; idempotent. */
  close(): Promise<void>;
}

function parseLine(line: string, who: string): PeerLine {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new Error(`${who}: not a JSON line: ${JSON.stringify(line)}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error(`${who}: not a JSON object: ${line}`);
  return v as PeerLine;
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Starts `peer.py server` and waits (bounded) for its `LISTENING 127.0.0.1:PORT` line. */
export function startPythonServer(timeoutMs = 30_000): Promise<PythonServer> {
  const child = spawn(PYTHON, [PEER, "server"], { stdio: ["pipe", "pipe", "pipe"] });
  child.stdin!.on("error", () => {}); // EPIPE once it has gone
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    if (stderr.length < 64 * 1024) stderr += s;
  });
  const events: PeerLine[] = [];
  const waiters = new Set<() => boolean>();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      child.stdin!.end();
      await waitExit(child, 5_000);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await waitExit(child, 5_000);
      }
    })();
    return closing;
  };

  const event = (pred: (e: PeerLine) => boolean, what: string, ms = 10_000): Promise<PeerLine> =>
    new Promise((resolve, reject) => {
      const waiter = (): boolean => {
        const i = events.findIndex(pred);
        if (i < 0) return false;
        waiters.delete(waiter);
        clearTimeout(timer);
        resolve(events.splice(i, 1)[0]!);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`python server: no ${what} event within ${ms} ms${stderr ? `\nstderr: ${stderr.trim()}` : ""}`));
      }, ms);
      if (!waiter()) waiters.add(waiter);
    });

  return new Promise((resolve, reject) => {
    let port: number | undefined;
    const timer = setTimeout(() => {
      void close();
      reject(new Error(`peer.py server: no LISTENING line within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`peer.py server: ${err.message}`));
    });
    child.once("exit", (code, sig) => {
      clearTimeout(timer);
      if (port === undefined) reject(new Error(`peer.py server exited (${String(code ?? sig)}) before it was ready\n${stderr}`));
    });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (port === undefined) {
        const m = /^LISTENING 127\.0\.0\.1:(\d+)$/.exec(line);
        if (!m) return;
        port = Number(m[1]);
        clearTimeout(timer);
        resolve({ port, event, close });
        return;
      }
      try {
        events.push(parseLine(line, "peer.py server"));
      } catch {
        return; // not an event: nothing waits for it
      }
      for (const w of [...waiters]) w();
    });
  });
}

/** Runs `peer.py client PORT` (bounded) and returns its checks by name, in the order printed. */
export async function runPythonClient(port: number, timeoutMs = 60_000): Promise<{ checks: Map<string, PeerLine>; order: string[]; done: boolean; stderr: string; code: number | null }> {
  const child = spawn(PYTHON, [PEER, "client", String(port)], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    if (stderr.length < 64 * 1024) stderr += s;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`peer.py client did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`peer.py client: ${err.message}`));
    });
    child.once("close", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const checks = new Map<string, PeerLine>();
  const order: string[] = [];
  let done = false;
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const v = parseLine(line, "peer.py client");
    if (v.done === true) done = true;
    else if (typeof v.check === "string") {
      checks.set(v.check, v);
      order.push(v.check);
    } else throw new Error(`peer.py client: not a check: ${line}`);
  }
  return { checks, order, done, stderr, code };
}
