// Closed-loop load: keep exactly C calls in flight for a fixed time, record each call's latency.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
export interface CellResult {
  concurrency: number;
  calls: number;
  callsPerSec: number;
  p50us: number;
  p99us: number;
  /** CPU time (user + system) this client process spent per call, in µs: steadier than latency on a noisy machine. */
  clientCpuUs: number;
  /** The same for the server process, where /proc lets us read it (Linux); NaN elsewhere. */
  serverCpuUs: number;
  error?: string;
}

/** Clock ticks per second, the unit of /proc/<pid>/stat's CPU times. */
const TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** A growable array of latencies in nanoseconds. */
class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;

  push(ns: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = ns;
  }

  sorted(): Float64Array {
    return this.data.subarray(0, this.length).sort();
  }
}

/** Nearest-rank percentile of an ascending array, in microseconds. */
export function percentileUs(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]! / 1000;
}

function timeout(ms: number, what: string): { promise: Promise<never>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * Runs `concurrency` workers, each issuing `call()` back to back until `ms` have passed.
 * Fails on the first call error, or when calls are still in flight `graceMs` after the deadline.
 */
async function closedLoop(
  call: () => Promise<unknown>,
  concurrency: number,
  ms: number,
  graceMs: number,
  samples: Samples | undefined,
): Promise<{ calls: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(ms * 1e6));
  let calls = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed) {
      const t0 = process.hrtime.bigint();
      if (t0 >= deadline) return;
      try {
        await call();
      } catch (e) {
        failed = true;
        throw e;
      }
      calls++;
      samples?.push(Number(process.hrtime.bigint() - t0));
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < concurrency; i++) workers.push(worker());
  const limit = timeout(ms + graceMs, `calls still in flight ${graceMs} ms after the ${ms} ms deadline`);
  try {
    await Promise.race([Promise.all(workers), limit.promise]);
  } finally {
    limit.cancel();
  }
  return { calls, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

/** User + system CPU time of process `pid` in µs, from /proc (clock ticks, usually 10 ms); NaN when unreadable. */
export function processCpuUs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS;
  } catch {
    return NaN;
  }
}

/** How long calls may still be in flight after a slice's deadline before the cell fails. */
const GRACE_MS = 5_000;

/** Runs `concurrency` calls in flight for `ms`, unmeasured (JIT, connection and caches warm up). */
export async function warmUp(call: () => Promise<unknown>, concurrency: number, ms: number): Promise<void> {
  await closedLoop(call, concurrency, ms, GRACE_MS, undefined);
}

/**
 * One table cell, measured in slices: the orchestrator gives each row of a concurrency its slice
 * in turn, so a change in the host's load lands on every row alike. Calls, time, latencies and
 * both processes' CPU time add up over the slices.
 */
export class CellMeter {
  readonly #concurrency: number;
  readonly #serverPid: number | undefined;
  readonly #samples = new Samples();
  #calls = 0;
  #seconds = 0;
  #clientCpuUs = 0;
  #serverCpuUs = 0;

  constructor(concurrency: number, serverPid?: number) {
    this.#concurrency = concurrency;
    this.#serverPid = serverPid;
  }

  async slice(call: () => Promise<unknown>, ms: number): Promise<void> {
    const serverCpu = processCpuUs(this.#serverPid);
    const cpu = process.cpuUsage();
    const { calls, seconds } = await closedLoop(call, this.#concurrency, ms, GRACE_MS, this.#samples);
    const used = process.cpuUsage(cpu);
    this.#serverCpuUs += processCpuUs(this.#serverPid) - serverCpu;
    this.#clientCpuUs += used.user + used.system;
    this.#calls += calls;
    this.#seconds += seconds;
  }

  result(): CellResult {
    const sorted = this.#samples.sorted();
    return {
      concurrency: this.#concurrency,
      calls: this.#calls,
      callsPerSec: this.#calls / this.#seconds,
      p50us: percentileUs(sorted, 0.5),
      p99us: percentileUs(sorted, 0.99),
      clientCpuUs: this.#clientCpuUs / this.#calls,
      serverCpuUs: this.#serverCpuUs / this.#calls,
    };
  }
}
