// The retry interceptor on real sockets: attempts counted by the server, A6's backoff bounds and
// token bucket, and the calls it must never retry (other methods and codes, streams, a passed
// deadline, an aborted caller).
import t from "tap";
import { retry, RetryBudget, RpcError, Code, MAX_RETRY_ATTEMPTS, protobuf, type CallContext, type Interceptor, type Metadata } from "../../index.js";
import { bounded, connect, rejection, startServer, waitFor } from "../helpers/net.js";
import { ECHO, echoRoot, grpc, grpcJsServer, type Msg } from "../helpers/grpcjs.js";

interface Req {
  key: string;
  /** Attempts of this key that fail before one succeeds. */
  fail?: number;
  code?: Code;
}

/** Counts attempts per key, so every test reads its own. */
class Flaky {
  readonly seen = new Map<string, number>();

  #count(key: string): number {
    const n = (this.seen.get(key) ?? 0) + 1;
    this.seen.set(key, n);
    return n;
  }

  attempts(key: string): number {
    return this.seen.get(key) ?? 0;
  }

  Get(req: Req): { attempt: number } {
    const n = this.#count(req.key);
    if (n <= (req.fail ?? Infinity)) throw new RpcError(req.code ?? Code.UNAVAILABLE, `flaky ${n}`);
    return { attempt: n };
  }

  /** Like Get, under a name no retry policy lists. */
  Other(req: Req): { attempt: number } {
    return this.Get(req);
  }

  /** Waits until the caller gives up (10 s at most). */
  async Hang(req: Req, ctx: CallContext): Promise<string> {
    this.#count(req.key);
    await bounded(new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true })), 10_000, "Hang's signal");
    return "too late";
  }

  async *Watch(req: Req): AsyncGenerator<number> {
    this.#count(req.key);
    throw new RpcError(Code.UNAVAILABLE, "flaky stream");
  }
}

/** An outermost interceptor that shows when the rest of the chain (the retries) has settled. */
function observer(): { interceptor: Interceptor; settled: () => Promise<unknown> } {
  let last: Promise<unknown> | undefined;
  return {
    interceptor: (next) => (req, ctx) => {
      const p = next(req, ctx);
      last = p.then(() => "resolved", (err: unknown) => err);
      return p;
    },
    settled: () => bounded(last ?? Promise.reject(new Error("no call seen")), 10_000, "the retrying interceptor"),
  };
}

const FAST = { initialBackoff: 1, maxBackoff: 5 };
// A wait bound far beyond any deadline or test: the random delay is below a few seconds with odds of about 1 in a million.
const FOREVER = { initialBackoff: 2_000_000_000, maxBackoff: 2_000_000_000 };

t.test("a method that fails twice with UNAVAILABLE succeeds on the third attempt", async (t) => {
  const flaky = new Flaky();
  const { url } = await startServer(t, { services: [flaky] });
  let sent = 0;
  const counter: Interceptor = (next) => (req, ctx) => {
    sent++;
    return next(req, ctx);
  };
  const c = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get"], ...FAST }), counter] });
  t.strictSame(await c.call("Flaky.Get", { key: "a", fail: 2 }), { attempt: 3 });
  t.equal(flaky.attempts("a"), 3, "the server saw three attempts");
  t.equal(sent, 3, "every attempt runs the interceptors after retry()");
  t.equal(c.pending, 0);
});

t.test("without the interceptor nothing is retried", async (t) => {
  const flaky = new Flaky();
  const { url } = await startServer(t, { services: [flaky] });
  const c = await connect(t, url);
  const err = await rejection(c.call("Flaky.Get", { key: "a", fail: 2 }));
  t.match(err, { code: Code.UNAVAILABLE, message: "flaky 1" });
  t.equal(flaky.attempts("a"), 1);
});

t.test("attempts stop at maxAttempts, at most 5, and the error says how many were made", async (t) => {
  const flaky = new Flaky();
  const { url } = await startServer(t, { services: [flaky] });
  const three = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get"], ...FAST })] });
  const err = await rejection(three.call("Flaky.Get", { key: "a" }));
  t.ok(err instanceof RpcError);
  t.match(err, { code: Code.UNAVAILABLE, message: "flaky 3 (after 3 attempts)", fromPeer: true }, "the default is 3 attempts");
  t.equal(err.cause?.message, "flaky 3", "the last attempt's error is the cause");
  t.equal(flaky.attempts("a"), 3);

  const many = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get"], maxAttempts: 10, ...FAST })] });
  t.match(await rejection(many.call("Flaky.Get", { key: "b" })), { message: "flaky 5 (after 5 attempts)" });
  t.equal(flaky.attempts("b"), MAX_RETRY_ATTEMPTS, "maxAttempts above 5 counts as 5");

  const once = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get"], maxAttempts: 1 })] });
  t.match(await rejection(once.call("Flaky.Get", { key: "c" })), { message: "flaky 1" });
  t.equal(flaky.attempts("c"), 1);
});

