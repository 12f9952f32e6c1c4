// Retries of idempotent unary calls, after gRPC's retry design (gRFC A6): capped exponential
// backoff with full jitter, and a token bucket that stops retrying while too many calls fail.
import { Code, codeName, isCode } from "./codes.js";
import { RpcError } from "./errors.js";
import { CallContext } from "./context.js";
import type { Interceptor, Next, RpcRequest } from "./interceptor.js";
import type { Metadata } from "./metadata.js";
import { MAX_TIMER_MS } from "./options.js";

/** gRPC treats a larger maxAttempts as 5, so a misconfigured policy cannot multiply load further. */
export const MAX_RETRY_ATTEMPTS = 5;

export interface RetryBudgetOptions {
  /** Size of the bucket, more than 0 and at most 1000; default 10. */
  maxTokens?: number;
  /** Tokens a successful call puts back, at least 0.001 (three decimals count); default 0.1. */
  tokenRatio?: number;
}

/**
 * A6's retry throttle: a bucket of `maxTokens` that starts full. Each call that fails with a
 * retryable code takes one token, each success returns `tokenRatio`, and retries are allowed only
 * while more than half the bucket is left. Share one budget between interceptors (or clients) to
 * throttle them together, as gRPC does per server name.
 */
export class RetryBudget {
  readonly maxTokens: number;
  readonly tokenRatio: number;
  // Thousandths of a token: A6 gives tokenRatio three decimals, so the sums stay exact.
  readonly #max: number;
  readonly #ratio: number;
  #milli: number;

  constructor(options: RetryBudgetOptions = {}) {
    const maxTokens = options.maxTokens ?? 10;
    const tokenRatio = options.tokenRatio ?? 0.1;
    if (typeof maxTokens !== "number" || !(maxTokens > 0 && maxTokens <= 1000)) {
      throw new RangeError(`rpc: option maxTokens must be a number above 0 and at most 1000, got ${String(maxTokens)}`);
    }
    if (typeof tokenRatio !== "number" || !Number.isFinite(tokenRatio) || Math.round(tokenRatio * 1000) < 1) {
      throw new RangeError(`rpc: option tokenRatio must be a number of at least 0.001, got ${String(tokenRatio)}`);
    }
    this.maxTokens = maxTokens;
    this.tokenRatio = tokenRatio;
    this.#max = Math.round(maxTokens * 1000);
    this.#ratio = Math.round(tokenRatio * 1000);
    this.#milli = this.#max;
  }

  /** Tokens left. */
  get tokens(): number {
    return this.#milli / 1000;
  }

  /** True while more than half the bucket is left. */
  get allowsRetry(): boolean {
    return this.#milli * 2 > this.#max;
  }

  /** A call failed with a retryable code: one token less. */
  recordFailure(): void {
    this.#milli = Math.max(0, this.#milli - 1000);
  }

  /** A call succeeded: tokenRatio back, up to maxTokens. */
  recordSuccess(): void {
    this.#milli = Math.min(this.#max, this.#milli + this.#ratio);
  }
}

export interface RetryOptions {
  /**
   * The methods safe to call more than once ("UserServer.GetUser"), or a predicate on the method
   * name. Required: retrying a method that is not idempotent can apply it twice.
   */
  methods: readonly string[] | ((method: string) => boolean);
  /** Attempts in all, the first included; default 3. Values above 5 count as 5. */
  maxAttempts?: number;
  /** Upper bound of the first retry's random delay, in ms; default 100. */
  initialBackoff?: number;
  /** Largest bound of any retry's random delay, in ms; default 1000. */
  maxBackoff?: number;
  /** Growth of the bound per retry; default 2. */
  backoffMultiplier?: number;
  /** Codes worth another attempt; default [Code.UNAVAILABLE]. */
  retryableCodes?: readonly Code[];
  /**
   * The retry throttle: a RetryBudget (to share one), its options, or false for none. Default:
   * a budget of its own with 10 tokens and a ratio of 0.1.
   */
  budget?: RetryBudget | RetryBudgetOptions | false;
}

interface Policy {
  matches(method: string): boolean;
  maxAttempts: number;
  initialBackoff: number;
  maxBackoff: number;
  multiplier: number;
  codes: ReadonlySet<Code>;
  budget: RetryBudget | undefined;
}

function backoffOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0 && value <= MAX_TIMER_MS)) {
    throw new RangeError(`rpc: option ${name} must be a number of ms above 0 and at most ${MAX_TIMER_MS}, got ${String(value)}`);
  }
  return value;
}

function policyOf(options: RetryOptions): Policy {
  const { methods } = options ?? {};
  let matches: (method: string) => boolean;
  if (typeof methods === "function") matches = (m) => methods(m) === true;
  else if (Array.isArray(methods) && methods.every((m) => typeof m === "string")) {
    const set = new Set<string>(methods);
    matches = (m) => set.has(m);
  } else throw new TypeError("rpc: option methods must be an array of method names or a predicate");
  const attempts = options.maxAttempts ?? 3;
  if (typeof attempts !== "number" || !Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(`rpc: option maxAttempts must be an integer of at least 1, got ${String(attempts)}`);
  }
  const multiplier = options.backoffMultiplier ?? 2;
  if (typeof multiplier !== "number" || !(multiplier > 0 && Number.isFinite(multiplier))) {
    throw new RangeError(`rpc: option backoffMultiplier must be a finite number above 0, got ${String(multiplier)}`);
  }
  const codes = options.retryableCodes ?? [Code.UNAVAILABLE];
  if (!Array.isArray(codes) || codes.length === 0 || !codes.every((c) => isCode(c) && c !== Code.OK)) {
    throw new RangeError("rpc: option retryableCodes must be a non-empty array of error codes (Code.UNAVAILABLE, ...)");
  }
  const budget = options.budget;
  return {
    matches,
    maxAttempts: Math.min(attempts, MAX_RETRY_ATTEMPTS),
    initialBackoff: backoffOption("initialBackoff", options.initialBackoff, 100),
    maxBackoff: backoffOption("maxBackoff", options.maxBackoff, 1000),
    multiplier,
    codes: new Set(codes),
    budget: budget === false ? undefined : budget instanceof RetryBudget ? budget : new RetryBudget(budget),
  };
}

