// The service the transport suites call: echo, calls held open until the test releases them,
// a batch answered only once every call of it is running, and one method of each stream kind.
// Its state lives in a ProbeState the test holds, so a test opens gates and reads counters
// in-process, without a call that could itself be refused (during shutdown, after a hang-up).
import { Code, RpcError, type CallContext } from "../../index.js";

/** How long a held call waits before failing by itself, so nothing can hang a test. */
const HELD_MS = 15_000;
/** Most messages Endless sends, should nothing ever stop it. */
const ENDLESS_MAX = 100_000;

interface Gate {
  started: boolean;
  readonly opened: Promise<void>;
  open(): void;
}

export class ProbeState {
  readonly #gates = new Map<string, Gate>();
  /** Why each keyed handler's signal aborted (Wait, Endless). */
  readonly aborted = new Map<string, unknown>();
  /** Messages produced (Flood) or consumed (Drain) so far, by key. */
  readonly counts = new Map<string, number>();
  #holdTarget = 0;
  #held: Array<() => void> = [];

  gate(key: string): Gate {
    let gate = this.#gates.get(key);
    if (!gate) {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      gate = { started: false, opened, open };
      this.#gates.set(key, gate);
    }
    return gate;
  }

  /** Lets the Wait call(s) on `key` return. */
  open(key: string): void {
    this.gate(key).open();
  }

  started(key: string): boolean {
    return this.#gates.get(key)?.started ?? false;
  }

  /** The next Hold batch is answered once `n` calls are waiting. */
  expectHolds(n: number): void {
    this.#holdTarget = n;
    this.#held = [];
  }

  /** Queues a Hold call; answers the whole batch, newest first, when it is complete. */
  hold(release: () => void): () => void {
    this.#held.push(release);
    if (this.#held.length === this.#holdTarget) for (const r of this.#held.splice(0).reverse()) r();
    return () => {
      const at = this.#held.indexOf(release);
      if (at !== -1) this.#held.splice(at, 1);
    };
  }

  get holding(): number {
    return this.#held.length;
  }
}

/** Resolves when `signal` aborts, rejecting with its reason; or after `ms` with a timeout error. */
function abortOrTimeout(signal: AbortSignal, ms: number, what: string): { promise: Promise<never>; clear(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RpcError(Code.DEADLINE_EXCEEDED, `${what}: still waiting after ${ms} ms`)), ms);
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  return {
    promise,
    clear: () => {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener("abort", onAbort);
    },
  };
}

export const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

export class Probe {
  readonly #state: ProbeState;

  constructor(state: ProbeState) {
    this.#state = state;
  }

  Echo(x: unknown): unknown {
    return x;
  }

  /** Returns once the test opens gate `key`; its signal's abort is recorded and ends the call. */
  async Wait(req: { key: string }, ctx: CallContext): Promise<{ key: string; done: true }> {
    const gate = this.#state.gate(req.key);
    gate.started = true;
    ctx.signal.addEventListener("abort", () => this.#state.aborted.set(req.key, ctx.signal.reason), { once: true });
    const stop = abortOrTimeout(ctx.signal, HELD_MS, `Wait ${req.key}`);
    try {
      await Promise.race([gate.opened, stop.promise]);
    } finally {
      stop.clear();
    }
    return { key: req.key, done: true };
  }

  /** Answers once ProbeState.expectHolds(n) calls are all running, newest first. */
  async Hold(x: unknown, ctx: CallContext): Promise<unknown> {
    const stop = abortOrTimeout(ctx.signal, HELD_MS, `Hold (${this.#state.holding} held)`);
    let forget: (() => void) | undefined;
    try {
      await Promise.race([new Promise<void>((resolve) => (forget = this.#state.hold(resolve))), stop.promise]);
    } finally {
      stop.clear();
      forget?.();
    }
    return x;
  }

  /** Server stream: 0, 1, ..., n-1. */
  async *Range(req: { n: number }): AsyncGenerator<number> {
    for (let i = 0; i < req.n; i++) yield i;
  }

  /** Client stream: the sum of the numbers sent, and how many there were. */
  async Sum(numbers: AsyncIterable<number>): Promise<{ total: number; count: number }> {
    let total = 0;
    let count = 0;
    for await (const n of numbers) {
      total += n;
      count++;
    }
    return { total, count };
  }

  /** Bidi: each request back as it arrives. */
  async *Echoes(requests: AsyncIterable<unknown>): AsyncGenerator<unknown> {
    for await (const r of requests) yield r;
  }

  /** Server stream: 0..n-1, then a FAILED_PRECONDITION status. */
  async *FailAfter(req: { n: number }): AsyncGenerator<number> {
    for (let i = 0; i < req.n; i++) yield i;
    throw new RpcError(Code.FAILED_PRECONDITION, `stopped after ${req.n}`);
  }

  /** Server stream that goes on until the caller goes away; records why its signal aborted. */
  async *Endless(req: { key: string }, ctx: CallContext): AsyncGenerator<number> {
    this.#state.gate(req.key).started = true;
    ctx.signal.addEventListener("abort", () => this.#state.aborted.set(req.key, ctx.signal.reason), { once: true });
    for (let i = 0; i < ENDLESS_MAX && !ctx.signal.aborted; i++) yield i;
  }

  /** Server stream of n messages of `size` bytes, as fast as it is let; counts[key] is how many it made. */
  async *Flood(req: { key: string; n: number; size: number }): AsyncGenerator<{ i: number; text: string }> {
    const text = "f".repeat(req.size);
    for (let i = 0; i < req.n; i++) {
      this.#state.counts.set(req.key, i + 1);
      yield { i, text };
    }
  }

  /** Client stream read slowly; counts[key] is how many it has taken. */
  async Drain(requests: AsyncIterable<{ key: string }>): Promise<{ n: number }> {
    let n = 0;
    for await (const r of requests) {
      this.#state.counts.set(r.key, ++n);
      await turns(3);
    }
    return { n };
  }
}

/** Probe's stream kinds that its code cannot show (async * methods are server streams). */
export const PROBE_STREAMS = { streams: { Sum: "client", Echoes: "bidi", Drain: "client" } } as const;