t.test("a code not in retryableCodes is not retried; the listed ones are", async (t) => {
  const flaky = new Flaky();
  const { url } = await startServer(t, { services: [flaky] });
  const c = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get"], ...FAST })] });
  const err = await rejection(c.call("Flaky.Get", { key: "a", fail: 2, code: Code.INTERNAL }));
  t.match(err, { code: Code.INTERNAL, message: "flaky 1" }, "the error is passed on unchanged");
  t.equal(flaky.attempts("a"), 1);
  t.match(await rejection(c.call("Flaky.Get", { key: "b", fail: 2, code: Code.NOT_FOUND })), { code: Code.NOT_FOUND });
  t.equal(flaky.attempts("b"), 1);

  const aborted = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get"], retryableCodes: [Code.UNAVAILABLE, Code.ABORTED], ...FAST })] });
  t.strictSame(await aborted.call("Flaky.Get", { key: "c", fail: 2, code: Code.ABORTED }), { attempt: 3 });
  t.match(await rejection(aborted.call("Flaky.Get", { key: "d", fail: 1, code: Code.INTERNAL })), { code: Code.INTERNAL });
  t.equal(flaky.attempts("d"), 1, "the default code is replaced, not added to");
});

t.test("methods not listed (or refused by the predicate) are not retried", async (t) => {
  const flaky = new Flaky();
  const { url } = await startServer(t, { services: [flaky] });
  const listed = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get"], ...FAST })] });
  t.match(await rejection(listed.call("Flaky.Other", { key: "a", fail: 2 })), { code: Code.UNAVAILABLE, message: "flaky 1" });
  t.equal(flaky.attempts("a"), 1);

  const byName = await connect(t, url, { interceptors: [retry({ methods: (m) => m.startsWith("Flaky.G"), ...FAST })] });
  t.strictSame(await byName.call("Flaky.Get", { key: "b", fail: 1 }), { attempt: 2 });
  t.match(await rejection(byName.call("Flaky.Other", { key: "c", fail: 1 })), { message: "flaky 1" });
  t.equal(flaky.attempts("c"), 1);
});

t.test("streaming calls are never retried", async (t) => {
  const flaky = new Flaky();
  const { url } = await startServer(t, { services: [flaky] });
  const c = await connect(t, url, { interceptors: [retry({ methods: () => true, ...FAST })] });
  const err = await rejection(
    (async () => {
      for await (const _ of c.serverStream("Flaky.Watch", { key: "a" })) void _;
    })(),
  );
  t.match(err, { code: Code.UNAVAILABLE, message: "flaky stream" });
  t.equal(flaky.attempts("a"), 1);
});

t.test("the budget (A6 throttling) stops retries once half the tokens are gone, and successes refill it", async (t) => {
  const flaky = new Flaky();
  const { url } = await startServer(t, { services: [flaky] });
  const budget = new RetryBudget({ maxTokens: 4, tokenRatio: 0.1 });
  const c = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get", "Flaky.Other"], maxAttempts: 5, ...FAST, budget })] });

  // 4 tokens: the first failure leaves 3 (> 2, retry), the second 2 (not > 2, throttled).
  t.match(await rejection(c.call("Flaky.Get", { key: "a" })), { code: Code.UNAVAILABLE, message: "flaky 2 (after 2 attempts; retries throttled by the retry budget)" });
  t.equal(flaky.attempts("a"), 2);
  t.equal(budget.tokens, 2);
  t.match(await rejection(c.call("Flaky.Get", { key: "b" })), { message: "flaky 1 (after 1 attempt; retries throttled by the retry budget)" });
  t.equal(flaky.attempts("b"), 1, "a drained bucket allows no retry at all");
  t.equal(budget.tokens, 1);
  t.notOk(budget.allowsRetry);
  t.match(await rejection(c.call("Flaky.Get", { key: "c", code: Code.NOT_FOUND })), { message: "flaky 1" });
  t.equal(budget.tokens, 1, "a code that is not retryable costs nothing");

  // Successes on any method of the policy give back 0.1 each, up to maxTokens.
  for (let i = 0; i < 35; i++) await c.call("Flaky.Other", { key: `ok${i}`, fail: 0 });
  t.equal(budget.tokens, 4, "exact sums, capped at maxTokens");
  t.strictSame(await c.call("Flaky.Get", { key: "d", fail: 1 }), { attempt: 2 }, "retries are allowed again");
  t.equal(budget.tokens, 3.1);

  // One budget shared by two clients throttles them together.
  const shared = new RetryBudget({ maxTokens: 2 });
  const one = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get"], ...FAST, budget: shared })] });
  const two = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get"], ...FAST, budget: shared })] });
  await rejection(one.call("Flaky.Get", { key: "e" }));
  t.equal(flaky.attempts("e"), 1, "2 tokens: one failure leaves 1, not more than half");
  await rejection(two.call("Flaky.Get", { key: "f" }));
  t.equal(flaky.attempts("f"), 1);

  const unthrottled = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get"], maxAttempts: 5, ...FAST, budget: false })] });
  for (const key of ["g", "h", "i"]) await rejection(unthrottled.call("Flaky.Get", { key }));
  t.strictSame(["g", "h", "i"].map((k) => flaky.attempts(k)), [5, 5, 5], "budget: false never throttles");
});