/**
 * A client interceptor that retries unary calls to `methods` failing with a retryable code.
 * Install it first (outermost) so that every attempt runs the interceptors after it. Streaming
 * calls, other methods, calls whose deadline has passed or whose caller aborted, and calls whose
 * response headers arrived (gRPC) are never retried; an error after more than one attempt says
 * how many were made.
 */
export function retry(options: RetryOptions): Interceptor {
  const policy = policyOf(options);
  return (next) => (req, ctx) => {
    if ((req.kind ?? "unary") !== "unary" || !policy.matches(req.method)) return next(req, ctx);
    return attempt(policy, next, req, ctx);
  };
}

async function attempt(policy: Policy, next: Next, req: RpcRequest, ctx: CallContext): Promise<unknown> {
  const { budget } = policy;
  // Every attempt starts from the caller's metadata, whatever later interceptors add to it.
  const metadata = copy(ctx.metadata);
  const hooks = ctx._client;
  // Each attempt gets a context of its own: a lost connection aborts that attempt only, while the
  // caller's abort or deadline (on ctx) ends the attempt in flight and the whole call.
  let current: CallContext | undefined;
  let wake: (() => void) | undefined;
  if (ctx._cancellable) {
    ctx._onAbort((reason) => {
      current?._abort(reason);
      wake?.();
    });
  }
  if (ctx.aborted) throw RpcError.from(ctx.signal.reason, Code.CANCELLED);
  for (let n = 1; ; n++) {
    let committed = false;
    let trailer: Metadata | undefined;
    const actx = new CallContext(ctx.method, copy(metadata), ctx.deadline, ctx.peer);
    actx._cancellable = ctx._cancellable;
    actx._client = {
      compress: hooks?.compress,
      // gRPC: response headers commit the call (A6); its trailers reach the caller once, for the last attempt.
      onHeader: (md) => {
        committed = true;
        hooks?.onHeader?.(md);
      },
      onTrailer: hooks?.onTrailer && ((md) => (trailer = md)),
    };
    current = actx;
    const deliverTrailer = () => {
      if (trailer === undefined || !hooks?.onTrailer) return;
      try {
        hooks.onTrailer(trailer);
      } catch {
        // A hook the caller gave must not change the call's outcome.
      }
    };
    try {
      const result = await next({ method: req.method, params: req.params }, actx);
      budget?.recordSuccess();
      deliverTrailer();
      return result;
    } catch (err) {
      const error = RpcError.from(err);
      const retryable = policy.codes.has(error.code);
      if (retryable) budget?.recordFailure();
      const stop = (note?: string): never => {
        deliverTrailer();
        throw n === 1 && note === undefined ? error : tagged(error, n, note);
      };
      if (!retryable || committed || ctx.aborted) stop();
      if (n >= policy.maxAttempts) stop();
      if (budget && !budget.allowsRetry) stop("retries throttled by the retry budget");
      const left = ctx.timeRemaining();
      if (left === 0) stop();
      // A6: the n-th retry waits a random time below min(initialBackoff * multiplier^(n-1), maxBackoff).
      const bound = Math.min(policy.initialBackoff * policy.multiplier ** (n - 1), policy.maxBackoff);
      const delay = Math.random() * bound;
      if (delay >= left) {
        // The deadline would pass while waiting: fail now rather than sleep through it.
        deliverTrailer();
        throw new RpcError(Code.DEADLINE_EXCEEDED, `rpc: ${req.method}: deadline exceeded: ${Math.round(left)} ms left, less than the ${Math.round(delay)} ms wait before attempt ${n + 1} (after ${plural(n)}; the last failed with ${codeName(error.code)}: ${error.message})`, { cause: error });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wake = undefined;
          resolve();
        }, delay);
        wake = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
      });
      if (ctx.aborted) throw RpcError.from(ctx.signal.reason, Code.CANCELLED);
    }
  }
}

function copy(md: Metadata): Metadata {
  const out = Object.create(null) as Metadata;
  for (const [key, value] of Object.entries(md)) out[key] = Array.isArray(value) ? value.slice() : value;
  return out;
}

function plural(n: number): string {
  return n === 1 ? "1 attempt" : `${n} attempts`;
}

/** The error of the last attempt, saying how many were made (and why no more). */
function tagged(error: RpcError, attempts: number, note: string | undefined): RpcError {
  const message = `${error.message} (after ${plural(attempts)}${note ? `; ${note}` : ""})`;
  return new RpcError(error.code, message, { cause: error, fromPeer: error.fromPeer, metadata: error.metadata });
}