t.test("a deadline shorter than the wait before the next attempt ends with DEADLINE_EXCEEDED at once", async (t) => {
  const flaky = new Flaky();
  const { url } = await startServer(t, { services: [flaky] });
  const seen = observer();
  const c = await connect(t, url, { interceptors: [seen.interceptor, retry({ methods: ["Flaky.Get"], ...FOREVER })] });
  const err = await rejection(c.call("Flaky.Get", { key: "a", fail: 1 }, { timeout: 5_000 }));
  t.equal(err.code, Code.DEADLINE_EXCEEDED);
  t.match(err.message, /^rpc: Flaky\.Get: deadline exceeded: \d+ ms left, less than the \d+ ms wait before attempt 2 \(after 1 attempt; the last failed with UNAVAILABLE: flaky 1\)$/);
  t.equal(flaky.attempts("a"), 1, "no attempt that could not finish in time");
  t.equal(await seen.settled(), err, "the caller got the retry's own error, not a timer's");
});

t.test("a call whose deadline passed is not retried, even when DEADLINE_EXCEEDED is retryable", async (t) => {
  const flaky = new Flaky();
  const { url } = await startServer(t, { services: [flaky] });
  const seen = observer();
  const c = await connect(t, url, { interceptors: [seen.interceptor, retry({ methods: ["Flaky.Hang"], retryableCodes: [Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED], ...FAST })] });
  const err = await rejection(c.call("Flaky.Hang", { key: "a" }, { timeout: 100 }));
  t.equal(err.code, Code.DEADLINE_EXCEEDED);
  const inner = await seen.settled();
  t.match(inner, { code: Code.DEADLINE_EXCEEDED }, "the retries ended with the deadline");
  t.equal(flaky.attempts("a"), 1);
});

t.test("aborting stops retrying: during the wait and during an attempt", async (t) => {
  const flaky = new Flaky();
  const { url } = await startServer(t, { services: [flaky] });
  const seen = observer();
  const c = await connect(t, url, { interceptors: [seen.interceptor, retry({ methods: ["Flaky.Get", "Flaky.Hang"], retryableCodes: [Code.UNAVAILABLE, Code.CANCELLED], ...FOREVER })] });

  const waiting = new AbortController();
  const call = c.call("Flaky.Get", { key: "a" }, { signal: waiting.signal });
  await waitFor(() => flaky.attempts("a") === 1, "first attempt");
  waiting.abort();
  t.match(await rejection(call), { code: Code.CANCELLED });
  t.match(await seen.settled(), { code: Code.CANCELLED }, "the wait ended with the abort");
  t.equal(flaky.attempts("a"), 1);

  const inFlight = new AbortController();
  const hang = c.call("Flaky.Hang", { key: "b" }, { signal: inFlight.signal });
  await waitFor(() => flaky.attempts("b") === 1, "the attempt reaches the server");
  inFlight.abort();
  t.match(await rejection(hang), { code: Code.CANCELLED });
  t.match(await seen.settled(), { code: Code.CANCELLED }, "CANCELLED is retryable here, yet the caller's abort is final");
  t.equal(flaky.attempts("b"), 1);

  const before = new AbortController();
  before.abort();
  t.match(await rejection(c.call("Flaky.Get", { key: "c" }, { signal: before.signal })), { code: Code.CANCELLED });
  t.equal(flaky.attempts("c"), 0);
  t.equal(c.pending, 0);
});

t.test("each attempt starts from the caller's metadata", async (t) => {
  const flaky = new Flaky();
  const { url } = await startServer(t, { services: [flaky] });
  const sent: Metadata[] = [];
  const stamp: Interceptor = (next) => (req, ctx) => {
    ctx.metadata.stamp = [...((ctx.metadata.stamp as string[] | undefined) ?? []), "x"];
    sent.push({ ...ctx.metadata });
    return next(req, ctx);
  };
  const c = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get"], ...FAST }), stamp] });
  await c.call("Flaky.Get", { key: "a", fail: 2 }, { metadata: { tenant: "acme" } });
  t.strictSame(sent, [1, 2, 3].map(() => ({ tenant: "acme", stamp: ["x"] })));
});

t.test("over gRPC: retried, and the caller's onTrailer sees the last attempt only", async (t) => {
  const flaky = new Flaky();
  const { url } = await startServer(t, { services: [flaky], address: "grpc://127.0.0.1:0" });
  const c = await connect(t, url, { interceptors: [retry({ methods: ["Flaky.Get"], ...FAST })] });
  let trailers = 0;
  let headers = 0;
  const result = await c.call("Flaky.Get", { key: "a", fail: 2 }, { onTrailer: () => trailers++, onHeader: () => headers++ });
  t.strictSame(result, { attempt: 3 });
  t.equal(flaky.attempts("a"), 3);
  t.equal(trailers, 1);
  t.equal(headers, 1, "failed attempts sent no headers (trailers-only)");

  trailers = 0;
  t.match(await rejection(c.call("Flaky.Get", { key: "b" }, { onTrailer: () => trailers++ })), { message: "flaky 3 (after 3 attempts)" });
  t.equal(trailers, 1);
});

t.test("over gRPC: a call whose response headers arrived is committed and not retried (A6)", async (t) => {
  // Our server folds headers into a failed unary call's only HEADERS frame; grpc-js sends them first when asked.
  let attempts = 0;
  const { url } = await grpcJsServer(t, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) {
      attempts++;
      if (call.request.text === "headers") call.sendMetadata(new grpc.Metadata());
      callback({ code: grpc.status.UNAVAILABLE, details: `down ${attempts}` } as grpc.ServiceError);
    },
  });
  const c = await connect(t, url, { codec: protobuf({ root: echoRoot() }), interceptors: [retry({ methods: [`${ECHO}.Unary`], ...FAST })] });
  let headers = 0;
  t.match(await rejection(c.call(`${ECHO}.Unary`, { text: "headers" }, { onHeader: () => headers++ })), { code: Code.UNAVAILABLE, message: "down 1" });
  t.equal(attempts, 1, "committed: no retry");
  t.equal(headers, 1, "the caller still sees the headers");
  t.match(await rejection(c.call(`${ECHO}.Unary`, { text: "trailers only" })), { code: Code.UNAVAILABLE, message: "down 4 (after 3 attempts)" });
  t.equal(attempts, 4, "a trailers-only failure is retried");
});

t.test("options are checked when the interceptor is made", async (t) => {
  t.throws(() => retry({} as never), TypeError);
  t.throws(() => retry({ methods: "Flaky.Get" } as never), TypeError);
  t.throws(() => retry({ methods: ["a.b"], maxAttempts: 0 }), RangeError);
  t.throws(() => retry({ methods: ["a.b"], maxAttempts: 2.5 }), RangeError);
  t.throws(() => retry({ methods: ["a.b"], initialBackoff: 0 }), RangeError);
  t.throws(() => retry({ methods: ["a.b"], maxBackoff: -1 }), RangeError);
  t.throws(() => retry({ methods: ["a.b"], backoffMultiplier: 0 }), RangeError);
  t.throws(() => retry({ methods: ["a.b"], retryableCodes: [] }), RangeError);
  t.throws(() => retry({ methods: ["a.b"], retryableCodes: [Code.OK] }), RangeError);
  t.throws(() => retry({ methods: ["a.b"], retryableCodes: [99 as Code] }), RangeError);
  t.throws(() => new RetryBudget({ maxTokens: 0 }), RangeError);
  t.throws(() => new RetryBudget({ maxTokens: 1001 }), RangeError);
  t.throws(() => new RetryBudget({ tokenRatio: 0.0001 }), RangeError);
  t.equal(new RetryBudget().tokens, 10, "starts full: 10 tokens by default");
});
